"""Deterministic widget logic against a scripted chat API (the real run is in test_widget_chat.py).

The scripted stand-in only fixes what the model and the agent answer, so that per-hunk
choices, double clicks, errors, Stop and YOLO can be checked exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from widget_helpers import bubbles

from adaptive_llm_local.agent import (
    ApprovalEvent,
    ChatResult,
    DoneEvent,
    PendingApproval,
    ProposedAction,
    TokenEvent,
)
from adaptive_llm_local.widget import chat_widget

HUNKS = ("@@ -1 +1 @@\n-a\n+b\n", "@@ -5 +5 @@\n-c\n+d\n", "@@ -9 +9 @@\n-e\n+f\n")
PENDING = PendingApproval(
    "run",
    (ProposedAction("c1", "write_file", "edit", "x.py", None, "edit x.py", "".join(HUNKS), HUNKS),),
    "p-41",
)


class ScriptedChat:
    """The chat API members the widget uses, answering from a script."""

    def __init__(self) -> None:
        self.yolo = False
        self.diagnoses: dict[str, Any] = {}
        self.decisions: list[dict[str, Any]] = []
        self.proposals: list[Any] = []
        self.pending_now: PendingApproval | None = None
        self.endless = False
        self.fail_with: Exception | None = None
        self.closed_streams = 0

    def failure_groups(self) -> list[Any]:
        return []

    async def history(self, thread_id: str) -> list[Any]:
        return []

    async def pending(self, thread_id: str) -> PendingApproval | None:
        return self.pending_now

    async def stream(self, message: str, thread_id: str | None = None) -> AsyncIterator[Any]:
        try:
            if self.fail_with is not None:
                raise self.fail_with
            for word in ("Fine", " thanks"):
                yield TokenEvent(word)
                await asyncio.sleep(0)
            while self.endless:
                yield TokenEvent(" more")
                await asyncio.sleep(0.01)
            if message == "/fix":
                self.pending_now = PENDING
                yield ApprovalEvent(PENDING)
            yield DoneEvent(ChatResult(thread_id or "run", "Fine thanks", pending=self.pending_now))
        finally:
            self.closed_streams += 1

    async def stream_decide(
        self,
        thread_id: str,
        approve: bool = True,
        hunks: Any = None,
        always: Any = None,
        proposal: Any = None,
    ) -> AsyncIterator[Any]:
        self.decisions.append({"approve": approve, "hunks": hunks})
        self.proposals.append(proposal)
        await asyncio.sleep(0.05)
        self.pending_now = None
        yield DoneEvent(ChatResult(thread_id, "applied" if approve else "denied"))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_per_hunk_choice_and_a_double_click_decides_once() -> None:
    async def main() -> ScriptedChat:
        llm = ScriptedChat()
        chat = chat_widget(llm, refresh_interval=0)
        chat.send_message("/fix")
        await chat.wait()
        assert [box.description for box in chat.hunks.children] == ["hunk 1", "hunk 2", "hunk 3"]
        chat.hunks.children[1].value = False
        chat.approve_button.click()
        chat.approve_button.click()
        chat.deny_button.click()
        await chat.wait()
        assert chat.approval.children == ()
        return llm

    llm = run(main())
    assert llm.decisions == [{"approve": True, "hunks": [1, 3]}]
    assert llm.proposals == ["p-41"]  # the decision names the proposal it was shown


def test_unticking_every_hunk_denies() -> None:
    async def main() -> ScriptedChat:
        llm = ScriptedChat()
        chat = chat_widget(llm, refresh_interval=0)
        chat.send_message("/fix")
        await chat.wait()
        for box in chat.hunks.children:
            box.value = False
        chat.approve_button.click()
        await chat.wait()
        return llm

    assert run(main()).decisions == [{"approve": False, "hunks": None}]


def test_stop_cancels_an_endless_answer_and_the_thread_stays_usable() -> None:
    async def main() -> tuple[ScriptedChat, Any]:
        llm = ScriptedChat()
        llm.endless = True
        chat = chat_widget(llm, refresh_interval=0)
        task = chat.send_message("hello")
        assert task is not None and chat.busy_now
        assert chat.send_message("second while busy") is None
        await asyncio.sleep(0.2)
        assert any("alm-busy" in b for b in bubbles(chat, "assistant"))
        chat.stop()
        await asyncio.wait_for(chat.wait(), 5)
        assert not chat.busy_now and chat.stop_button.disabled and not chat.send_button.disabled
        assert any("Stopped" in b for b in bubbles(chat, "tool"))
        llm.endless = False
        chat.send_message("again")
        await chat.wait()
        return llm, chat

    llm, _chat = run(main())
    assert llm.closed_streams == 2


def test_a_failing_turn_shows_one_line_and_never_raises() -> None:
    async def main() -> Any:
        llm = ScriptedChat()
        llm.fail_with = RuntimeError("thread 'run' waits for your decision\nsecond line")
        chat = chat_widget(llm, refresh_interval=0)
        chat.send_message("hi")
        await chat.wait()
        return chat

    chat = run(main())
    errors = bubbles(chat, "error")
    assert len(errors) == 1 and "waits for your decision" in errors[0]
    assert "second line" not in errors[0]


def test_yolo_follows_the_manager_and_the_toggle() -> None:
    async def main() -> tuple[ScriptedChat, Any]:
        llm = ScriptedChat()
        chat = chat_widget(llm, refresh_interval=0)
        assert chat.yolo_banner.value == ""
        llm.yolo = True  # e.g. "/yolo on" typed in the chat
        chat.refresh()
        assert chat.yolo.value and "YOLO is ON" in chat.yolo_banner.value
        chat.yolo.value = False
        return llm, chat

    llm, chat = run(main())
    assert llm.yolo is False and chat.yolo.button_style == ""


def test_without_a_running_loop_the_widget_says_so() -> None:
    chat = chat_widget(ScriptedChat(), refresh_interval=0)
    assert chat.send_message("hi") is None
    assert "No running event loop" in bubbles(chat, "error")[0]


def test_switching_threads_waits_for_the_running_turn() -> None:
    async def main() -> Any:
        llm = ScriptedChat()
        llm.endless = True
        llm.diagnoses = {}
        chat = chat_widget(llm, refresh_interval=0)
        chat.send_message("hello")
        chat.open_thread("7")
        assert chat.thread_id == "run"
        chat.stop()
        await chat.wait()
        return chat

    assert run(main()).thread_id == "run"


def test_the_chat_displays_as_a_widget_view() -> None:
    chat = chat_widget(ScriptedChat(), refresh_interval=0)
    bundle = chat._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == chat.box.model_id
