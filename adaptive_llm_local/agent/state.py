"""The state of a chat thread and how a turn moves between its steps.

A turn flows through these steps (``graph.py`` wires them with langgraph)::

    request -> seed | command | model -> review -> [approval] -> tools -> model | end

:mod:`.turns` has the steps a turn starts with, :mod:`.approvals` what happens to the
tool calls they ask for. Nothing here imports langgraph, so every step is testable alone.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypedDict

from ..triage import redact
from .commands import parse_command
from .journal import Journal
from .tools import Toolbox, ToolResult
from .types import (
    ApprovalRequest,
    AssistantMessage,
    GraphEvent,
    JobData,
    Message,
    Origin,
    Plan,
    Request,
    Resume,
    ReviewEntry,
    ToolCallData,
    ToolMessage,
)

if TYPE_CHECKING:
    from ..runtime.types import ChatModel

Emit = Callable[[GraphEvent], None]
Ask = Callable[[ApprovalRequest], Resume | None]
FINISH = "finish"  # the turn is over


class AgentState(TypedDict, total=False):
    """A thread as langgraph checkpoints it (JSON-able values only); a step returns the
    keys it changes (``messages`` are appended)."""

    thread_id: str
    messages: Annotated[list[Message], operator.add]
    request: Request  # this turn's input
    origin: Origin  # who asked for the pending calls: "model", "command" or "seed"
    pending: list[ToolCallData]  # tool calls waiting for review
    review: list[ReviewEntry]  # reviewed calls with their plan and decision
    proposal: str  # id of the reviewed calls' approval request (decisions must name it)
    steps: int  # model calls in this turn
    job: JobData  # the failed job the thread is about (for /fix and /log)


@dataclass
class Deps:
    """What the steps use: tools, journal, model and the live settings."""

    toolbox: Toolbox
    journal: Journal
    model: ChatModel | None
    tool_format: str | None
    yolo: Callable[[], bool]
    redact: Callable[[str], str]
    max_tokens: int = 320
    max_steps: int = 6
    auto_search: bool = True
    temperature: float = 0.0
    stopped: Callable[[str], bool] = lambda thread_id: False
    """Whether the turn running in a thread was stopped (checked at every token)."""


def next_n(messages: Sequence[Message]) -> int:
    return 1 + max((int(m["n"]) for m in messages if m["role"] == "tool" and "n" in m), default=0)


def note(text: str) -> AssistantMessage:
    return {"role": "assistant", "content": text, "visible": text, "note": True}


def tool_message(call: ToolCallData, result: ToolResult, n: int, origin: Origin) -> ToolMessage:
    """A tool step as the thread keeps it: what it read enters the thread redacted, so
    every later reader (terminal, notebook, checkpoints, prompts) sees only that."""
    return {
        "role": "tool",
        "name": call["name"],
        "call_id": call["id"],
        "args": dict(call.get("args", {})),
        "content": redact(result.content),
        "ok": result.ok,
        "label": redact(result.label),
        "n": n,
        "origin": origin,
    }


def write_plan(entry: ReviewEntry) -> Plan:
    """The plan of a reviewed write (every entry but a read or an invalid call has one)."""
    plan = entry["plan"]
    if plan is None:
        raise ValueError(f"the reviewed call {entry['call']['id']} has no plan")
    return plan


# --- routing -------------------------------------------------------------------------


def route_request(state: AgentState) -> str:
    request = state.get("request")
    if request is not None and request["kind"] in ("seed", "observe"):
        return request["kind"]
    if request is not None and parse_command(request.get("text", "")) is not None:
        return "command"
    return "model"


def after_command(state: AgentState) -> str:
    if state.get("pending"):
        return "review"
    if state.get("request", {}).get("to_model"):
        return "model"
    return FINISH


def after_model(state: AgentState) -> str:
    return "review" if state.get("pending") else FINISH


def after_review(state: AgentState) -> str:
    return "approval" if any(e["decision"] == "ask" for e in state.get("review", [])) else "tools"


def after_tools(state: AgentState) -> str:
    return "model" if state.get("origin") == "model" else FINISH
