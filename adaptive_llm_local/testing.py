"""Scripted stand-ins for the local model, for deterministic tests of the logic around it.

They never replace the real-model integration tests; they make the rules around the
model (reconciliation, prompt budget, queueing, caching) testable without sampling.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .runtime import Completion

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
    """

    replies: list[Any] = field(default_factory=list)
    name: str = "scripted"
    n_ctx: int = 4096
    delay: float = 0.0
    calls: list[Sequence[dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Completion:
        with self._lock:
            index = min(len(self.calls), len(self.replies) - 1) if self.replies else -1
            self.calls.append(list(messages))
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
                on_token(text[i : i + 8])
        return Completion(text=text, completion_tokens=len(text) // 4)


def good_answer(root_cause: str, fix: str, evidence: Sequence[int] = (), confidence: float = 0.8) -> dict[str, Any]:
    """A well-formed diagnosis answer for :class:`ScriptedModel`."""
    return {
        "root_cause": root_cause,
        "suggested_fix": fix,
        "evidence": list(evidence),
        "confidence": confidence,
    }
