"""``Agent``: chat about a run, with sandboxed tools and approvals, for any front end.

Front ends (the manager's ``llm.chat``, the terminal, the notebook widget) stay thin:
``await agent.chat(message, thread_id)`` returns a :class:`ChatResult` that either has
the reply or a :class:`PendingApproval` with its diff; ``await agent.decide(...)``
answers it; :meth:`Agent.stream` yields tokens and tool steps as they happen.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..triage import redact as redact_text
from .approvals import validated_decisions
from .commands import HELP, parse_command
from .errors import AgentError, PendingDecisionError, StaleDecisionError
from .graph_store import thread_ids
from .journal import AllowRule, AuditRecord, Journal
from .results import (
    ApprovalEvent,
    ChatResult,
    DoneEvent,
    Event,
    HistoryItem,
    PendingApproval,
    SeedContext,
    TokenEvent,
    ToolEvent,
    ToolStep,
)
from .sandbox import Limits, Sandbox
from .state import AgentState, Deps
from .thread_lock import hold
from .toolcalls import TOOL_FORMATS
from .tools import WRITE, JobsProvider, ReadTool, SearchFn, Tool, Toolbox, WriteTool
from .types import GraphEvent, JobData, Message, Request, Resume
from .views import history_item, pending_approval, turn_result

if TYPE_CHECKING:
    from ..runtime.types import ChatModel
    from .graph import AgentGraph
    from .tools.langchain_tools import ExtraTool

CHECKPOINTS_FILE = "threads.sqlite3"
JOURNAL_FILE = "agent.sqlite3"


def _redacted_job(job: JobData, redact: Callable[[str], str]) -> JobData:
    """A seed's job as the thread keeps it: its texts redacted, its id and paths as they are."""
    redacted = {
        key: redact(value)
        if isinstance(value, str) and key != "job_id" and not key.endswith("path")
        else value
        for key, value in job.items()
    }
    return cast(JobData, redacted)


Decisions = Mapping[str, bool | Mapping[str, object]]
"""``{call_id: approve}`` or ``{call_id: {"approve", "hunks", "always"}}`` (see ``decide``)."""


def _own_tools(tools: Sequence[ExtraTool], max_chars: int) -> list[Tool]:
    """Extra tools as the agent's own (langchain_core is imported only when one is langchain's)."""
    if all(isinstance(t, ReadTool | WriteTool) for t in tools):
        return [t for t in tools if isinstance(t, ReadTool | WriteTool)]
    from .tools.langchain_tools import from_langchain

    return [
        t if isinstance(t, ReadTool | WriteTool) else from_langchain(t, max_chars=max_chars)
        for t in tools
    ]


