"""The chat widget driven directly (clicks, submit, approve, deny, stop, YOLO) against a real run.

A real ``RunManager`` on the local scheduler whose job fails with a ``TabError``, the real
``LLMManager`` and the real default model: the whole loop a user makes in a notebook,
from the failed job to the next attempt that succeeds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from widget_helpers import bubbles, until

from adaptive_llm_local import attach, chat_widget
from adaptive_llm_local.examples.chat_run import build_example_run, learner_done
from adaptive_llm_local.widget.chat import YOLO_OFF, YOLO_ON


def applied(llm: Any, job: str) -> list[Any]:
    return [r for r in llm.agent.audit(job) if r.event == "applied"]


async def one_turn(chat: Any, text: str) -> None:
    chat.input.value = text
    chat.send_button.click()
    assert chat.busy_now  # the click returned at once; the turn runs in a task
    await chat.wait()
    assert not chat.busy_now


@pytest.mark.slow
def test_the_whole_loop_in_the_widget_with_the_real_model(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    code = folder / "model_code.py"

    async def main() -> dict[str, Any]:
        rm = build_example_run(folder, retry_every=6.0)
        llm = attach(rm, interval=0.5)
        rm.start()
        try:
            await until(lambda: llm.diagnoses, 400, "the first diagnosis")
            return await drive(rm, llm)
        finally:
            rm.cancel()
            llm.cancel()
            await asyncio.sleep(0)
            await asyncio.to_thread(rm.scheduler.cancel_all, timeout=10)

    async def drive(rm: Any, llm: Any) -> dict[str, Any]:
        chat = chat_widget(llm, refresh_interval=0.5)
        job = next(iter(llm.diagnoses))
        labels = [label for label, _ in chat.failures.options]
        assert labels[0].startswith("◆ the whole run")
        assert any("× syntax_error" in label for label in labels), labels

        # selecting a job shows its stored diagnosis at once, without a model call
        calls = llm.model_calls
        chat.failures.value = f"job:{job}"
        assert chat.thread_id == job
        head = chat.items[0].value
        assert "stored diagnosis" in head and "TabError" in head
        assert "alm-s-model" in head or "alm-s-rule" in head or "alm-s-fact" in head
        await chat.wait()
        assert llm.model_calls == calls

        # a question: the real model's tokens stream into a bubble marked as model-written
        chat.input.value = "What does this TabError mean?"
        chat.send_button.click()
        assert chat.busy_now and chat.send_button.disabled and not chat.stop_button.disabled
        seen: set[str] = set()
        while chat.busy_now:
            streaming = [b for b in bubbles(chat, "assistant") if "alm-busy" in b]
            if streaming:
                seen.add(streaming[-1])
            await asyncio.sleep(0.02)
        await chat.wait()
        assert len(seen) >= 2, "the answer did not stream"
        answer = bubbles(chat, "assistant")[-1]
        assert "alm-origin" in answer and "alm-busy" not in answer
        assert any("[1] diagnosis of job" in t for t in bubbles(chat, "tool"))  # seeded thread

        # Stop cancels the generation; the thread stays usable
        chat.input.value = "Explain every line of the log in detail, one paragraph each."
        chat.send_button.click()
        await until(lambda: any("alm-busy" in b for b in bubbles(chat, "assistant")), 120, "tokens")
        chat.stop_button.click()
        assert chat.stop_button.disabled
        await chat.wait()
        assert not chat.busy_now and not chat.send_button.disabled
        assert any("Stopped" in b for b in bubbles(chat, "tool"))
        await one_turn(chat, "/read model_code.py")
        assert 'class="language-python"' in bubbles(chat, "tool")[-1]
        assert '<span class="k">def</span>' in bubbles(chat, "tool")[-1]

        # /fix: the diff is highlighted; Deny leaves the file as it is
        await one_turn(chat, "/fix")
        diff = chat.approval_html.value
        assert "alm-diff" in diff and '<span class="gd">-\treturn' in diff
        assert '<span class="gi">+    return' in diff
        assert not chat.approve_button.disabled and not chat.deny_button.disabled
        chat.deny_button.click()
        assert chat.approve_button.disabled and chat.deny_button.disabled
        await chat.wait()
        assert "\t" in code.read_text() and not applied(llm, job)
        assert chat.approval.children == ()

        # new failures land while we talk: the list refreshes by itself
        before = chat.failures.options
        await until(lambda: chat.failures.options != before, 120, "a refreshed failure list")

        # /fix again, approved with a double click: applied once; the next attempt succeeds
        await one_turn(chat, "/fix")
        chat.approve_button.click()
        chat.approve_button.click()
        chat.deny_button.click()
        assert chat.approve_button.disabled and chat.deny_button.disabled
        await chat.wait()
        assert "\t" not in code.read_text()
        assert len(applied(llm, job)) == 1
        await until(lambda: learner_done(rm, "energy"), 240, "the next attempt to succeed")
        # the manager follows the attempt and the open thread shows it
        await until(
            lambda: any("next attempt" in b and "succeeded" in b for b in bubbles(chat, "tool")),
            120,
            "the next attempt's outcome in the thread",
        )

        # YOLO on: unmistakable, and the next change applies without asking
        chat.yolo.value = True
        assert llm.yolo is True and chat.yolo.description == YOLO_ON
        assert chat.yolo.button_style == "danger" and "YOLO is ON" in chat.yolo_banner.value
        await one_turn(chat, "/undo")
        assert chat.approval.children == () and "\t" in code.read_text()
        chat.yolo.value = False
        assert llm.yolo is False and chat.yolo.description == YOLO_OFF
        assert chat.yolo_banner.value == ""
        chat.close()
        return {"applied": len(applied(llm, job))}

    state = asyncio.run(main())
    assert state["applied"] == 2
