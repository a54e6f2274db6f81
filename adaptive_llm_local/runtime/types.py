"""What callers of a chat model rely on: messages, the token callback, a completion, the port.

:class:`ChatModel` is what diagnosis, ``ask`` and the agent need from a model;
:class:`~adaptive_llm_local.runtime.llama.LocalModel` implements it, and so do the
scripted models of :mod:`adaptive_llm_local.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, str]
TokenCallback = Callable[[str], None]
"""Called with every piece of text as the model generates it."""


@dataclass
class Completion:
    """Result of one chat call, with the token counts llama.cpp reported."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: float | None = None


class ChatModel(Protocol):
    """A chat model: a name, a context window, a tokenizer and one chat call."""

    @property
    def name(self) -> str: ...

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = ...,
        temperature: float = ...,
        schema: dict[str, Any] | None = ...,
        on_token: TokenCallback | None = ...,
    ) -> Completion: ...
