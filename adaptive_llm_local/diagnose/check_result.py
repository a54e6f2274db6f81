"""The result of one machine check, and running a check within a time bound.

Kept apart from :mod:`.checks` (which re-exports :class:`CheckResult`) so the modules of
the individual checks can use it without importing their own dispatcher.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

Status = Literal["ok", "problem", "skipped"]
T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    """What one check found, as one sentence a user can read.

    Attributes
    ----------
    name
        The check, e.g. ``path_exists``, ``module_findable``, ``filesystem_writable``.
    status
        ``ok`` (nothing wrong found), ``problem`` (it confirms the failure's cause) or
        ``skipped`` (could not run; ``text`` says why).
    text
        One sentence stating the result, e.g. ``/data/run1 does not exist now.``
    detail
        Machine-readable values (paths, versions, owners) the sentence is built from.
    """

    name: str
    status: Status
    text: str
    detail: dict[str, str] = field(default_factory=dict)


def skipped(name: str, why: str, **detail: str) -> CheckResult:
    return CheckResult(name, "skipped", why, dict(detail))


class CheckTimeout(Exception):
    """A check did not finish within its time."""


def bounded(work: Callable[[], T], timeout: float) -> T:
    """Run ``work`` in a daemon thread and wait at most ``timeout`` seconds for it.

    File system calls on a hung network mount cannot be interrupted; the thread is left
    behind (it ends when the call returns) and the check is reported as skipped.

    Raises
    ------
    CheckTimeout
        When ``work`` did not finish in time.
    """
    values: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(work())
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="adaptive-llm-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise CheckTimeout(f"did not finish within {timeout:g} s")
    if errors:
        raise errors[0]
    return values[0]
