"""The agent's data as a thread keeps it: messages, tool calls, plans, reviews, approvals.

Every value here is a ``TypedDict``: at run time they stay the plain JSON-able dicts that
langgraph checkpoints (threads saved by earlier versions read as they always did), while
mypy checks every key. Keys marked ``NotRequired`` may be missing in threads saved
before they existed. The one ``Any`` left is the JSON a model writes: a tool call's
arguments (and the JSON form of a sentence, owned by :mod:`~adaptive_llm_local.diagnose`).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

ToolArgs = dict[str, Any]
"""A tool call's arguments: JSON the model wrote (or a slash command built); every tool
checks the values it reads."""
SentenceData = dict[str, Any]
"""``diagnose.sentences.Sentence.to_json()``."""

Access = Literal["read", "write"]
"""What a tool does: ``read`` runs at once; ``write`` waits for an approval (or YOLO, or
an "allow always" rule) and is journaled."""
READ: Access = "read"
WRITE: Access = "write"

Origin = Literal["model", "command", "seed", "observe", "auto"]
"""Who asked for a tool step: the model, a slash command, the seed of a failed job's
thread, an outside event, or the automatic index search for a model without tools."""


class ToolCallData(TypedDict):
    """One tool call a model (or a slash command, or a seed) asks for."""

    id: str
    name: str
    args: ToolArgs


# --- thread messages ------------------------------------------------------------------


class BlockRef(TypedDict):
    """A numbered block of the thread an answer may cite as ``[n]``."""

    n: int
    label: str


class ToolMessage(TypedDict):
    """A tool step: what it returned enters the thread redacted; ``n`` numbers it."""

    role: Literal["tool"]
    name: str
    call_id: str
    args: ToolArgs
    content: str
    ok: bool
    label: str
    n: int
    origin: Origin


class UserMessage(TypedDict):
    role: Literal["user"]
    content: str
    command: NotRequired[bool]
    """A slash command: the tool blocks that follow say what it read."""
    generated: NotRequired[bool]
    """Written by the agent for the model (``/fix`` with a model), never shown."""


class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: str
    """What the model wrote (redacted), tool calls included."""
    visible: NotRequired[str]
    """What is shown: the checked answer, or the agent's own note."""
    note: NotRequired[bool]
    """The agent's own notice, not the model's."""
    stopped: NotRequired[bool]
    calls: NotRequired[list[ToolCallData]]
    sources: NotRequired[list[BlockRef]]
    cited: NotRequired[list[int]]
    sentences: NotRequired[list[SentenceData]]
    withheld: NotRequired[list[str]]


Message = ToolMessage | UserMessage | AssistantMessage


# --- a turn's input -------------------------------------------------------------------


class JobData(TypedDict, total=False):
    """The failed job a thread is about (``SeedContext.to_state()``), texts redacted."""

    job_id: str
    job_name: str | None
    category: str | None
    exception: str | None
    key_line: str | None
    key_line_number: int | None
    root_cause: str | None
    suggested_fix: str | None
    log_path: str | None
    frame: list[str | int] | None
    """``[path, line]`` of the user's code that failed."""
    job_script: str | None


class Request(TypedDict):
    """A turn's input: a message, a seed, or an observation."""

    kind: Literal["message", "seed", "observe"]
    text: NotRequired[str]
    job: NotRequired[JobData]
    label: NotRequired[str]
    content: NotRequired[str]
    to_model: NotRequired[bool]
    """``/fix`` handed on to the model."""


# --- writes -----------------------------------------------------------------------------

PlanKind = Literal["edit", "create", "move", "restore", "delete", "call"]


class Plan(TypedDict):
    """A validated write and what approval shows; nothing is written until it is applied.

    ``kind`` ``call`` is a call of an extra tool that declares itself a write: its
    ``diff`` shows the arguments.
    """

    kind: PlanKind
    path: str
    dest: str | None
    before_sha: str | None
    diff: str
    hunks: list[str]
    summary: str
    proposal_id: NotRequired[str]
    """This proposal's id in the journal (missing in plans saved before proposals had ids)."""
    backup_id: NotRequired[int]
    """The backup an undo restores."""


ReviewDecision = Literal["read", "invalid", "automatic", "ask", "approved", "denied"]


class ReviewEntry(TypedDict):
    """A reviewed tool call: its plan (writes) and who decided what."""

    call: ToolCallData
    plan: Plan | None
    error: str | None
    hunks: list[int] | None
    decision: ReviewDecision


class ActionData(TypedDict):
    """One write waiting for a person, as the approval request shows it."""

    call_id: str
    tool: str
    kind: PlanKind
    path: str
    dest: str | None
    summary: str
    diff: str
    hunks: list[str]


class ApprovalRequest(TypedDict):
    """What a paused thread waits on (the payload of langgraph's interrupt)."""

    thread_id: str
    actions: list[ActionData]
    proposal: NotRequired[str | None]


class Decision(TypedDict, total=False):
    """A person's answer to one waiting write."""

    approve: bool
    hunks: list[int] | None
    always: str | None


class Resume(TypedDict):
    """The value a paused thread resumes with."""

    decisions: dict[str, Decision]


# --- events a turn streams ----------------------------------------------------------------


class TokenData(TypedDict):
    type: Literal["token"]
    text: str


class ToolData(TypedDict):
    type: Literal["tool"]
    message: ToolMessage


GraphEvent = TokenData | ToolData
