"""A conversation's evaluated prompt survives another prompt in between (real model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.models import ModelFile
from adaptive_llm_local.runtime import LocalModel

CONTEXT = "".join(f"[{i}] worker {i} wrote checkpoint ckpt-{i * 13}.h5\n" for i in range(40))
THREAD = [
    {"role": "system", "content": "Answer from the log lines."},
    {"role": "user", "content": CONTEXT + "\nWhich worker wrote ckpt-130.h5?"},
]
OTHER = [{"role": "user", "content": "Diagnose: MemoryError\n" * 30}]


@pytest.fixture(scope="module")
def model(model_path: Path) -> LocalModel:
    return LocalModel(ModelFile(model_path), n_ctx=2048, settings=Settings.from_env())


def evaluated(model: LocalModel, messages: list[dict[str, str]], **kwargs: Any) -> tuple[str, int]:
    """The answer, and how many prompt tokens llama.cpp had to evaluate for it."""
    ctx = model.load().ctx
    llama_cpp.llama_perf_context_reset(ctx)
    text = model.chat(messages, max_tokens=12, **kwargs).text
    return text, int(llama_cpp.llama_perf_context(ctx).n_p_eval)


def test_a_kept_conversation_continues_where_it_was(model: LocalModel) -> None:
    first, _ = evaluated(model, THREAD, conversation="t")
    follow = [*THREAD, {"role": "assistant", "content": first}, {"role": "user", "content": "Why?"}]

    model.kept.clear()
    model.load().reset()
    cold, cold_tokens = evaluated(model, follow)  # nothing to reuse

    evaluated(model, THREAD, conversation="t")
    evaluated(model, OTHER)  # a diagnosis in between: the thread's prompt is kept
    assert len(model.kept) == 1 and model.kept.holder is None
    restores = model.kept.restores
    kept, kept_tokens = evaluated(model, follow, conversation="t")
    assert model.kept.restores == restores + 1
    assert kept == cold  # the same greedy answer: the restored cells are the thread's
    assert kept_tokens < cold_tokens / 4, (kept_tokens, cold_tokens)

    model.kept.capacity = 0  # not kept: the other prompt took the context
    try:
        evaluated(model, THREAD, conversation="u")
        evaluated(model, OTHER)
        lost, lost_tokens = evaluated(model, follow, conversation="u")
    finally:
        model.kept.capacity = 4
    assert lost == cold and lost_tokens > cold_tokens / 2


def test_keeping_is_bounded(model: LocalModel) -> None:
    model.kept.clear()
    for i in range(6):
        evaluated(
            model, [{"role": "user", "content": f"Conversation {i}: hello"}], conversation=str(i)
        )
    evaluated(model, OTHER)
    assert len(model.kept) == model.kept.capacity == 4
