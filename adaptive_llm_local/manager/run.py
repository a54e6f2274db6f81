"""What the chat needs to know about a run: its folder, its jobs, and a job's next attempt.

Pure reads of a ``RunManager`` (its learners' files, scheduler folders, database entries
and ``database_manager.failed``); nothing here runs on the event loop or changes the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..diagnose import Diagnosis

_SHALLOW = 2  # a common folder this close to / (or the home folder) is not "the run's folder"


def _flat(names: Any) -> Iterable[Any]:
    if isinstance(names, list | tuple):
        for name in names:
            yield from _flat(name)
    elif names:
        yield names


def run_paths(run_manager: Any) -> list[Path]:
    """Folders a run writes to: its learners' data, logs, job scripts, database, old logs."""
    cwd = Path.cwd()
    paths = [Path(fname).parent for fname in _flat(getattr(run_manager, "fnames", None) or [])]
    scheduler = getattr(run_manager, "scheduler", None)
    for attribute in ("log_folder", "batch_folder"):
        folder = getattr(scheduler, attribute, None)
        if folder:
            paths.append(Path(folder))
    db = getattr(run_manager, "db_fname", None)
    if db:
        paths.append(Path(db).parent)
    moved = getattr(run_manager, "move_old_logs_to", None)
    if moved:
        paths.append(Path(moved))
    return [Path(os.path.abspath(cwd / p)) for p in paths]


def run_root(run_manager: Any) -> Path:
    """The run's folder: the common folder of everything the run writes.

    Falls back to the current folder (where relative paths of a run point) when the run
    writes nowhere in particular or its folders only share ``/`` or the home folder.
    """
    paths = run_paths(run_manager)
    if not paths:
        return Path.cwd()
    common = Path(os.path.commonpath([str(p) for p in paths]))
    if len(common.parts) <= _SHALLOW or common == Path.home():
        return Path.cwd()
    return common


def job_script(run_manager: Any, job_name: str | None) -> str | None:
    """The batch script a job ran (``#SBATCH`` lines for ``/fix``), if it is on disk."""
    scheduler = getattr(run_manager, "scheduler", None)
    batch_fname = getattr(scheduler, "batch_fname", None)
    if not job_name or not callable(batch_fname):
        return None
    for name in (job_name, job_name.rsplit("-", 1)[0]):
        try:
            path = Path(batch_fname(name))
        except Exception:  # a scheduler without batch files
            return None
        if path.is_file():
            return str(path)
    return None


def failed_entries(run_manager: Any) -> list[Mapping[str, Any]]:
    return list(run_manager.database_manager.failed)


def db_entries(run_manager: Any) -> list[Mapping[str, Any]]:
    """The run's database rows (``fname``, ``job_id``, ``is_done``, ``is_pending``, ...)."""
    as_dicts = getattr(run_manager.database_manager, "as_dicts", None)
    if not callable(as_dicts):
        return []
    try:
        return list(as_dicts())
    except Exception:  # the database is not created before the run starts
        return []


def failed_entry(run_manager: Any, job_id: str) -> Mapping[str, Any] | None:
    """The ``failed`` entry of job ``job_id`` (by id, or by name for a job without one)."""
    for entry in failed_entries(run_manager):
        if str(entry.get("job_id")) == job_id:
            return entry
    return None


def _first_log(entry: Mapping[str, Any]) -> str | None:
    logs = [str(p) for p in entry.get("output_logs") or () if p]
    return logs[0] if logs else entry.get("log_fname")


class RunJobs:
    """The run's jobs for the agent's ``job_status`` tool, ``/jobs`` and ``/log JOB``.

    Parameters
    ----------
    run_manager
        The run.
    diagnoses
        Diagnoses by job id (the manager's live dict): failed jobs show their summary.
    """

    def __init__(self, run_manager: Any, diagnoses: Mapping[str, Diagnosis]) -> None:
        self.run_manager = run_manager
        self.diagnoses = diagnoses

    def jobs(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for entry in failed_entries(self.run_manager):
            job_id = str(entry.get("job_id"))
            record = {
                "job_id": job_id,
                "job_name": entry.get("job_name"),
                "state": "failed",
                "fname": str(entry.get("fname")),
                "log": _first_log(entry),
            }
            diagnosis = self.diagnoses.get(job_id)
            if diagnosis is not None:
                record["diagnosis"] = f"{diagnosis.category}: {diagnosis.summary}"
            records.append(record)
        for entry in db_entries(self.run_manager):
            if entry.get("job_id") is not None:
                state = "running"
            elif entry.get("is_done"):
                state = "done"
            elif entry.get("is_pending"):
                state = "pending"
            else:
                state = "waiting"
            records.append(
                {
                    "job_id": str(entry["job_id"]) if entry.get("job_id") is not None else "-",
                    "job_name": entry.get("job_name"),
                    "state": state,
                    "fname": str(entry.get("fname")),
                    "log": _first_log(entry),
                }
            )
        return records


# --- the next attempt of a failed job ---------------------------------------------------


@dataclass
class Attempt:
    """Watching for the next attempt of a failed job's learner after a fix.

    Attributes
    ----------
    fname
        The learner's data file (what the run restarts a new job for).
    known
        Job ids of that learner that ran before the fix (their outcome does not count).
    job_id
        The job id of the attempt after the fix, once seen.
    """

    fname: str
    known: frozenset[str]
    job_id: str | None = None

    @classmethod
    def after_fix(cls, run_manager: Any, failed_job_id: str) -> Attempt | None:
        """Start watching; ``None`` when the run has no failed job ``failed_job_id``."""
        entry = failed_entry(run_manager, failed_job_id)
        if entry is None:
            return None
        fname = str(entry.get("fname"))
        known = {
            str(e.get("job_id"))
            for e in failed_entries(run_manager)
            if str(e.get("fname")) == fname
        }
        for row in db_entries(run_manager):
            if str(row.get("fname")) == fname and row.get("job_id") is not None:
                known.add(str(row["job_id"]))  # started before the fix: may run the old code
        return cls(fname, frozenset(known))


@dataclass(frozen=True)
class Outcome:
    """How the next attempt ended: ``"done"`` (the learner finished) or ``"failed"``."""

    state: str
    job_id: str | None
    entry: Mapping[str, Any] | None = None


def attempt_outcome(
    attempt: Attempt, rows: Sequence[Mapping[str, Any]], failed: Sequence[Mapping[str, Any]]
) -> Outcome | None:
    """Where the watched attempt is now; updates ``attempt.job_id`` when it starts.

    ``None`` while nothing is decided (no new job yet, or it still runs).
    """
    for entry in failed:
        job_id = str(entry.get("job_id"))
        if str(entry.get("fname")) == attempt.fname and job_id not in attempt.known:
            return Outcome("failed", job_id, entry)
    for row in rows:
        if str(row.get("fname")) != attempt.fname:
            continue
        running = row.get("job_id")
        if running is not None and str(running) not in attempt.known:
            attempt.job_id = str(running)
        if row.get("is_done"):
            return Outcome("done", attempt.job_id)
    return None
