"""``ChatWidget``: the chat about a run, in ipywidgets only (no JavaScript of ours, nothing fetched).

A thin front end over the manager's chat API (:class:`~adaptive_llm_local.manager.ChatAPI`:
``llm.stream``, ``llm.stream_decide``, ``llm.history``, ``llm.pending``,
``llm.failure_groups``, ``llm.diagnoses``, ``llm.yolo``, ``llm.on_thread_update``). Every call that waits runs in a task on the kernel's running event loop,
so a click returns at once, tokens stream into the page and other cells keep running.
Background tasks only update widgets; they never print.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import ipywidgets as w

from ..agent import ApprovalEvent, DoneEvent, Event, TokenEvent, ToolEvent
from ..manager.chat_api import ChatAPI, FailureGroup
from ..triage import redact
from ..visible import visible
from .approval import ApprovalPanel
from .failures import RUN_THREAD, Fingerprint, failure_options, fingerprint, thread_for
from .messages import (
    assistant_html,
    diagnosis_html,
    error_html,
    history_html,
    notice_html,
    tool_html,
    user_html,
)
from .render import escape
from .style import style_tag

log = logging.getLogger(__name__)

YOLO_OFF = "YOLO off"
YOLO_ON = "⚠ YOLO ON"
YOLO_BANNER = (
    '<div class="alm-yolo-on">⚠ YOLO is ON: proposed edits are applied without asking '
    "(each one is still logged). Switch it off to approve every change yourself.</div>"
)
_STREAM_REDRAW_S = 0.08


class ChatWidget:
    """The chat panel: failed jobs on the left, the open thread on the right.

    Parameters
    ----------
    llm
        The run's ``LLMManager`` (``attach(run_manager)``), or anything else with its
        chat API.
    refresh_interval
        Seconds between looks for new failures (and YOLO switched elsewhere).
    """

    def __init__(self, llm: ChatAPI, *, refresh_interval: float = 2.0) -> None:
        self.llm = llm
        self.thread_id = RUN_THREAD
        self.refresh_interval = refresh_interval
        self._groups: list[FailureGroup] = []
        self._fingerprint: Fingerprint | None = None
        self._task: asyncio.Task[None] | None = None
        self._loading: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._stale: set[str] = set()
        self._switching = False
        self._busy = False

        self.style_html = w.HTML(style_tag())
        self.failures = w.Select(options=[], rows=14, layout=w.Layout(width="100%"))
        self.refresh_button = w.Button(description="refresh list", layout=w.Layout(width="auto"))
        self.yolo = w.ToggleButton(
            value=bool(llm.yolo),
            description=YOLO_OFF,
            tooltip="YOLO: apply proposed edits without asking",
            layout=w.Layout(width="auto"),
        )
        self.yolo_banner = w.HTML("")
        self.title = w.HTML("")
        self.busy = w.HTML("")
        self.stop_button = w.Button(
            description="■ Stop",
            disabled=True,
            layout=w.Layout(width="auto"),
        )
        self.thread = w.VBox([])
        self.thread.add_class("alm-thread")
        self.approvals = ApprovalPanel()
        self.approval = self.approvals.box
        self.approval_html = self.approvals.html
        self.hunks = self.approvals.hunks
        self.approve_button = self.approvals.approve_button
        self.deny_button = self.approvals.deny_button
        self.input = w.Textarea(
            placeholder="Ask about this failure or the run; /help lists commands (/read, /fix, …)",
            rows=2,
            layout=w.Layout(width="100%"),
        )
        self.send_button = w.Button(description="Send", button_style="primary")

        self.failures.observe(self._on_select, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.yolo.observe(self._on_yolo, names="value")
        self.stop_button.on_click(lambda _: self.stop())
        self.send_button.on_click(lambda _: self.send_message())
        self.approve_button.on_click(lambda _: self.decide(True))
        self.deny_button.on_click(lambda _: self.decide(False))

        left = w.VBox(
            [w.HTML("<b>Failed jobs</b> (grouped by failure)"), self.failures, self.refresh_button],
            layout=w.Layout(width="36%"),
        )
        right = w.VBox(
            [
                w.HBox([self.title, self.busy, self.stop_button]),
                self.thread,
                self.approval,
                self.input,
                w.HBox([self.send_button]),
            ],
            layout=w.Layout(width="64%"),
        )
        header = w.HBox([w.HTML("<b>Chat about this run</b>"), self.yolo])
        self.box = w.VBox([self.style_html, header, self.yolo_banner, w.HBox([left, right])])
        self.box.add_class("alm-chat")
        self._show_yolo(bool(llm.yolo))
        self.refresh()
        self.open_thread(RUN_THREAD)
        self._start_refresher()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    # --- state ---------------------------------------------------------------------

    @property
    def busy_now(self) -> bool:
        """A turn or a decision is running."""
        return self._busy

    async def wait(self) -> None:
        """Wait for the running turn and the thread being loaded (tests, notebooks)."""
        for task in (self._task, self._loading):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)

    def close(self) -> None:
        for task in (self._refresher, self._loading, self._task):
            if task is not None:
                task.cancel()
        self.box.close()

    # --- failures list ------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the failed-job list if new failures landed; pick up YOLO changes."""
        if bool(self.llm.yolo) != self.yolo.value:
            self.yolo.value = bool(self.llm.yolo)
        groups = list(self.llm.failure_groups())
        self._groups = groups
        current = fingerprint(groups)
        if current == self._fingerprint:
            return
        self._fingerprint = current
        value = self.failures.value
        self._switching = True
        try:
            self.failures.options = failure_options(groups, self.llm.diagnoses)
            values = {v for _, v in self.failures.options}
            self.failures.value = value if value in values else self._value_of(self.thread_id)
        finally:
            self._switching = False

    def _value_of(self, thread_id: str) -> str | None:
        value = RUN_THREAD if thread_id == RUN_THREAD else f"job:{thread_id}"
        return value if value in {v for _, v in self.failures.options} else None

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._switching:
            return
        thread_id = thread_for(change["new"], self._groups)
        if thread_id is not None and thread_id != self.thread_id:
            self.open_thread(thread_id)

    def _start_refresher(self) -> None:
        loop = _running_loop()
        if loop is None or self.refresh_interval <= 0:
            return
        hook = self.llm.on_thread_update

        def updated(thread_id: str) -> None:
            self._stale.add(str(thread_id))
            if hook is not None:
                hook(thread_id)

        self.llm.on_thread_update = updated
        self._refresher = loop.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                self.refresh()
                if self.thread_id in self._stale and not self.busy_now:
                    self._stale.discard(self.thread_id)
                    await self._load(self.thread_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep refreshing; never print from here
                log.debug("chat refresh failed", exc_info=True)

    # --- a thread -----------------------------------------------------------------

    def open_thread(self, thread_id: str) -> None:
        """Show ``thread_id``: a job's stored diagnosis at once, then its history."""
        if self.busy_now:
            self._switching = True
            self.failures.value = self._value_of(self.thread_id)
            self._switching = False
            return
        self.thread_id = thread_id
        self.approvals.show(None, enabled=False)
        self.title.value = (
            "<b>the whole run</b>"
            if thread_id == RUN_THREAD
            else f"<b>job {escape(visible(thread_id))}</b>"
        )
        self._show(self._head(thread_id))
        value = self._value_of(thread_id)
        if value is not None and self.failures.value not in (
            value,
            f"group:{self._sig(thread_id)}",
        ):
            self._switching = True
            self.failures.value = value
            self._switching = False
        if self._loading is not None:
            self._loading.cancel()
        loop = _running_loop()
        if loop is not None:
            self._loading = loop.create_task(self._load_shown(thread_id))

    def _sig(self, thread_id: str) -> str | None:
        diagnosis = self.llm.diagnoses.get(thread_id)
        return diagnosis.signature if diagnosis is not None else None

    def _head(self, thread_id: str) -> list[w.Widget]:
        diagnosis = self.llm.diagnoses.get(thread_id) if thread_id != RUN_THREAD else None
        if diagnosis is None:
            text = (
                "Ask about the whole run: failures, logs, settings. "
                "Pick a failed job on the left to talk about it."
            )
            return [w.HTML(notice_html(text))]
        return [w.HTML(diagnosis_html(diagnosis, job_id=thread_id))]

    async def _load(self, thread_id: str) -> None:
        items = await self.llm.history(thread_id)
        pending = await self.llm.pending(thread_id)
        if thread_id != self.thread_id:
            return
        self._show([*self._head(thread_id), *(w.HTML(html) for html in history_html(items))])
        self.approvals.show(pending, enabled=not self._busy)

    # --- sending ------------------------------------------------------------------

    def send_message(self, text: str | None = None) -> asyncio.Task[None] | None:
        """Send the input box's text (or ``text``); returns at once with the turn's task."""
        message = (self.input.value if text is None else text).strip()
        if not message or self.busy_now:
            return None
        self.input.value = ""
        self._append(user_html(redact(message)))  # as the thread keeps it
        thread_id = self.thread_id
        return self._run(lambda: self.llm.stream(message, thread_id=thread_id), thread_id)

    def decide(self, approve: bool) -> asyncio.Task[None] | None:
        """Approve or deny the pending change; a second click does nothing."""
        shown = self.approvals.pending
        decision = None if self.busy_now else self.approvals.take(approve)
        if decision is None:
            return None
        approve, hunks = decision
        thread_id = self.thread_id
        # the id of what was shown: refused if another session decided it meanwhile
        proposal = shown.id if shown is not None and shown.id else None
        return self._run(
            lambda: self.llm.stream_decide(
                thread_id, approve=approve, hunks=hunks, proposal=proposal
            ),
            thread_id,
        )

    def stop(self) -> None:
        """Cancel the running generation (the thread stays usable)."""
        if self.busy_now and self._task is not None:
            self.stop_button.disabled = True
            self.busy.value = '<span class="alm-busy">stopping…</span>'
            self._task.cancel()

    def _run(
        self, events: Callable[[], AsyncIterator[Event]], thread_id: str
    ) -> asyncio.Task[None] | None:
        loop = _running_loop()
        if loop is None:
            self._append(error_html("No running event loop: use the chat inside a notebook."))
            return None
        self._set_busy(True)
        self._task = loop.create_task(self._turn(events, thread_id))
        return self._task

    async def _turn(self, events: Callable[[], AsyncIterator[Event]], thread_id: str) -> None:
        streaming: w.HTML | None = None
        answer = ""
        drawn_at = 0.0
        loop = asyncio.get_running_loop()
        notes: list[str] = []
        stream: AsyncIterator[Event] | None = None
        try:
            stream = events()
            async for event in stream:
                if isinstance(event, TokenEvent):
                    answer += event.text
                    if streaming is None:
                        streaming = self._append(assistant_html(answer, streaming=True))
                    elif loop.time() - drawn_at >= _STREAM_REDRAW_S:
                        streaming.value = assistant_html(answer, streaming=True)
                        drawn_at = loop.time()
                elif isinstance(event, ToolEvent):
                    self._append(tool_html(event.step))
                elif isinstance(event, ApprovalEvent):
                    self.approvals.show(event.pending, enabled=False)
                elif isinstance(event, DoneEvent) and streaming is not None:
                    streaming.value = assistant_html(answer)
        except asyncio.CancelledError:
            notes.append(notice_html("Stopped: the answer so far is kept; ask again any time."))
        except Exception as exc:  # shown in the chat, never printed
            notes.append(error_html(_one_line(exc)))
        finally:
            if isinstance(stream, AsyncGenerator):
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await stream.aclose()
        try:
            if thread_id == self.thread_id:
                await self._load(thread_id)  # the thread as stored: the one source of truth
        except Exception as exc:
            notes.append(error_html(_one_line(exc)))
        finally:
            for note in notes:
                self._append(note)
            self._set_busy(False)

    async def _load_shown(self, thread_id: str) -> None:
        """:meth:`_load`, with a failure shown in the thread (never raised into the loop)."""
        try:
            await self._load(thread_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._append(error_html(_one_line(exc)))

    # --- YOLO and busy --------------------------------------------------------------

    def _on_yolo(self, change: dict[str, Any]) -> None:
        on = bool(change["new"])
        self.llm.yolo = on
        self._show_yolo(on)

    def _show_yolo(self, on: bool) -> None:
        self.yolo.description = YOLO_ON if on else YOLO_OFF
        self.yolo.button_style = "danger" if on else ""
        self.yolo_banner.value = YOLO_BANNER if on else ""

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.approvals.enable(not busy)
        self.busy.value = '<span class="alm-busy">● working…</span>' if busy else ""
        self.stop_button.disabled = not busy
        self.stop_button.button_style = "warning" if busy else ""
        self.send_button.disabled = busy
        self.failures.disabled = busy

    @property
    def items(self) -> tuple[w.HTML, ...]:
        """The open thread's bubbles, oldest first."""
        return tuple(reversed(self.thread.children))

    def _show(self, items: list[w.HTML]) -> None:
        # Newest first in a column-reverse box: the view stays at the newest message
        # as tokens stream in, without any JavaScript.
        self.thread.children = tuple(reversed(items))

    def _append(self, html: str) -> w.HTML:
        item = w.HTML(html)
        self.thread.children = (item, *self.thread.children)
        return item


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def chat_widget(llm: ChatAPI, *, refresh_interval: float = 2.0) -> ChatWidget:
    """The chat panel for ``llm`` (an attached ``LLMManager``); display it in a notebook.

    Parameters
    ----------
    llm
        ``attach(run_manager)``'s manager.
    refresh_interval
        Seconds between looks for new failures.
    """
    return ChatWidget(llm, refresh_interval=refresh_interval)


__all__ = ["ChatWidget", "chat_widget"]
