"""A stand-in for issue 11b's chat API on ``LLMManager`` (CHAT_API.md), over 11a's ``Agent``.

Only for tests while 11b is not merged: :func:`install` adds the members the widget uses
(``agent``, ``yolo``, ``chat``, ``decide``, ``stream``, ``stream_decide``, ``history``,
``pending``, ``threads``, ``failure_groups``) to ``LLMManager`` when it does not have
them, and does nothing once it does. Delete this file when 11b lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class _Stopped(Exception):
    """Raised from the token callback when the stream's consumer went away."""


class StoppableModel:
    """The chat model with a stop flag checked at every token (Stop in the widget)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.stop = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def chat(self, messages: Any, **kwargs: Any) -> Any:
        on_token = kwargs.get("on_token")

        def token(text: str) -> None:
            if self.stop.is_set():
                raise _Stopped("stopped")
            if on_token is not None:
                on_token(text)

        kwargs["on_token"] = token
        return self.model.chat(messages, **kwargs)


@dataclass(frozen=True)
class FailureGroup:
    signature: str
    category: str
    count: int
    job_ids: tuple[str, ...]
    summary: str
    diagnosis: Any


def run_folder(run_manager: Any) -> Path:
    paths = [Path(str(f)).resolve().parent for f in getattr(run_manager, "fnames", [])]
    log_folder = getattr(getattr(run_manager, "scheduler", None), "log_folder", None)
    if log_folder:
        paths.append(Path(log_folder).resolve())
    return Path(os.path.commonpath([str(p) for p in paths])) if paths else Path.cwd()


async def _relay(events: AsyncIterator[Any], model: StoppableModel) -> AsyncIterator[Any]:
    """``events`` from a task of its own, so a cancelled consumer can stop the model first."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(("event", event))
            await queue.put(("done", None))
        except BaseException as exc:
            await queue.put(("error", exc))

    task = asyncio.get_running_loop().create_task(pump())
    try:
        while True:
            kind, value = await queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        if not task.done():
            model.stop.set()
            with contextlib.suppress(BaseException):
                await task
        model.stop.clear()


class ChatShim:
    """The members 11b adds to ``LLMManager`` (see CHAT_API.md)."""

    @property
    def agent(self: Any) -> Any:
        agent = self.__dict__.get("_shim_agent")
        if agent is None:
            from adaptive_llm_local.agent import Agent
            from adaptive_llm_local.triage import redact

            retriever = self.assistant.retriever
            search = (lambda q, k: retriever.search(q, k=k)) if retriever is not None else None
            agent = Agent(
                StoppableModel(self.assistant.model),
                root=run_folder(self.run_manager),
                state_dir=Path(self.settings.database_path).parent / "agent",
                search=search,
                redact=redact,
            )
            self.__dict__["_shim_agent"] = agent
        return agent

    @property
    def yolo(self: Any) -> bool:
        return bool(self.agent.yolo)

    @yolo.setter
    def yolo(self: Any, value: bool) -> None:
        self.agent.yolo = bool(value)

    def failure_groups(self: Any) -> list[FailureGroup]:
        from adaptive_llm_local.manager import group_by_signature

        return [
            FailureGroup(
                g["signature"],
                g["category"],
                g["count"],
                tuple(g["jobs"]),
                g["summary"],
                self.diagnoses[g["jobs"][0]],
            )
            for g in group_by_signature(self.diagnoses)
        ]

    def threads(self: Any) -> list[str]:
        return ["run", *sorted(self.__dict__.setdefault("_shim_seeded", set()))]

    async def stream(self: Any, message: str, thread_id: str | None = None) -> AsyncIterator[Any]:
        from adaptive_llm_local.agent import SeedContext, ToolEvent

        tid = thread_id or "run"
        agent = self.agent
        diagnosis = self.diagnoses.get(tid)
        seeded = self.__dict__.setdefault("_shim_seeded", set())
        if diagnosis is not None and tid not in seeded:
            result = await agent.seed_thread(tid, SeedContext.from_diagnosis(diagnosis))
            seeded.add(tid)
            for step in result.steps:
                yield ToolEvent(step)
        async for event in _relay(agent.stream(message, tid), agent.model):
            yield event

    async def stream_decide(
        self: Any,
        thread_id: str | None,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
    ) -> AsyncIterator[Any]:
        agent = self.agent
        events = agent.stream_decide(thread_id or "run", approve, hunks=hunks, always=always)
        async for event in _relay(events, agent.model):
            yield event

    async def chat(self: Any, message: str, thread_id: str | None = None) -> Any:
        from adaptive_llm_local.agent import DoneEvent

        result = None
        async for event in self.stream(message, thread_id):
            if isinstance(event, DoneEvent):
                result = event.result
        return result

    async def decide(
        self: Any,
        thread_id: str | None,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
    ) -> Any:
        from adaptive_llm_local.agent import DoneEvent

        result = None
        async for event in self.stream_decide(thread_id, approve, hunks, always):
            if isinstance(event, DoneEvent):
                result = event.result
        return result

    async def history(self: Any, thread_id: str | None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.agent.history, thread_id or "run")

    async def pending(self: Any, thread_id: str | None) -> Any:
        return await asyncio.to_thread(self.agent.pending, thread_id or "run")


MEMBERS = (
    "agent",
    "yolo",
    "failure_groups",
    "threads",
    "stream",
    "stream_decide",
    "chat",
    "decide",
    "history",
    "pending",
)


def install() -> bool:
    """Give ``LLMManager`` the chat API if it lacks it; ``True`` when the shim was installed."""
    from adaptive_llm_local.manager import LLMManager

    if hasattr(LLMManager, "stream") and hasattr(LLMManager, "failure_groups"):
        return False
    for name in MEMBERS:
        setattr(LLMManager, name, ChatShim.__dict__[name])
    return True
