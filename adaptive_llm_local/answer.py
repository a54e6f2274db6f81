"""``ask``: answer a question from the index, citing what was retrieved."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import DEFAULT_MAX_TOKENS
from .retrieval.source import Source
from .runtime.types import ChatModel, TokenCallback
from .triage import redact

ASK_SYSTEM = (
    "You help scientists run adaptive-scheduler jobs on HPC clusters. Answer briefly and "
    "concretely. When sources are given, answer from them and cite them as [1], [2]; if "
    "they do not contain the answer, say so."
)
_SOURCE_CHARS = 900


class QuestionRetriever(Protocol):
    def search(self, query: str, *, k: int = 4) -> list[Source]: ...


@dataclass
class Answer:
    question: str
    text: str
    sources: list[Source] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    model: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "model": self.model,
            "sources": [
                {"n": i, "kind": s.kind, "source": s.source, "lines": s.lines, "score": s.score}
                for i, s in enumerate(self.sources, 1)
            ],
            "cited": self.cited,
        }


def build_ask_messages(question: str, sources: Sequence[Source]) -> list[dict[str, str]]:
    """Chat messages for a question, with numbered sources when there are any."""
    if sources:
        numbered = "\n\n".join(
            f"[{i}] ({s.kind} {s.cite()})\n{redact(s.text)[:_SOURCE_CHARS]}"
            for i, s in enumerate(sources, 1)
        )
        user = f"Sources:\n{numbered}\n\nQuestion: {redact(question)}"
    else:
        user = redact(question)
    return [{"role": "system", "content": ASK_SYSTEM}, {"role": "user", "content": user}]


def citations(text: str, n_sources: int) -> list[int]:
    """Source numbers cited as ``[n]`` in ``text`` that exist (hallucinated numbers dropped)."""
    found = {int(m) for m in re.findall(r"\[(\d{1,2})\]", text)}
    return sorted(n for n in found if 1 <= n <= n_sources)


def answer_question(
    question: str,
    model: ChatModel,
    retriever: QuestionRetriever | None = None,
    *,
    k: int = 3,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    on_token: TokenCallback | None = None,
) -> Answer:
    """Retrieve, then let the model answer; the sources shown are exactly those retrieved."""
    sources = retriever.search(question, k=k) if retriever is not None else []
    messages = build_ask_messages(question, sources)
    budget = model.n_ctx - max_tokens - 48
    while sources and sum(model.count_tokens(m["content"]) + 8 for m in messages) > budget:
        sources = sources[:-1]
        messages = build_ask_messages(question, sources)
    completion = model.chat(messages, max_tokens=max_tokens, temperature=0.2, on_token=on_token)
    text = completion.text.strip()
    return Answer(question, text, list(sources), citations(text, len(sources)), model.name)
