"""Scripted stand-ins for the local model, for deterministic tests of the logic around it.

They never replace the real-model integration tests; they make the rules around the
model (reconciliation, prompt budget, queueing, caching) testable without sampling.
:class:`ScriptedModel` implements the same :class:`~adaptive_llm_local.runtime.ChatModel`
protocol as the real backends (``tests/test_protocols.py`` checks both the same way).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runtime import Completion, ModelCapabilities, ModelDescription

Reply = str | dict[str, Any] | Callable[[Sequence[dict[str, str]]], str | dict[str, Any]]


@dataclass
class ScriptedModel:
    """A chat model that answers from a script.

    Parameters
    ----------
    replies
        Answers in order; the last one repeats. A dict is sent as JSON; a callable gets
        the messages. An ``Exception`` instance in the list is raised instead.
    delay
        Seconds each call takes (simulates generation time, in the calling thread).
    token_delay
        Seconds between streamed pieces (simulates a model generating token by token).
    tool_format
        The tool-call format it declares (``None``: it calls no tools), as a server would.
    """

    replies: list[Any] = field(default_factory=list)
    name: str = "scripted"
    n_ctx: int = 4096
    delay: float = 0.0
    token_delay: float = 0.0
    tool_format: str | None = None
    calls: list[Sequence[dict[str, str]]] = field(default_factory=list)
    max_tokens: list[int] = field(default_factory=list)
    """The ``max_tokens`` each call was given."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def capabilities(self) -> ModelCapabilities:
        """Only the declared tool format: no template, no kept prompts, no embeddings."""
        return ModelCapabilities(tool_format=self.tool_format)

    def load(self) -> None:
        """Nothing to load."""

    def describe(self) -> ModelDescription:
        return {"backend": "scripted", "name": self.name, "loaded": True, "n_ctx": self.n_ctx}

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict[str, Any] | None = None,
        on_token: Callable[[str], None] | None = None,
        conversation: str | None = None,
    ) -> Completion:
        with self._lock:
            index = min(len(self.calls), len(self.replies) - 1) if self.replies else -1
            self.calls.append(list(messages))
            self.max_tokens.append(max_tokens)
        if self.delay:
            time.sleep(self.delay)
        reply: Any = self.replies[index] if index >= 0 else {}
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            reply = reply(messages)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        if on_token is not None:
            for i in range(0, len(text), 8):
                if self.token_delay:
                    time.sleep(self.token_delay)
                on_token(text[i : i + 8])
        return Completion(text=text, completion_tokens=len(text) // 4)


def good_answer(
    root_cause: str, fix: str, evidence: Sequence[int] = (), confidence: float = 0.8
) -> dict[str, Any]:
    """A well-formed diagnosis answer for :class:`ScriptedModel`."""
    return {
        "root_cause": root_cause,
        "suggested_fix": fix,
        "evidence": list(evidence),
        "confidence": confidence,
    }


class _FailedList:
    def __init__(self) -> None:
        self.failed: list[dict[str, Any]] = []


class ReplayRun:
    """Quacks like a ``RunManager`` for :class:`~adaptive_llm_local.manager.LLMManager`.

    It has ``database_manager.failed``, ``task``, ``job_name``, ``db_fname`` and
    ``move_old_logs_to``; :meth:`fail` appends a failed-job entry whose log holds the
    given text. For tests and benchmarks of the manager without running jobs.
    """

    def __init__(self, workdir: Path, job_name: str = "replay") -> None:
        self.database_manager = _FailedList()
        self.job_name = job_name
        self.db_fname = Path(workdir) / f"{job_name}-db.json"
        self.move_old_logs_to = Path(workdir) / "old_logs"
        self.task: Any = None
        self.workdir = Path(workdir)
        self._n = 0

    def start(self) -> None:
        import asyncio

        self.task = asyncio.get_running_loop().create_future()

    def finish(self) -> None:
        self.task.set_result(None)

    def fail(self, log_text: str | None, *, job_id: str | None = None) -> dict[str, Any]:
        """Record a failed job; ``log_text=None`` leaves its log missing."""
        self._n += 1
        job_id = job_id or str(1000 + self._n)
        log = self.workdir / f"{self.job_name}-{self._n}-{job_id}.out"
        if log_text is not None:
            log.write_text(log_text)
        entry = {
            "fname": f"data/learner-{self._n}.pickle",
            "job_id": job_id,
            "is_pending": False,
            "is_done": False,
            "log_fname": str(self.workdir / f"{self.job_name}-{self._n}-{job_id}.log"),
            "job_name": f"{self.job_name}-{self._n % 3}",
            "output_logs": [str(log)],
            "start_time": None,
            "depends_on": [],
        }
        self.database_manager.failed.append(entry)
        return entry
