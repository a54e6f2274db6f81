"""What the agent hands to front ends: results, pending approvals, streamed events, seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

from ..triage.facts import Facts
from .types import ActionData, BlockRef, JobData, PlanKind, ToolArgs, ToolMessage

if TYPE_CHECKING:
    from ..diagnose.sentences import Sentence


@dataclass(frozen=True)
class ToolStep:
    """One tool call of a turn and what it returned (``n`` numbers it for citations)."""

    call_id: str
    tool: str
    args: ToolArgs
    ok: bool
    content: str
    label: str
    n: int | None = None

    @classmethod
    def from_message(cls, message: ToolMessage) -> ToolStep:
        return cls(
            message["call_id"],
            message["name"],
            dict(message.get("args", {})),
            bool(message.get("ok", True)),
            str(message.get("content", "")),
            str(message.get("label", "")),
            message.get("n"),
        )


@dataclass(frozen=True)
class ProposedAction:
    """A write waiting for approval: the diff (or the move) and its hunks, numbered from 1."""

    call_id: str
    tool: str
    kind: PlanKind  # "edit", "create", "move", "restore", "delete" ("call": an extra tool)
    path: str
    dest: str | None
    summary: str
    diff: str
    hunks: tuple[str, ...] = ()

    @classmethod
    def from_payload(cls, action: ActionData) -> ProposedAction:
        return cls(
            action["call_id"],
            action["tool"],
            action["kind"],
            action["path"],
            action.get("dest"),
            action["summary"],
            action["diff"],
            tuple(action.get("hunks", ())),
        )


@dataclass(frozen=True)
class PendingApproval:
    """Everything a thread waits for; answer with ``Agent.decide``."""

    thread_id: str
    actions: tuple[ProposedAction, ...]
    id: str = ""
    """This proposal, and no later one: pass it to ``decide(..., proposal=)`` so that a
    decision taken on what was shown never lands on another session's proposal."""

    @property
    def diff(self) -> str:
        return "".join(a.diff for a in self.actions)

    def describe(self) -> str:
        """The approval prompt for a terminal: what changes, then the diff."""
        parts = []
        for action in self.actions:
            parts.append(f"{action.summary}:\n{action.diff}")
            if len(action.hunks) > 1:
                parts.append(f"({len(action.hunks)} hunks: you may approve some of them)")
        return "\n".join(parts)


@dataclass(frozen=True)
class SourceRef:
    """A numbered block of the thread an answer may cite as ``[n]``."""

    n: int
    label: str


@dataclass
class ChatResult:
    """The outcome of one turn: the reply, the tool steps, and any pending approval."""

    thread_id: str
    text: str
    steps: list[ToolStep] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    pending: PendingApproval | None = None
    sentences: list[Sentence] = field(default_factory=list)
    """The answer's sentences (``origin="model"``)."""
    stopped: bool = False
    """The answer was cut short (the stream was cancelled: a Stop button)."""

    @property
    def needs_approval(self) -> bool:
        return self.pending is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryItem:
    """One entry of a thread as a front end shows it.

    ``kind`` is ``"message"`` (the user's text), ``"command"`` (a user's /command),
    ``"answer"`` (the model's reply), ``"note"`` (the agent's own notice), ``"seed"``
    (what the thread started from), ``"observe"`` (an outside event such as a job's
    next attempt), ``"search"`` (index hits found for a question) or ``"step"`` (any
    other tool step). ``diff`` is set for writes: what was applied, or what was denied.
    """

    role: str
    kind: str
    text: str
    tool: str | None = None
    label: str | None = None
    n: int | None = None
    ok: bool = True
    args: ToolArgs = field(default_factory=dict)
    cited: tuple[int, ...] = ()
    sources: tuple[SourceRef, ...] = ()
    diff: str | None = None
    sentences: tuple[Sentence, ...] = ()
    stopped: bool = False


@dataclass(frozen=True)
class TokenEvent:
    """A piece of the model's answer as it is generated."""

    text: str


@dataclass(frozen=True)
class ToolEvent:
    """A tool step finished."""

    step: ToolStep


@dataclass(frozen=True)
class ApprovalEvent:
    """The turn paused: these writes wait for a decision."""

    pending: PendingApproval


@dataclass(frozen=True)
class DoneEvent:
    """The turn is over (finished or paused); always the last event."""

    result: ChatResult


Event = TokenEvent | ToolEvent | ApprovalEvent | DoneEvent

_DIAGNOSIS_FIELDS = (
    "job_id",
    "job_name",
    "category",
    "exception",
    "key_line",
    "key_line_number",
    "root_cause",
    "suggested_fix",
    "log_path",
    "facts",
)


@dataclass(frozen=True)
class SeedContext:
    """The failed job a thread starts from.

    Parameters
    ----------
    job_id
        The job; also the natural thread id.
    log_path
        The job's log; an excerpt around ``key_line_number`` (or its end) is read.
    frame
        ``(path, line)`` of the user's code that failed; when ``None``, the first of the
        facts' user frames (:meth:`~adaptive_llm_local.triage.facts.Facts.user_frames`)
        inside the sandbox.
    facts
        What triage read from the log (the diagnosis's ``facts``); when ``None`` (a
        diagnosis stored before they were kept, or a seed made by hand) triage reads them
        from the log's tail.
    job_script
        The job's batch script, for ``/fix`` of time and memory limits; searched for
        in the run folder when ``None``.
    """

    job_id: str
    job_name: str | None = None
    category: str | None = None
    exception: str | None = None
    key_line: str | None = None
    key_line_number: int | None = None
    root_cause: str | None = None
    suggested_fix: str | None = None
    log_path: str | None = None
    frame: tuple[str, int] | None = None
    job_script: str | None = None
    facts: Facts | None = None

    @classmethod
    def from_diagnosis(cls, diagnosis: object, **overrides: object) -> SeedContext:
        """From any object with a ``Diagnosis``'s attributes (or a mapping of them)."""
        values: dict[str, Any] = {}  # a Diagnosis or a mapping: duck-typed input
        for name in _DIAGNOSIS_FIELDS:
            if isinstance(diagnosis, Mapping):
                value = diagnosis.get(name, diagnosis.get("log") if name == "log_path" else None)
            else:
                value = getattr(diagnosis, name, None)
            if value is not None:
                values[name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("facts"), list):  # a diagnosis's JSON
            values["facts"] = Facts.from_json(values["facts"])
        if "job_id" not in values:
            raise ValueError("a seed needs the job id of the failed job")
        values["job_id"] = str(values["job_id"])
        return cls(**values)

    def to_state(self) -> JobData:
        state = asdict(self)
        if self.frame is not None:
            state["frame"] = [str(self.frame[0]), int(self.frame[1])]
        state["facts"] = self.facts.to_json() if self.facts is not None else None
        return cast(JobData, state)


def sources_of(blocks: Sequence[BlockRef]) -> list[SourceRef]:
    return [SourceRef(int(b["n"]), str(b["label"])) for b in blocks]
