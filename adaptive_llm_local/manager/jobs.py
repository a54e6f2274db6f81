"""Failed jobs as the manager sees them: copied entries, their logs, and groups (pure helpers).

Nothing here touches the event loop or the model: reading ``database_manager.failed``
entries, finding their log files (moved or guessed), choosing the most telling triage,
and grouping diagnoses by failure signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..diagnose import Diagnosis
from ..triage import TriageResult
from ..triage.facts import extract_facts

LOGS_MISSING_SIGNATURE = "logs-missing"
_SEVERITY = {"none": 0, "unknown": 1}


@dataclass(frozen=True)
class FailedJob:
    """One entry of ``database_manager.failed``, copied (the original is never mutated)."""

    key: str
    job_id: str | None
    job_name: str | None
    log_fname: str | None
    output_logs: tuple[str, ...]
    fname: str
    seen_at: float = field(default_factory=time.time)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], ordinal: int) -> FailedJob:
        """The job of one entry; ``ordinal`` counts the entries without a job id before it
        (use :func:`failed_jobs`, which counts them)."""
        job_id = entry.get("job_id")
        job_name = entry.get("job_name")
        key = str(job_id) if job_id is not None else f"{job_name}#never-started-{ordinal}"
        fname = entry.get("fname")
        return cls(
            key=key,
            job_id=str(job_id) if job_id is not None else None,
            job_name=job_name,
            log_fname=entry.get("log_fname"),
            output_logs=tuple(str(p) for p in entry.get("output_logs") or ()),
            fname=str(fname) if not isinstance(fname, list) else ",".join(map(str, fname)),
        )


def failed_jobs(entries: Sequence[Mapping[str, Any]], start: int = 0) -> Iterator[FailedJob]:
    """The entries of ``database_manager.failed`` from index ``start`` on, as jobs.

    The one place a job's key is made: its job id, or for a job that never started (no id)
    ``<job_name>#never-started-<k>``, ``k`` counting the entries without an id before it.
    The list only grows, so a key never changes.
    """
    ordinal = sum(1 for entry in entries[:start] if entry.get("job_id") is None)
    for entry in entries[start:]:
        yield FailedJob.from_entry(entry, ordinal)
        if entry.get("job_id") is None:
            ordinal += 1


def find_logs(job: FailedJob, move_old_logs_to: Path | None) -> list[Path]:
    """Existing log files of ``job``: its output logs and adaptive log, or their moved copies."""
    found: list[Path] = []
    for name in (*job.output_logs, job.log_fname):
        if not name:
            continue
        path = Path(name)
        candidates = [path]
        if move_old_logs_to is not None:
            candidates.append(Path(move_old_logs_to) / path.name)
        for candidate in candidates:
            if candidate.is_file() and candidate not in found:
                found.append(candidate)
                break
    return found


def guess_logs(run_manager: Any, job: FailedJob, claimed: set[str]) -> list[Path]:
    """Logs of a job that died before reporting its id: the newest unclaimed file by name.

    adaptive-scheduler records such a job with ``job_id=None`` and no log names, but the
    scheduler still wrote ``<job_name>-<id>.out``; the job-id placeholder becomes a glob.
    """
    scheduler = getattr(run_manager, "scheduler", None)
    variable = getattr(scheduler, "_JOB_ID_VARIABLE", None)
    if scheduler is None or variable is None or not job.job_name:
        return []
    try:
        templates = scheduler.output_fnames(job.job_name)
        running = {str(job_id) for job_id in scheduler.queue()}
    except Exception:
        return []
    found: list[Path] = []
    for template in templates:
        template = Path(template)
        prefix, _, suffix = template.name.partition(variable)
        running_names = {f"{prefix}{job_id}{suffix}" for job_id in running}
        candidates = [
            p
            for p in template.parent.glob(f"{prefix}*{suffix}")
            if str(p) not in claimed and p.name not in running_names
        ]
        if candidates:
            found.append(max(candidates, key=lambda p: p.stat().st_mtime))
    return found


def most_telling(results: list[TriageResult]) -> TriageResult:
    """The triage that explains the failure best: a rule hit over ``unknown`` over ``none``."""
    return max(results, key=lambda r: (_SEVERITY.get(r.category, 2), r.key_line is not None))


def logs_missing_diagnosis(job: FailedJob, looked_in: list[str]) -> Diagnosis:
    where = ", ".join(looked_in) or "no log file names were recorded (the job never started)"
    return Diagnosis(
        category="unknown",
        key_line=None,
        exception=None,
        signature=LOGS_MISSING_SIGNATURE,
        summary="logs missing",
        evidence=[],
        root_cause=f"The logs of job {job.key} are missing, so the failure cannot be diagnosed "
        f"(looked for: {where}).",
        suggested_fix="Keep job logs (set `move_old_logs_to` instead of deleting them) and "
        "check the scheduler's accounting (e.g. `sacct -j <id>`) for why the job ended.",
        confidence=0.0,
        model=None,
        job_id=job.job_id,
        job_name=job.job_name,
        explained_by="none",
        notes=["logs missing"],
    )


def group_by_signature(diagnoses: dict[str, Diagnosis]) -> list[dict[str, Any]]:
    """Failed jobs grouped by signature, biggest group first."""
    groups: dict[str, dict[str, Any]] = {}
    for job_key, diagnosis in diagnoses.items():
        group = groups.setdefault(
            diagnosis.signature,
            {
                "signature": diagnosis.signature,
                "category": diagnosis.category,
                "summary": diagnosis.summary,
                "root_cause": diagnosis.root_cause,
                "suggested_fix": diagnosis.suggested_fix,
                "cause": diagnosis.cause,
                "fix": diagnosis.fix,
                "sources": diagnosis.sources,
                "jobs": [],
            },
        )
        group["jobs"].append(job_key)
    ordered = sorted(groups.values(), key=lambda g: (-len(g["jobs"]), g["summary"]))
    for group in ordered:
        group["count"] = len(group["jobs"])
    return ordered


def for_job(diagnosis: Diagnosis, job: FailedJob, result: TriageResult) -> Diagnosis:
    """A copy of a (possibly shared) diagnosis that names this job, its own log lines and
    the facts of its own log."""
    own_log = diagnosis.log_path == result.source
    return replace(
        diagnosis,
        job_id=job.job_id,
        job_name=job.job_name,
        log_path=result.source,
        key_line=result.key_line,
        key_line_number=result.key_line_number,
        evidence=diagnosis.evidence if own_log else list(result.evidence),
        facts=diagnosis.facts if own_log and diagnosis.facts is not None else extract_facts(result),
    )


def run_id_of(run_manager: Any) -> str:
    """A stable id of a run: its job name and database file."""
    name = getattr(run_manager, "job_name", "run")
    db = getattr(run_manager, "db_fname", None)
    return f"{name}:{Path(db).resolve()}" if db else str(name)
