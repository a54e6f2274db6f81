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
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from adaptive_scheduler.server_support import BaseManager

from ..assistant import Assistant
from ..config import Settings
from ..diagnose import Diagnoser, Diagnosis
from ..triage import TriageResult, triage_file
from .chat import ChatMembers, RunChat
from .html import summary_html
from .jobs import (
    FailedJob,
    failed_jobs,
    find_logs,
    for_job,
    group_by_signature,
    guess_logs,
    logs_missing_diagnosis,
    most_telling,
    run_id_of,
)
from .persistence import DiagnosisStore

if TYPE_CHECKING:
    from ..agent.tools.langchain_tools import ExtraTool
    from .chat_api import ChatAPI

log = logging.getLogger(__name__)


class FailureRecorder(Protocol):
    """Where each diagnosed failure occurrence is remembered (the failures index)."""

    def record_failure(
        self, job: FailedJob, result: TriageResult | None, diagnosis: Diagnosis, *, run: str
    ) -> object: ...


class LLMManager(ChatMembers, BaseManager):
    """Diagnose every failed job of ``run_manager`` with the local model, and chat about it.

    The chat members (``chat``, ``stream``, ``decide``, ``history``, ``yolo``, ...) are
    described in :class:`~adaptive_llm_local.manager.chat.ChatMembers`.

    Parameters
    ----------
    run_manager
        A ``RunManager`` (started or not); it is read, never modified (except that
        :func:`attach` sets ``run_manager.llm_manager``).
    settings
        What the default parts are built from (``Settings.from_env()`` when omitted).
    assistant
        The model, index and diagnoser; by default :meth:`Assistant.from_settings`
        with ``settings``, creating the index when missing, built on first use.
    diagnoser
        A diagnoser to use instead of the assistant's (tests, benchmarks).
    store
        Persistence of diagnoses; by default ``index/state.sqlite3`` under the home folder.
    recorder
        Where diagnosed failures are added; by default the assistant's index.
    interval
        Seconds between scans of ``database_manager.failed`` (:meth:`trigger` wakes early).
    max_queue
        Most failed jobs held in memory awaiting diagnosis; the rest wait in the list.
    on_diagnosis
        Called on the event loop with ``(job_key, diagnosis)`` as each diagnosis lands.
    root
        The folder the chat's file tools may read and write; by default the run's folder
        (the common folder of its data files, logs and job scripts).
    yolo
        Let the chat apply changes without asking (``llm.yolo`` changes it at any time).
    extra_tools
        More tools for the chat's agent: langchain tools, read-only unless they declare
        ``metadata={"access": "write"}`` (then each call waits for an approval).
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
        settings: Settings | None = None,
        assistant: Assistant | None = None,
        diagnoser: Diagnoser | None = None,
        store: DiagnosisStore | None = None,
        recorder: FailureRecorder | None = None,
        interval: float = 5.0,
        max_queue: int = 64,
        on_diagnosis: Callable[[str, Diagnosis], None] | None = None,
        root: str | Path | None = None,
        yolo: bool = False,
        freeze_gc: bool = True,
        extra_tools: Sequence[ExtraTool] = (),
    ) -> None:
        super().__init__()
        self.run_manager = run_manager
        self.settings = settings or (assistant.settings if assistant else Settings.from_env())
        self._assistant = assistant
        self._diagnoser = diagnoser
        self._store = store
        self.recorder = recorder
        self.interval = interval
        self.on_diagnosis = on_diagnosis
        self.run_id = run_id_of(run_manager)
        self.diagnoses: dict[str, Diagnosis] = {}
        self.errors: dict[str, str] = {}
        self.jobs: dict[str, FailedJob] = {}
        self._cursor = 0
        self._queue: asyncio.Queue[FailedJob] | None = None
        self._max_queue = max_queue
        self._wake: asyncio.Event | None = None
        self._cache: dict[str, Diagnosis] = {}
        self._claimed_logs: set[str] = set()
        self._loaded = False
        self._model_calls = 0
        self.freeze_gc = freeze_gc
        self.conversations = RunChat(
            self, root=root, yolo=yolo, poll=min(interval, 1.0), extra_tools=extra_tools
        )

    # --- lazily built collaborators (constructing the manager stays cheap) -------------

    @property
    def assistant(self) -> Assistant:
        """The model, index and diagnoser (built from ``settings`` on first use)."""
        if self._assistant is None:
            self._assistant = Assistant.from_settings(self.settings, index="create")
        return self._assistant

    @property
    def diagnoser(self) -> Diagnoser:
        if self._diagnoser is None:
            self._diagnoser = self.assistant.diagnoser
            if self.recorder is None:
                self.recorder = self.assistant.retriever
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
        for job in failed_jobs(self._failed_list(), self._cursor):
            if self._queue.full():
                break
            self._cursor += 1
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
            previous = self.diagnoses.get(job.key)  # a refresh may take its own log again
            own = {previous.log_path} if previous is not None and previous.log_path else set()
            logs = guess_logs(self.run_manager, job, self._claimed_logs - own)
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
        diagnosis = for_job(cached, job, result)
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
        for job in failed_jobs(failed):
            if job.key == job_id or job.job_name == job_id:
                self.jobs.setdefault(job.key, job)
                if refresh and job.key in self.diagnoses:
                    self._cache.pop(self.diagnoses[job.key].signature, None)
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
        running = self.is_started and self.task is not None and not self.task.done()
        return summary_html(
            self.summary(),
            status="running" if running else "stopped",
            categories=Counter(d.category for d in self.diagnoses.values()),
            model_calls=self.model_calls,
            n_errors=len(self.errors),
        )


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
    if (
        isinstance(existing, LLMManager)
        and existing.is_started
        and existing.task is not None
        and not existing.task.done()
    ):
        return existing
    manager = LLMManager(run_manager, **options)
    run_manager.llm_manager = manager
    manager.start()
    return manager


if TYPE_CHECKING:  # the manager is the chat API the notebook widget is typed against
    _CHAT_API: type[ChatAPI] = LLMManager
