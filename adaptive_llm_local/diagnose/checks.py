"""Read-only checks on this machine of what a failed job's log points at.

Each check is bounded in time, never writes, and is skipped with a note when it cannot
run (no such tool, no permission, another machine's path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..triage import TriageResult
from ..triage.facts import Facts

Status = Literal["ok", "problem", "skipped"]


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


def run_checks(
    result: TriageResult, facts: Facts, *, timeout: float = 5.0
) -> Sequence[CheckResult]:
    """The checks that apply to this failure (to be filled in: issue 9)."""
    return ()
