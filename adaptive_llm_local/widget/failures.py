"""The failed-job list: failure groups as options of a list box (pure functions).

The list starts with the run-wide thread, then one line per failure signature (count,
category, summary) followed by its jobs. Values say what a line opens: ``"run"``,
``"group:<signature>"`` (the group's first job) or ``"job:<job id>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..diagnose import Diagnosis
    from ..manager.chat_api import FailureGroup

RUN_THREAD = "run"
RUN_LABEL = "◆ the whole run (free chat)"
_MAX_SUMMARY = 70
Fingerprint = tuple[tuple[str, int, tuple[str, ...]], ...]


def _short(text: str, limit: int = _MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_options(
    groups: Sequence[FailureGroup], diagnoses: Mapping[str, Diagnosis] | None = None
) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for the list box, biggest group first."""
    options = [(RUN_LABEL, RUN_THREAD)]
    for group in groups:
        summary = _short(group.summary or group.signature)
        options.append(
            (f"{group.count} × {group.category} · {summary}", f"group:{group.signature}")
        )
        for job_id in group.job_ids:
            diagnosis = (diagnoses or {}).get(job_id)
            name = diagnosis.job_name if diagnosis is not None else None
            suffix = f" ({name})" if name else ""
            options.append((f"    job {job_id}{suffix}", f"job:{job_id}"))
    return options


def thread_for(value: str | None, groups: Sequence[FailureGroup]) -> str | None:
    """The thread a list value opens (a group opens its first job), or ``None``."""
    if not value:
        return None
    if value == RUN_THREAD:
        return RUN_THREAD
    kind, _, rest = value.partition(":")
    if kind == "job":
        return rest
    if kind == "group":
        for group in groups:
            if str(group.signature) == rest:
                return str(group.job_ids[0]) if group.job_ids else None
    return None


def fingerprint(groups: Sequence[FailureGroup]) -> Fingerprint:
    """What decides whether the list must be redrawn."""
    return tuple((str(g.signature), int(g.count), tuple(str(j) for j in g.job_ids)) for g in groups)
