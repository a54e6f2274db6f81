"""The failed-job list: failure groups as options of a list box (pure functions).

The list starts with the run-wide thread, then one line per failure signature (count,
category, summary) followed by its jobs. Values say what a line opens: ``"run"``,
``"group:<signature>"`` (the group's first job) or ``"job:<job id>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .messages import field

RUN_THREAD = "run"
RUN_LABEL = "◆ the whole run (free chat)"
_MAX_SUMMARY = 70


def _short(text: str, limit: int = _MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_options(
    groups: Sequence[Any], diagnoses: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for the list box, biggest group first."""
    options = [(RUN_LABEL, RUN_THREAD)]
    for group in groups:
        count = int(field(group, "count", 0))
        category = str(field(group, "category", "unknown"))
        summary = _short(str(field(group, "summary", "") or field(group, "signature", "")))
        options.append((f"{count} × {category} · {summary}", f"group:{field(group, 'signature')}"))
        for job_id in field(group, "job_ids", ()) or ():
            diagnosis = (diagnoses or {}).get(job_id)
            name = getattr(diagnosis, "job_name", None)
            suffix = f" ({name})" if name else ""
            options.append((f"    job {job_id}{suffix}", f"job:{job_id}"))
    return options


def thread_for(value: str | None, groups: Sequence[Any]) -> str | None:
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
            if str(field(group, "signature")) == rest:
                job_ids = field(group, "job_ids", ()) or ()
                return str(job_ids[0]) if job_ids else None
    return None


def fingerprint(groups: Sequence[Any]) -> tuple[tuple[str, int, tuple[str, ...]], ...]:
    """What decides whether the list must be redrawn."""
    return tuple(
        (
            str(field(g, "signature")),
            int(field(g, "count", 0)),
            tuple(str(j) for j in field(g, "job_ids", ()) or ()),
        )
        for g in groups
    )
