"""Chat about a run from the manager: ``llm.chat``, ``llm.stream``, ``llm.decide`` and friends.

:class:`RunChat` is the part of :class:`~adaptive_llm_local.manager.LLMManager` that talks:
it builds the agent over the run's folder (lazily, through the
:class:`~adaptive_llm_local.assistant.Assistant`), seeds a failed job's thread from its
*stored* diagnosis the first time the thread is used, and after an approved (or
automatic) fix follows the run's next attempt of that job and adds what happened to the
thread as an ``observe`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..assistant import agent_dir
from ..config import Settings
from ..diagnose import Diagnosis
from .chat_api import FailureGroup
from .jobs import failed_jobs, find_logs
from .run import (
    Attempt,
    Outcome,
    RunJobs,
    attempt_outcome,
    db_entries,
    failed_entries,
    run_root,
)
from .run import job_script as job_script_of

if TYPE_CHECKING:
    from ..agent import (
        Agent,
        ChatResult,
        Event,
        HistoryItem,
        PendingApproval,
        SeedContext,
        ToolEvent,
    )
    from ..agent.tools.langchain_tools import ExtraTool
    from ..assistant import Assistant

log = logging.getLogger(__name__)

RUN_THREAD = "run"
"""The thread about the run as a whole (``thread_id=None``)."""
_OBSERVE_RETRIES = 3600  # seconds-ish of waiting for a busy thread before giving up


class ChatHost(Protocol):
    """What :class:`RunChat` uses of the manager."""

    run_manager: Any
    diagnoses: dict[str, Diagnosis]
    settings: Settings

    @property
    def assistant(self) -> Assistant: ...

    def _load_persisted(self) -> None: ...

    async def diagnose(self, job_id: str, *, refresh: bool = False) -> Diagnosis: ...


class RunChat:
    """The conversations about one run (see the module docstring).

    Parameters
    ----------
    host
        The manager: its run, diagnoses and assistant.
    root
        The sandbox; by default the run's folder (:func:`~.run.run_root`).
    yolo
        Apply changes without asking (also ``/yolo on``; read at every decision).
    poll
        Seconds between looks at the run while following a job's next attempt.
    extra_tools
        More tools for the agent (langchain tools; see ``Agent(extra_tools=)``).
    """

    def __init__(
        self,
        host: ChatHost,
        *,
        root: str | Path | None = None,
        yolo: bool = False,
        poll: float = 1.0,
        extra_tools: Sequence[ExtraTool] = (),
    ) -> None:
        self.host = host
        self._root = Path(root) if root is not None else None
        self._yolo = yolo
        self.poll = poll
        self.extra_tools = tuple(extra_tools)
        self.on_thread_update: Callable[[str], None] | None = None
        self._agent: Agent | None = None
        self._seeded: set[str] = set()
        self.follows: dict[str, asyncio.Task[None]] = {}

    # --- the agent -----------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else run_root(self.host.run_manager)

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            jobs = RunJobs(self.host.run_manager, self.host.diagnoses)
            self._agent = self.host.assistant.agent(
                self.root, jobs=jobs, yolo=self._yolo, extra_tools=self.extra_tools
            )
        return self._agent

    @property
    def yolo(self) -> bool:
        return self._agent.yolo if self._agent is not None else self._yolo

    @yolo.setter
    def yolo(self, value: bool) -> None:
        self._yolo = bool(value)
        if self._agent is not None:
            self._agent.yolo = self._yolo

    def close(self) -> None:
        for task in self.follows.values():
            task.cancel()
        if self._agent is not None:
            self._agent.close()
            self._agent = None

    # --- turns ---------------------------------------------------------------------

    async def stream(
        self, message: str, thread_id: str | None = None
    ) -> AsyncGenerator[Event, None]:
        from ..agent import DoneEvent

        thread = thread_id or RUN_THREAD
        seeded = []
        # aclosing: a closed or cancelled stream closes the agent's at once (Stop button)
        async with contextlib.aclosing(self._seed(thread)) as seed:
            async for step in seed:
                seeded.append(step.step)
                yield step
        async with contextlib.aclosing(self.agent.stream(message, thread)) as events:
            async for event in events:
                if isinstance(event, DoneEvent):
                    result = event.result
                    if seeded:  # the first turn's result shows what the thread started from
                        result = dataclasses.replace(result, steps=[*seeded, *result.steps])
                    self._after_turn(thread, result)
                    yield DoneEvent(result)
                else:
                    yield event

    async def stream_decide(
        self,
        thread_id: str | None,
        *,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        proposal: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        from ..agent import DoneEvent

        thread = thread_id or RUN_THREAD
        stream = self.agent.stream_decide(
            thread, approve, hunks=hunks, always=always, proposal=proposal
        )
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                if isinstance(event, DoneEvent):
                    self._after_turn(thread, event.result)
                yield event

    async def history(self, thread_id: str | None = None) -> list[HistoryItem]:
        return await asyncio.to_thread(self.agent.history, thread_id or RUN_THREAD)

    async def pending(self, thread_id: str | None = None) -> PendingApproval | None:
        return await asyncio.to_thread(self.agent.pending, thread_id or RUN_THREAD)

    def threads(self) -> list[str]:
        from ..agent import list_threads

        if self._agent is not None:
            ids = self._agent.threads()
        else:  # listing threads needs neither the model, nor the index, nor langgraph
            ids = list_threads(agent_dir(self.host.settings))
        return sorted(ids, key=lambda t: t != RUN_THREAD)

    def failure_groups(self) -> list[FailureGroup]:
        groups: dict[str, list[str]] = {}
        for job_id, diagnosis in self.host.diagnoses.items():
            groups.setdefault(diagnosis.signature, []).append(job_id)
        out = []
        for signature, job_ids in groups.items():
            first = self.host.diagnoses[job_ids[0]]
            out.append(
                FailureGroup(
                    signature, first.category, len(job_ids), tuple(job_ids), first.summary, first
                )
            )
        return sorted(out, key=lambda g: (-g.count, g.summary))

    # --- seeding a failed job's thread ---------------------------------------------

    async def _seed(self, thread: str) -> AsyncGenerator[ToolEvent, None]:
        """The seed's tool steps, the first time a failed job's thread is used."""
        from ..agent import ToolEvent

        if thread == RUN_THREAD or thread in self._seeded:
            return
        context = await self.seed_context(thread)
        if context is not None:
            async with contextlib.aclosing(self.agent.stream_seed(thread, context)) as events:
                async for event in events:
                    if isinstance(event, ToolEvent):
                        yield event
        self._seeded.add(thread)

    async def seed_context(self, job_id: str) -> SeedContext | None:
        """What a failed job's thread starts from: its stored diagnosis (made now only if
        the manager has not diagnosed the job yet), its log and its job script."""
        from ..agent import SeedContext

        await asyncio.to_thread(self.host._load_persisted)
        failed = failed_entries(self.host.run_manager)
        job = next((j for j in failed_jobs(failed) if j.key == job_id), None)
        if job is None and job_id not in self.host.diagnoses:
            return None
        try:
            diagnosis = await self.host.diagnose(job_id)  # the stored one when there is one
        except KeyError:
            return None
        log_path = diagnosis.log_path
        if job is not None:
            moved = getattr(self.host.run_manager, "move_old_logs_to", None)
            logs = await asyncio.to_thread(find_logs, job, moved)
            if log_path and not Path(log_path).is_file():
                same = [p for p in logs if p.name == Path(log_path).name]
                log_path = str(same[0]) if same else log_path
        script = job_script_of(self.host.run_manager, diagnosis.job_name)
        return SeedContext.from_diagnosis(
            diagnosis, job_id=job_id, log_path=log_path, job_script=script
        )

    # --- following the next attempt after a fix ------------------------------------

    def _after_turn(self, thread: str, result: ChatResult) -> None:
        writes = self.agent.write_tools
        if not any(step.tool in writes and step.ok for step in result.steps):
            return
        attempt = Attempt.after_fix(self.host.run_manager, thread)
        if attempt is None:
            return
        previous = self.follows.pop(thread, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(self._follow(thread, attempt))
        self.follows[thread] = task

    async def _follow(self, thread: str, attempt: Attempt) -> None:
        run_manager = self.host.run_manager
        try:
            while True:
                outcome = attempt_outcome(
                    attempt, db_entries(run_manager), failed_entries(run_manager)
                )
                if outcome is not None:
                    label, content = await self._describe(attempt, outcome)
                    break
                task = getattr(run_manager, "task", None)
                if task is not None and task.done():
                    label = f"next attempt of {attempt.fname}"
                    content = (
                        "The run ended before it started a new attempt of this job, so the fix "
                        "is untested. Start the run again to try it."
                    )
                    break
                await asyncio.sleep(self.poll)
            await self._observe(thread, label, content)
        except asyncio.CancelledError:
            raise
        except Exception:  # following is a bonus; never take the loop down
            log.exception("following the next attempt of job %s failed", thread)

    async def _describe(self, attempt: Attempt, outcome: Outcome) -> tuple[str, str]:
        job = f"job {outcome.job_id}" if outcome.job_id else "the next job"
        if outcome.state == "done":
            return (
                f"next attempt ({job}): succeeded",
                f"The run's next attempt of {attempt.fname} ({job}) succeeded: the learner "
                "finished without a new failure.",
            )
        content = f"The run's next attempt of {attempt.fname} ({job}) failed too."
        if outcome.job_id is not None:
            try:
                diagnosis = await self.host.diagnose(outcome.job_id)
                content += (
                    f"\nNew diagnosis ({diagnosis.category}): {diagnosis.summary}"
                    f"\nroot cause: {diagnosis.root_cause}\nsuggested fix: {diagnosis.suggested_fix}"
                )
            except Exception as exc:  # the observation still says it failed
                content += f"\n(no diagnosis: {exc})"
        return f"next attempt ({job}): failed", content

    async def _observe(self, thread: str, label: str, content: str) -> None:
        from ..agent import AgentError

        for _ in range(_OBSERVE_RETRIES):
            try:
                await self.agent.observe(thread, label, content)
                break
            except AgentError:  # a turn runs or a decision is pending: add it afterwards
                await asyncio.sleep(self.poll)
        else:
            log.warning("could not add the next attempt of job %s to its thread", thread)
            return
        if self.on_thread_update is not None:
            with contextlib.suppress(Exception):
                self.on_thread_update(thread)


class ChatMembers:
    """The chat API of :class:`~adaptive_llm_local.manager.LLMManager` (``thread_id=None``
    is the run-wide thread ``"run"``); each member delegates to :class:`RunChat`."""

    conversations: RunChat

    @property
    def agent(self) -> Agent:
        """The chat agent over the run's folder (built on first use)."""
        return self.conversations.agent

    @property
    def yolo(self) -> bool:
        """Apply the chat's changes without asking; read at every decision."""
        return self.conversations.yolo

    @yolo.setter
    def yolo(self, value: bool) -> None:
        self.conversations.yolo = value

    @property
    def on_thread_update(self) -> Callable[[str], None] | None:
        """Called with a thread id when a block lands outside a turn (a fix's next attempt)."""
        return self.conversations.on_thread_update

    @on_thread_update.setter
    def on_thread_update(self, callback: Callable[[str], None] | None) -> None:
        self.conversations.on_thread_update = callback

    async def chat(self, message: str, thread_id: str | None = None) -> ChatResult:
        """One turn: the reply, or a pending approval with its diff (a failed job's thread
        id is its job id; its first turn starts from the stored diagnosis)."""
        from ..agent import last_result

        return await last_result(self.stream(message, thread_id))

    async def decide(
        self,
        thread_id: str | None,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        proposal: str | None = None,
    ) -> ChatResult:
        """Approve or deny the pending change(s) of a thread and finish the turn.

        ``proposal`` (``result.pending.id``) makes sure the decision lands on the change
        that was shown: if another session decided it meanwhile, this one is refused.
        """
        from ..agent import last_result

        return await last_result(
            self.stream_decide(thread_id, approve, hunks, always, proposal=proposal)
        )

    def stream(self, message: str, thread_id: str | None = None) -> AsyncGenerator[Event, None]:
        """:meth:`chat` as events; cancel the iterating task (or ``aclose()``) to stop."""
        return self.conversations.stream(message, thread_id)

    def stream_decide(
        self,
        thread_id: str | None,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        proposal: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """:meth:`decide` as events."""
        return self.conversations.stream_decide(
            thread_id, approve=approve, hunks=hunks, always=always, proposal=proposal
        )

    async def history(self, thread_id: str | None = None) -> list[HistoryItem]:
        return await self.conversations.history(thread_id)

    async def pending(self, thread_id: str | None = None) -> PendingApproval | None:
        return await self.conversations.pending(thread_id)

    def threads(self) -> list[str]:
        """Ids of the chat threads that exist ("run" first, then job ids)."""
        return self.conversations.threads()

    def failure_groups(self) -> list[FailureGroup]:
        """Diagnosed failed jobs grouped by failure signature, biggest group first."""
        return self.conversations.failure_groups()
