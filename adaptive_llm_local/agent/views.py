"""How a thread's saved messages are shown: a turn's result, history items, a pending approval.

Pure functions over the JSON messages langgraph keeps (no I/O, no graph).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .grounding import sentences_of
from .results import (
    ChatResult,
    HistoryItem,
    PendingApproval,
    ProposedAction,
    SourceRef,
    ToolStep,
    sources_of,
)
from .types import ApprovalRequest, Message

if TYPE_CHECKING:
    from ..diagnose.sentences import Sentence

_TOOL_KINDS = {"seed": "seed", "observe": "observe", "auto": "search"}


def pending_approval(
    thread_id: str, interrupts: Sequence[ApprovalRequest]
) -> PendingApproval | None:
    """The approval a thread waits for, from the graph's interrupts (``None``: none)."""
    actions = [ProposedAction.from_payload(a) for payload in interrupts for a in payload["actions"]]
    if not actions:
        return None
    # saved before proposals had ids: the call ids (unique in a thread) stand in
    ids = [str(p.get("proposal") or "") for p in interrupts]
    proposal = "+".join(ids) if all(ids) else "+".join(a.call_id for a in actions)
    return PendingApproval(thread_id, tuple(actions), proposal)


def turn_result(
    thread_id: str, messages: Sequence[Message], pending: PendingApproval | None
) -> ChatResult:
    """A turn's result from the messages it added."""
    steps = [ToolStep.from_message(m) for m in messages if m["role"] == "tool"]
    texts: list[str] = []
    sources: list[SourceRef] = []
    cited: list[int] = []
    sentences: list[Sentence] = []
    stopped = False
    for m in messages:
        if m["role"] == "assistant" and m.get("visible"):
            texts.append(str(m.get("visible")))
            stopped = stopped or bool(m.get("stopped"))
            if "sources" in m:
                sources, cited = sources_of(m["sources"]), list(m.get("cited", []))
                sentences = sentences_of(m.get("sentences", []))
        elif m["role"] == "tool" and m.get("origin") == "command":
            texts.append(str(m["content"]))
        elif m["role"] == "tool" and m.get("origin") in ("seed", "observe"):
            texts.append(f"[{m['n']}] {m['label']}")
    if pending is not None and not texts:
        texts.append("; ".join(a.summary for a in pending.actions) + ": approve?")
    return ChatResult(
        thread_id, "\n\n".join(texts), steps, sources, cited, pending, sentences, stopped
    )


def history_item(message: Message, diffs: Mapping[str, str]) -> HistoryItem | None:
    """How a thread message is shown (``None``: an internal prompt, not shown)."""
    if message["role"] == "tool":
        kind = _TOOL_KINDS.get(str(message.get("origin")), "step")
        return HistoryItem(
            "tool",
            kind,
            str(message.get("content", "")),
            tool=message.get("name"),
            label=message.get("label"),
            n=message.get("n"),
            ok=bool(message.get("ok", True)),
            args=dict(message.get("args", {})),
            diff=diffs.get(str(message.get("call_id"))),
        )
    if message["role"] == "assistant":
        return HistoryItem(
            "assistant",
            "note" if message.get("note") else "answer",
            str(message.get("visible", message.get("content", ""))),
            cited=tuple(message.get("cited", ())),
            sources=tuple(sources_of(message.get("sources", []))),
            sentences=tuple(sentences_of(message.get("sentences", []))),
            stopped=bool(message.get("stopped")),
        )
    if message.get("generated"):
        return None
    kind = "command" if message.get("command") else "message"
    return HistoryItem("user", kind, str(message.get("content", "")))
