"""``LLMManager``: diagnoses every failed job of a running ``RunManager`` in the background.

It is composed onto an existing run (adaptive-scheduler has no hook for extra managers):
it only reads ``run_manager.database_manager.failed``, a list that only grows, and keeps
a cursor into it. Detection is cheap and runs on the event loop; triage, model calls,
database and index writes run in worker threads, one diagnosis at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from adaptive_scheduler._server_support.base_manager import BaseManager

from .config import Settings
from .diagnose import Diagnoser, Diagnosis
from .store import DiagnosisStore
from .triage import TriageResult, triage_file

log = logging.getLogger(__name__)

LOGS_MISSING_SIGNATURE = "logs-missing"
_SEVERITY = {"none": 0, "unknown": 1}


class FailureRecorder(Protocol):
    """Where each diagnosed failure occurrence is remembered (the failures index)."""

    def record_failure(
        self, job: FailedJob, result: TriageResult | None, diagnosis: Diagnosis
    ) -> None: ...


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
    def from_entry(cls, entry: dict[str, Any], ordinal: int) -> FailedJob:
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
                "jobs": [],
            },
        )
        group["jobs"].append(job_key)
    ordered = sorted(groups.values(), key=lambda g: (-len(g["jobs"]), g["summary"]))
    for group in ordered:
        group["count"] = len(group["jobs"])
    return ordered


class LLMManager(BaseManager):
    """Diagnose every failed job of ``run_manager`` with the local model.

    Parameters
    ----------
    run_manager
        A ``RunManager`` (started or not); it is read, never modified (except that
        :func:`attach` sets ``run_manager.llm_manager``).
    diagnoser
        The :class:`Diagnoser`; by default the configured local model with the index.
    store
        Persistence of diagnoses; by default ``index/state.sqlite3`` under the home folder.
    recorder
        Where diagnosed failures are added (the failures index); ``None`` to skip.
    interval
        Seconds between scans of ``database_manager.failed`` (:meth:`trigger` wakes early).
    max_queue
        Most failed jobs held in memory awaiting diagnosis; the rest wait in the list.
    on_diagnosis
        Called on the event loop with ``(job_key, diagnosis)`` as each diagnosis lands.
    freeze_gc
        Collect garbage once at start, then move the surviving objects (modules, the
        notebook's data) to CPython's permanent generation (``gc.freeze``). A full
        garbage collection stops every thread, the event loop included, for as long as
        it takes to walk the heap (80 ms measured with a loaded kernel); after the
        freeze it walks only objects made since.
    """

    def __init__(
        self,
        run_manager: Any,
        *,
        diagnoser: Diagnoser | None = None,
        store: DiagnosisStore | None = None,
        recorder: FailureRecorder | None = None,
        settings: Settings | None = None,
        interval: float = 5.0,
        max_queue: int = 64,
        on_diagnosis: Callable[[str, Diagnosis], None] | None = None,
        freeze_gc: bool = True,
    ) -> None:
        super().__init__()
        self.run_manager = run_manager
        self.settings = settings or Settings.from_env()
        self._diagnoser = diagnoser
        self._store = store
        self.recorder = recorder
        self.interval = interval
        self.on_diagnosis = on_diagnosis
        self.run_id = _run_id(run_manager)
        self.diagnoses: dict[str, Diagnosis] = {}
        self.errors: dict[str, str] = {}
        self.jobs: dict[str, FailedJob] = {}
        self._cursor = 0
        self._never_started = 0
        self._queue: asyncio.Queue[FailedJob] | None = None
        self._max_queue = max_queue
        self._wake: asyncio.Event | None = None
        self._cache: dict[str, Diagnosis] = {}
        self._claimed_logs: set[str] = set()
        self._loaded = False
        self._model_calls = 0
        self.freeze_gc = freeze_gc

    # --- lazily built collaborators (constructing the manager stays cheap) -------------

    @property
    def diagnoser(self) -> Diagnoser:
        if self._diagnoser is None:
            retriever = None
            with contextlib.suppress(ImportError):
                from .retrieval import open_retriever

                retriever = open_retriever(self.settings, create=True)
            self._diagnoser = Diagnoser(retriever=retriever)
            if (
                self.recorder is None
                and retriever is not None
                and hasattr(retriever, "record_failure")
            ):
                self.recorder = retriever
        return self._diagnoser

    @property
    def store(self) -> DiagnosisStore:
        if self._store is None:
            self._store = DiagnosisStore(self.settings.database_path)
        return self._store

    @property
    def model_calls(self) -> int:
        """Model calls made for diagnoses by this manager so far."""
        return self._model_calls

    # --- BaseManager -------------------------------------------------------------------

    def _setup(self) -> None:
        self._queue = asyncio.Queue(maxsize=self._max_queue)
        self._wake = asyncio.Event()

    async def _manage(self) -> None:
        assert self._queue is not None
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        await asyncio.to_thread(self._load_persisted)
        worker = asyncio.create_task(self._work())
        try:
            await self._wait_for_run_start()
            while True:
                try:
                    finished = self._run_finished()
                    self._scan()
                    if finished and self._cursor >= len(self._failed_list()):
                        await self._queue.join()
                        self._scan()
                        if self._queue.empty() and self._cursor >= len(self._failed_list()):
                            return
                    await self._sleep(self.interval)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # keep watching; the next scan retries
                    log.exception("LLMManager scan failed")
                    self.errors["<scan>"] = f"{type(exc).__name__}: {exc}"
                    await self._sleep(self.interval)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def trigger(self) -> None:
        """Scan for new failed jobs now instead of at the next interval (thread-safe)."""
        if self._wake is None or self.ioloop is None:
            return
        self.ioloop.call_soon_threadsafe(self._wake.set)

    # --- detection (on the loop, cheap, read-only) -------------------------------------

    def _failed_list(self) -> list[dict[str, Any]]:
        return self.run_manager.database_manager.failed

    def _scan(self) -> None:
        """Move new entries of ``failed`` into the queue, as many as fit."""
        assert self._queue is not None
        failed = self._failed_list()
        while self._cursor < len(failed) and not self._queue.full():
            entry = failed[self._cursor]
            ordinal = self._never_started
            if entry.get("job_id") is None:
                self._never_started += 1
            self._cursor += 1
            job = FailedJob.from_entry(entry, ordinal)
            if job.key in self.diagnoses or job.key in self.jobs:
                continue
            self.jobs[job.key] = job
            self._queue.put_nowait(job)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _wait_for_run_start(self) -> None:
        while getattr(self.run_manager, "task", None) is None:
            await self._sleep(min(self.interval, 1.0))

    def _run_finished(self) -> bool:
        task = getattr(self.run_manager, "task", None)
        return task is not None and task.done()

    # --- work (one job at a time, off the loop) -----------------------------------------

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._process(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("diagnosing job %s failed", job.key)
                self.errors[job.key] = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self.store.put_occurrence,
                        self.run_id,
                        job.key,
                        job_id=job.job_id,
                        job_name=job.job_name,
                        log_path=None,
                        status="error",
                        error=self.errors[job.key],
                    )
            finally:
                self._queue.task_done()

    async def _process(self, job: FailedJob) -> Diagnosis:
        diagnosis, result, status = await asyncio.to_thread(self._diagnose_job, job)
        self.diagnoses[job.key] = diagnosis
        self.errors.pop(job.key, None)
        if self.on_diagnosis is not None:
            try:
                self.on_diagnosis(job.key, diagnosis)
            except Exception:
                log.exception("on_diagnosis callback failed")
        await asyncio.to_thread(self._persist, job, result, diagnosis, status)
        return diagnosis

    def _diagnose_job(self, job: FailedJob) -> tuple[Diagnosis, TriageResult | None, str]:
        """Runs in a worker thread: read logs, reuse or make a diagnosis."""
        move_to = getattr(self.run_manager, "move_old_logs_to", None)
        logs = find_logs(job, move_to)
        if not logs and job.job_id is None:
            logs = guess_logs(self.run_manager, job, self._claimed_logs)
        self._claimed_logs.update(str(p) for p in logs)
        if not logs:
            looked = [p for p in (*job.output_logs, job.log_fname) if p]
            return logs_missing_diagnosis(job, looked), None, "logs_missing"
        result = most_telling([triage_file(p) for p in logs])
        cached = self._cache.get(result.signature)
        if cached is None:
            diagnoser = self.diagnoser
            before = diagnoser.model_calls
            cached = diagnoser.diagnose(result)
            self._model_calls += diagnoser.model_calls - before
            self._cache[result.signature] = cached
            self.store.put_diagnosis(cached)
        diagnosis = _for_job(cached, job, result)
        return diagnosis, result, "diagnosed"

    def _persist(
        self, job: FailedJob, result: TriageResult | None, diagnosis: Diagnosis, status: str
    ) -> None:
        self.store.put_occurrence(
            self.run_id,
            job.key,
            job_id=job.job_id,
            job_name=job.job_name,
            log_path=diagnosis.log_path,
            status=status,
            diagnosis=diagnosis,
        )
        if self.recorder is not None and status == "diagnosed":
            try:
                self.recorder.record_failure(job, result, diagnosis, run=self.run_id)
            except Exception as exc:  # the index is a bonus; the diagnosis is already saved
                log.warning("could not add job %s to the failures index: %s", job.key, exc)

    def _load_persisted(self) -> None:
        if self._loaded:
            return
        self._cache.update(self.store.signatures())
        for occurrence in self.store.occurrences(self.run_id):
            if occurrence.diagnosis is not None and occurrence.status != "error":
                self.diagnoses.setdefault(occurrence.job_key, occurrence.diagnosis)
        self._loaded = True

    # --- API for front ends --------------------------------------------------------------

    async def diagnose(self, job_id: str, *, refresh: bool = False) -> Diagnosis:
        """The diagnosis of failed job ``job_id``, made now if it is not there yet.

        Parameters
        ----------
        job_id
            The job id (or, for a job that never reported one, its job name).
        refresh
            Ask the model again even if this failure's signature was diagnosed before
            (for example after switching to a bigger model); the new diagnosis replaces
            the stored one for every job with that signature.
        """
        if not refresh and job_id in self.diagnoses:
            return self.diagnoses[job_id]
        await asyncio.to_thread(self._load_persisted)
        if not refresh and job_id in self.diagnoses:
            return self.diagnoses[job_id]
        failed = self._failed_list()
        for ordinal, entry in enumerate(failed):
            job = FailedJob.from_entry(entry, ordinal)
            if job.key == job_id or job.job_name == job_id:
                self.jobs.setdefault(job.key, job)
                if refresh and job_id in self.diagnoses:
                    self._cache.pop(self.diagnoses[job_id].signature, None)
                return await self._process(job)
        raise KeyError(
            f"no failed job with id {job_id!r} in this run ({len(failed)} failed so far)"
        )

    def summary(self) -> list[dict[str, Any]]:
        """Failed jobs grouped by failure signature, biggest group first."""
        return group_by_signature(self.diagnoses)

    def summary_text(self) -> str:
        """One line per distinct failure, e.g. ``37 jobs: ModuleNotFoundError: No module named 'foo'``."""
        lines = []
        for group in self.summary():
            noun = "job" if group["count"] == 1 else "jobs"
            lines.append(f"{group['count']} {noun}: {group['summary']} [{group['category']}]")
        pending = len(self.jobs) - len(self.diagnoses)
        if pending > 0:
            lines.append(f"({pending} failed job(s) still being diagnosed)")
        return "\n".join(lines) if lines else "no failed jobs diagnosed yet"

    def __repr__(self) -> str:
        return (
            f"<LLMManager run={self.run_id!r} failed_seen={self._cursor} "
            f"diagnosed={len(self.diagnoses)} model_calls={self.model_calls}>"
        )

    def _repr_html_(self) -> str:
        rows = []
        for group in self.summary():
            jobs = ", ".join(map(str, group["jobs"][:8])) + (" …" if group["count"] > 8 else "")
            rows.append(
                "<tr>"
                f"<td style='text-align:right'><b>{group['count']}</b></td>"
                f"<td><code>{html.escape(group['category'])}</code></td>"
                f"<td>{html.escape(group['summary'])}"
                f"<br><small>{html.escape(group['root_cause'])}</small>"
                f"<br><small><b>Fix:</b> {html.escape(group['suggested_fix'])}</small></td>"
                f"<td><small>{html.escape(jobs)}</small></td>"
                "</tr>"
            )
        status = "running" if self.is_started and not self.task.done() else "stopped"  # type: ignore[union-attr]
        counts = Counter(d.category for d in self.diagnoses.values())
        header = (
            f"<b>LLMManager</b> · {status} · {len(self.diagnoses)} failed job(s) diagnosed, "
            f"{len(self.summary())} distinct failure(s), {self.model_calls} model call(s)"
        )
        if counts:
            header += " · " + ", ".join(f"{c}: {n}" for c, n in counts.most_common())
        if self.errors:
            header += f" · <span style='color:#b00'>{len(self.errors)} error(s)</span>"
        if not rows:
            return f"<div>{header}</div>"
        return (
            f"<div>{header}<table><thead><tr><th>jobs</th><th>category</th>"
            "<th>failure · cause · fix</th><th>job ids</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></div>"
        )


def _for_job(diagnosis: Diagnosis, job: FailedJob, result: TriageResult) -> Diagnosis:
    """A copy of a (possibly shared) diagnosis that names this job and its own log lines."""
    from dataclasses import replace

    return replace(
        diagnosis,
        job_id=job.job_id,
        job_name=job.job_name,
        log_path=result.source,
        key_line=result.key_line,
        key_line_number=result.key_line_number,
        evidence=list(result.evidence)
        if diagnosis.log_path != result.source
        else diagnosis.evidence,
    )


def _run_id(run_manager: Any) -> str:
    name = getattr(run_manager, "job_name", "run")
    db = getattr(run_manager, "db_fname", None)
    return f"{name}:{Path(db).resolve()}" if db else str(name)


def attach(run_manager: Any, **options: Any) -> LLMManager:
    """Attach an :class:`LLMManager` to ``run_manager`` and start it.

    Works before or after ``run_manager.start()``: the manager waits for the run to
    start and stops once the run is finished or cancelled (after diagnosing the last
    failures). Must be called where an event loop runs or can be created (a notebook).

    Returns
    -------
    LLMManager
        Also available as ``run_manager.llm_manager``.
    """
    existing = getattr(run_manager, "llm_manager", None)
    if isinstance(existing, LLMManager) and existing.is_started and not existing.task.done():  # type: ignore[union-attr]
        return existing
    manager = LLMManager(run_manager, **options)
    run_manager.llm_manager = manager
    manager.start()
    return manager
