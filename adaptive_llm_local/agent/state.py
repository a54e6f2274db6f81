"""The state of a chat thread and how a turn moves between its steps.

A turn flows through these steps (``graph.py`` wires them with langgraph)::

    request -> seed | command | model -> review -> [approval] -> tools -> model | end

:mod:`.turns` has the steps a turn starts with, :mod:`.approvals` what happens to the
tool calls they ask for. Nothing here imports langgraph, so every step is testable alone.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from ..triage import redact
from .commands import parse_command
from .journal import Journal
from .tools import Toolbox, ToolResult

if TYPE_CHECKING:
    from ..runtime.types import ChatModel

Emit = Callable[[dict[str, Any]], None]
Ask = Callable[[dict[str, Any]], Any]
FINISH = "finish"  # the turn is over


class AgentState(TypedDict, total=False):
    """A thread as langgraph checkpoints it (JSON-able values only)."""

    thread_id: str
    messages: Annotated[list[dict[str, Any]], operator.add]
    request: dict[str, Any]  # this turn's input: {"kind": "message" | "seed" | "observe"}
    origin: str  # who asked for the pending calls: "model", "command" or "seed"
    pending: list[dict[str, Any]]  # tool calls waiting for review
    review: list[dict[str, Any]]  # reviewed calls with their plan and decision
    proposal: str  # id of the reviewed calls' approval request (decisions must name it)
    steps: int  # model calls in this turn
    job: dict[str, Any]  # the failed job the thread is about (for /fix and /log)


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


def next_n(messages: Sequence[Mapping[str, Any]]) -> int:
    return 1 + max((int(m["n"]) for m in messages if "n" in m), default=0)


def note(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text, "visible": text, "note": True}


def tool_message(
    call: Mapping[str, Any], result: ToolResult, n: int, origin: str
) -> dict[str, Any]:
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


# --- routing -------------------------------------------------------------------------


def route_request(state: AgentState) -> str:
    request = state.get("request") or {}
    if request.get("kind") in ("seed", "observe"):
        return str(request["kind"])
    if parse_command(str(request.get("text", ""))) is not None:
        return "command"
    return "model"


def after_command(state: AgentState) -> str:
    if state.get("pending"):
        return "review"
    if (state.get("request") or {}).get("to_model"):
        return "model"
    return FINISH


def after_model(state: AgentState) -> str:
    return "review" if state.get("pending") else FINISH


def after_review(state: AgentState) -> str:
    return "approval" if any(e["decision"] == "ask" for e in state.get("review", [])) else "tools"


def after_tools(state: AgentState) -> str:
    return "model" if state.get("origin") == "model" else FINISH