class Agent:
    """A chat agent over one run folder.

    Parameters
    ----------
    model
        A chat model with ``chat(messages, max_tokens=, temperature=, schema=,
        on_token=)``, ``count_tokens``, ``n_ctx`` and ``name`` (``runtime.LocalModel``),
        or ``None``: slash commands still work.
    root
        The sandbox: the only folder the file tools may read or write.
    state_dir
        Where thread checkpoints (``threads.sqlite3``) and the audit log, allow rules
        and undo backups (``agent.sqlite3``) live.
    search
        ``search(query, k)`` over the index (hits with ``kind``, ``source``, ``lines``,
        ``text``); enables ``search_index``, ``/search`` and searching for questions.
    jobs
        An object with ``jobs()`` returning the run's jobs as mappings (``job_id``,
        ``job_name``, ``state``, ``log``); enables ``job_status``, ``/jobs``, ``/log JOB``.
    tool_format
        ``"hermes"``, ``"llama3"`` or ``"json"`` when the model can call tools;
        ``None`` when it cannot; ``"auto"``: the ``tool_format`` its capabilities declare.
    yolo
        Apply writes without asking. Read at every decision; change it any time.
    redact
        The redaction (default: ``triage.redact``, the package's one redaction). Text enters
        a thread redacted: the user's messages, a seed's job, observations, and every tool
        result (a read, a listing, a search, an error) and the model's replies (with
        ``triage.redact`` always, whatever is passed here), so the terminal, the notebook,
        the checkpoints and the prompts never see a secret; prompts are redacted again.
    max_tokens, temperature
        Per answer. Greedy decoding (0.0) keeps small models closest to the context.
    max_steps
        Model calls per turn when the model calls tools.
    auto_search
        For a model that cannot call tools: search the index for each question and
        put the hits in the thread as a ``search_index`` step.
    extra_tools
        More tools for the model to call: langchain tools (``BaseTool``, e.g. from
        ``@tool`` or ``StructuredTool``) or the agent's own :class:`~.tools.Tool` objects.
        A langchain tool is read-only (runs at once) unless it declares
        ``metadata={"access": "write"}`` (or MCP's ``readOnlyHint: False``): then each call
        waits for an approval like a file write (see :mod:`.tools.langchain_tools`). The
        standard tools keep their names: an extra tool named like one is refused.
    """

    def __init__(
        self,
        model: ChatModel | None,
        *,
        root: str | Path,
        state_dir: str | Path,
        search: SearchFn | None = None,
        jobs: JobsProvider | None = None,
        tool_format: str | None = "auto",
        yolo: bool = False,
        redact: Callable[[str], str] | None = None,
        max_tokens: int = 320,
        temperature: float = 0.0,
        max_steps: int = 6,
        auto_search: bool = True,
        limits: Limits | None = None,
        extra_tools: Sequence[ExtraTool] = (),
    ) -> None:
        if tool_format == "auto":
            tool_format = model.capabilities.tool_format if model is not None else None
        if tool_format is not None and tool_format not in TOOL_FORMATS:
            raise AgentError(
                f"unknown tool-call format {tool_format!r}; use one of {', '.join(TOOL_FORMATS)} or None"
            )
        self.model = model
        self.yolo = yolo
        self.state_dir = Path(state_dir)
        self.sandbox = Sandbox(root, limits)
        extra = _own_tools(extra_tools, self.sandbox.limits.read_bytes)
        self.journal = Journal(self.state_dir / JOURNAL_FILE)
        try:
            self.toolbox = Toolbox(
                self.sandbox, self.journal, search=search, jobs=jobs, extra=extra
            )
        except AgentError:
            self.journal.close()
            raise
        self.deps = Deps(
            toolbox=self.toolbox,
            journal=self.journal,
            model=model,
            tool_format=tool_format,
            yolo=lambda: self.yolo,
            redact=redact or redact_text,
            max_tokens=max_tokens,
            temperature=temperature,
            max_steps=max_steps,
            auto_search=auto_search,
            stopped=self._is_stopped,
        )
        self._stops: dict[str, threading.Event] = {}
        self._graph: AgentGraph | None = None
        self._graph_lock = threading.Lock()

    def _is_stopped(self, thread_id: str) -> bool:
        stop = self._stops.get(thread_id)
        return stop is not None and stop.is_set()

    @property
    def root(self) -> Path:
        return self.sandbox.root

    @property
    def tool_format(self) -> str | None:
        return self.deps.tool_format

    @property
    def write_tools(self) -> frozenset[str]:
        """The names of the tools whose calls need an approval (they change something)."""
        return self.toolbox.names(WRITE)

    # --- graph ----------------------------------------------------------------------

    def graph(self) -> AgentGraph:
        """The compiled graph (built, and langgraph imported, on first use)."""
        with self._graph_lock:
            if self._graph is None:
                from .graph import AgentGraph

                self._graph = AgentGraph(self.deps, self.state_dir / CHECKPOINTS_FILE)
            return self._graph

    def close(self) -> None:
        with self._graph_lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None
        self.journal.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading a thread -----------------------------------------------------------

    def pending(self, thread_id: str) -> PendingApproval | None:
        """The writes the thread waits on, or ``None``."""
        _, interrupts = self.graph().snapshot(thread_id)
        return pending_approval(thread_id, interrupts)

    def history(self, thread_id: str) -> list[HistoryItem]:
        """The thread as a front end shows it, oldest first (see :class:`HistoryItem`)."""
        values, _ = self.graph().snapshot(thread_id)
        diffs = {}
        for record in self.journal.events(thread_id, self.toolbox.root):
            if record.event in ("applied", "denied") and record.diff:
                diffs[record.call_id] = record.diff
        return [
            item for m in values.get("messages", []) if (item := history_item(m, diffs)) is not None
        ]

    def threads(self) -> list[str]:
        """Ids of the threads that exist, oldest first (reads SQLite, not langgraph)."""
        return list_threads(self.state_dir)

    def allowed(self, thread_id: str) -> list[AllowRule]:
        """This thread's "allow always" rules in this agent's root (another project's
        thread of the same name has its own)."""
        return self.journal.rules(self.toolbox.root, thread_id)

    def revoke(self, thread_id: str, rule_id: int) -> bool:
        """Remove an "allow always" rule; ``False`` when the thread has no such rule here."""
        return self.journal.revoke(self.toolbox.root, thread_id, rule_id)

    def audit(self, thread_id: str | None = None) -> list[AuditRecord]:
        """Every proposed, approved, denied, automatic, applied and failed action."""
        return self.journal.events(thread_id)

    # --- turns ----------------------------------------------------------------------

    async def chat(self, message: str, thread_id: str = "default") -> ChatResult:
        """One turn: the reply, or the pending approval with its diff."""
        return await last_result(self.stream(message, thread_id))

    async def decide(
        self,
        thread_id: str,
        approve: bool = True,
        *,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        decisions: Decisions | None = None,
        proposal: str | None = None,
    ) -> ChatResult:
        """Answer a pending approval and finish the turn.

        Parameters
        ----------
        approve
            Approve (``True``) or deny (``False``) every waiting write.
        hunks
            Approve only these hunks (numbered from 1) of the one waiting edit.
        always
            With ``approve``: also allow this ``"tool"`` or this ``"path"`` from now
            on in this thread without asking (see :meth:`allowed`, :meth:`revoke`).
        decisions
            Per call instead: ``{call_id: bool | {"approve", "hunks", "always"}}``.
        proposal
            The id of the approval this answers (``PendingApproval.id``). When the
            thread waits on another proposal (another session decided this one and a
            new one came), the decision is refused (:class:`StaleDecisionError`), never
            applied to a change nobody was shown. Front ends always pass it.
        """
        return await last_result(
            self.stream_decide(
                thread_id,
                approve,
                hunks=hunks,
                always=always,
                decisions=decisions,
                proposal=proposal,
            )
        )

    async def seed_thread(self, thread_id: str, context: SeedContext | object) -> ChatResult:
        """Start a thread from a failed job: diagnosis, log excerpt and failing code, read
        through the sandboxed read tool so that they show as tool steps. A thread already
        about this job is left as it is."""
        result = await last_result(self.stream_seed(thread_id, context))
        return result

    async def stream_seed(
        self, thread_id: str, context: SeedContext | object
    ) -> AsyncGenerator[Event, None]:
        """:meth:`seed_thread` as events (the seed's tool steps, then ``DoneEvent``)."""
        seed = context if isinstance(context, SeedContext) else SeedContext.from_diagnosis(context)
        job = _redacted_job(seed.to_state(), self.deps.redact)
        update = self._turn(thread_id, {"kind": "seed", "job": job}, [])
        events = self._drive(
            thread_id, update=update, refuse_if_pending=True, unless_job=str(seed.job_id)
        )
        async for event in events:
            yield event

    def seeded(self, thread_id: str) -> str | None:
        """The job id a thread was seeded from, or ``None``."""
        values, _ = self.graph().snapshot(thread_id)
        job_id = values.get("job", {}).get("job_id")
        return None if job_id is None else str(job_id)

    async def observe(self, thread_id: str, label: str, content: str) -> ChatResult:
        """Add what happened outside the chat (e.g. the next attempt of a fixed job) to the
        thread as a numbered block that answers can cite."""
        request: Request = {
            "kind": "observe",
            "label": self.deps.redact(label),
            "content": self.deps.redact(content),
        }
        update = self._turn(thread_id, request, [])
        return await last_result(self._drive(thread_id, update=update, refuse_if_pending=True))

    def stream(self, message: str, thread_id: str = "default") -> AsyncGenerator[Event, None]:
        """:meth:`chat` as events: tokens, tool steps, an approval, then ``DoneEvent``."""
        if not isinstance(message, str) or not message.strip():
            raise AgentError("an empty message; type a question or /help")
        command = parse_command(message)
        if command is not None and command.is_meta:
            return _single(ChatResult(thread_id, self._meta(thread_id, command.name, command.arg)))
        text = self.deps.redact(message.strip())  # kept in the thread: redacted like a read
        user: Message = {"role": "user", "content": text, "command": command is not None}
        update = self._turn(thread_id, {"kind": "message", "text": text}, [user])
        return self._drive(thread_id, update=update, refuse_if_pending=True)

    def stream_decide(
        self,
        thread_id: str,
        approve: bool = True,
        *,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        decisions: Decisions | None = None,
        proposal: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """:meth:`decide` as events."""

        def resume(pending: PendingApproval | None) -> Resume:
            if pending is None and proposal is not None:
                raise StaleDecisionError(
                    f"the change you answered no longer waits in thread {thread_id!r} "
                    "(decided in another session?); nothing was applied"
                )
            if pending is None:
                raise AgentError(f"nothing in thread {thread_id!r} waits for a decision")
            if proposal is not None and proposal != pending.id:
                raise StaleDecisionError(
                    f"thread {thread_id!r} now waits on another change than the one you "
                    "answered (another session moved on); nothing was applied: look at it again"
                )
            return {"decisions": validated_decisions(pending, approve, hunks, always, decisions)}

        return self._drive(thread_id, resume=resume)

    @staticmethod
    def _turn(thread_id: str, request: Request, messages: list[Message]) -> AgentState:
        return {
            "thread_id": thread_id,
            "messages": messages,
            "request": request,
            "steps": 0,
            "pending": [],
            "review": [],
        }

    def _meta(self, thread_id: str, name: str, arg: str) -> str:
        if name == "yolo":
            if arg.lower() in ("on", "off"):
                self.yolo = arg.lower() == "on"
            elif arg:
                return "Use /yolo on or /yolo off."
            if self.yolo:
                return "YOLO is on: changes are applied without asking (each is still logged). /yolo off to ask again."
            return "YOLO is off: every change waits for your approval."
        if name == "allow":
            rules = self.allowed(thread_id)
            if not rules:
                return 'No "allow always" rules in this thread (in this folder).'
            return "\n".join(r.describe() for r in rules) + "\n/revoke N removes rule N."
        if name == "revoke":
            if not arg.lstrip("#").isdigit():
                return "Use /revoke N (see /allow for the numbers)."
            removed = self.revoke(thread_id, int(arg.lstrip("#")))
            return (
                f"Rule #{arg.lstrip('#')} revoked."
                if removed
                else f"This thread has no rule #{arg.lstrip('#')}."
            )
        return HELP

    async def _drive(
        self,
        thread_id: str,
        *,
        update: AgentState | None = None,
        resume: Callable[[PendingApproval | None], Resume] | None = None,
        refuse_if_pending: bool = False,
        unless_job: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run one turn of the graph in a worker thread, relaying its events.

        A new turn passes ``update``; a decision passes ``resume``, which turns the
        pending approval into the resume value (or raises before anything runs).
        The thread's lock (:mod:`.thread_lock`) is held from reading the thread to
        the end of the turn, so no other session's turn or decision can interleave.
        A seed passes ``unless_job``: a thread already about that job is left alone.
        """
        with hold(self.state_dir, thread_id):
            graph = await asyncio.to_thread(self.graph)
            values, interrupts = await asyncio.to_thread(graph.snapshot, thread_id)
            job = values.get("job", {}).get("job_id")
            if unless_job is not None and job is not None and str(job) == unless_job:
                yield DoneEvent(
                    ChatResult(thread_id, f"This thread is already about job {unless_job}.")
                )
                return
            if refuse_if_pending and interrupts:
                raise PendingDecisionError(
                    f"thread {thread_id!r} waits for your decision on a change; approve or deny it first"
                )
            resume_value = (
                resume(pending_approval(thread_id, interrupts)) if resume is not None else None
            )
            seen = len(values.get("messages", []))
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[GraphEvent | BaseException | None] = asyncio.Queue()

            def relay(event: GraphEvent) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, event)

            def work() -> None:
                try:
                    graph.run(thread_id, relay, update=update, resume=resume_value)
                    loop.call_soon_threadsafe(queue.put_nowait, None)  # done
                except BaseException as exc:
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

            stop = self._stops[thread_id] = threading.Event()
            worker = loop.run_in_executor(None, work)
            finished = False
            try:
                while True:
                    value = await queue.get()
                    if isinstance(value, BaseException):
                        raise value
                    if value is None:
                        finished = True
                        break
                    if value["type"] == "token":
                        yield TokenEvent(value["text"])
                    else:
                        yield ToolEvent(ToolStep.from_message(value["message"]))
            finally:
                if not finished:  # cancelled or closed: the model stops at its next token
                    stop.set()
                await _wait_despite_cancel(worker)
                self._stops.pop(thread_id, None)
            values, interrupts = await asyncio.to_thread(graph.snapshot, thread_id)
            pending = pending_approval(thread_id, interrupts)
            result = turn_result(thread_id, values.get("messages", [])[seen:], pending)
            if pending is not None:
                yield ApprovalEvent(pending)
            yield DoneEvent(result)


def list_threads(state_dir: str | Path) -> list[str]:
    """Ids of the threads kept in ``state_dir``, oldest first, without building an agent."""
    return thread_ids(Path(state_dir) / CHECKPOINTS_FILE)


async def _wait_despite_cancel(worker: asyncio.Future[None]) -> None:
    """Wait for a turn's worker thread even when cancelled meanwhile (a second Stop click):
    the thread's turn lock may only be released once the graph step has returned."""
    cancelled = False
    while not worker.done():
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _single(result: ChatResult) -> AsyncGenerator[Event, None]:
    yield DoneEvent(result)


async def last_result(events: AsyncGenerator[Event, None]) -> ChatResult:
    """The result of a stream of events (its ``DoneEvent``)."""
    result = None
    async for event in events:
        if isinstance(event, DoneEvent):
            result = event.result
    assert result is not None
    return result
