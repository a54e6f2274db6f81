"""The diagnoser: triage → retrieval → schema-constrained model call → reconciliation.

The deterministic triage owns the category, key line and signature. The model writes
the root cause and the fix; when its answer contradicts a rule hit (it blames memory
while the log says ``DUE TO TIME LIMIT``) or is unusable, the rule's explanation from
:mod:`adaptive_llm_local.knowledge` stands instead (:mod:`.reconcile`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from ..config import DEFAULT_MAX_TOKENS
from ..errors import AssistantError
from ..retrieval.source import Source
from ..runtime.types import ChatModel, TokenCallback
from ..triage import TriageResult, triage_file
from .diagnosis import Diagnosis
from .parse import parse_answer
from .prompt import DIAGNOSIS_SCHEMA, fit_prompt, rule_explanation
from .reconcile import Reconciled, reconcile

_PROMPT_MARGIN_TOKENS = 48


class Retriever(Protocol):
    """Finds past failures and docs relevant to a triaged log (see ``retrieval``)."""

    def context_for(self, result: TriageResult, *, k: int = 3) -> list[Source]: ...


class Diagnoser:
    """Runs triage → retrieval → model → reconciliation for one log at a time.

    Build it with :meth:`Assistant.from_settings
    <adaptive_llm_local.assistant.Assistant.from_settings>` to get the configured model,
    index and token budget.

    Parameters
    ----------
    model
        The chat model (``runtime.LocalModel``, or a scripted model in tests).
    retriever
        Optional source of past failures and docs.
    max_tokens
        Tokens the model may generate for one diagnosis.
    temperature
        Sampling temperature (0: greedy, reproducible).
    """

    def __init__(
        self,
        model: ChatModel,
        retriever: Retriever | None = None,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
    ) -> None:
        self.model = model
        self.retriever = retriever
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.model_calls = 0

    def sources_for(self, result: TriageResult) -> list[Source]:
        if self.retriever is None or result.category == "none":
            return []
        return self.retriever.context_for(result, k=3)

    def diagnose(
        self,
        result: TriageResult,
        *,
        sources: Sequence[Source] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Diagnosis:
        """Explain a triaged log. A log without failure (``none``) needs no model call."""
        start = time.perf_counter()
        index_notes: list[str] = []
        try:
            found = list(sources) if sources is not None else self.sources_for(result)
        except AssistantError as exc:  # a locked or broken index must not block a diagnosis
            found = []
            index_notes.append(f"index not consulted: {exc}")
        if result.category == "none":
            cause, fix = rule_explanation(result)
            verdict = Reconciled(cause, fix, list(result.evidence), 0.9, "none", [])
            return _diagnosis(result, verdict, None, [], start)

        model = self.model
        budget = model.n_ctx - self.max_tokens - _PROMPT_MARGIN_TOKENS
        messages, kept, tokens = fit_prompt(
            result, found, count_tokens=model.count_tokens, budget=budget
        )
        if tokens > budget:
            raise AssistantError(
                f"The context window is too small for a diagnosis ({model.n_ctx} tokens, "
                f"{self.max_tokens} reserved for the answer): raise ADAPTIVE_LLM_N_CTX."
            )
        completion = model.chat(
            messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            schema=DIAGNOSIS_SCHEMA,
            on_token=on_token,
        )
        self.model_calls += 1
        verdict = reconcile(result, parse_answer(completion.text))
        verdict = replace(verdict, notes=[*index_notes, *verdict.notes])
        return _diagnosis(result, verdict, model.name, kept, start)

    def diagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        return self.diagnose(triage_file(path), on_token=on_token)

    async def adiagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        """:meth:`diagnose_file` in a worker thread (file reads and the model stay off the loop)."""
        return await asyncio.to_thread(self.diagnose_file, path, on_token=on_token)


def _diagnosis(
    result: TriageResult,
    verdict: Reconciled,
    model: str | None,
    sources: list[Source],
    start: float,
) -> Diagnosis:
    return Diagnosis(
        category=result.category,
        key_line=result.key_line,
        exception=result.exception,
        signature=result.signature,
        summary=result.summary,
        evidence=verdict.evidence,
        root_cause=verdict.root_cause,
        suggested_fix=verdict.suggested_fix,
        confidence=verdict.confidence,
        model=model,
        sources=sources,
        key_line_number=result.key_line_number,
        log_path=result.source,
        explained_by=verdict.explained_by,
        notes=[*result.notes, *verdict.notes],
        seconds=time.perf_counter() - start,
    )
