"""The diagnoser: triage → facts → machine checks → rule sentences → retrieval → model → grounding.

The deterministic triage owns the category, key line and signature; :func:`extract_facts`
reads the names and limits the log states, :func:`run_checks` looks at this machine, and
:func:`explain` writes the rule and fact sentences that always stand. The model may add
sentences; :mod:`.reconcile` keeps only those whose every name, path, number and command
the evidence backs (:mod:`.grounding`).
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
from ..retrieval.builtin import guide_text
from ..retrieval.source import Source
from ..runtime.types import ChatModel, TokenCallback
from ..triage import TriageResult, triage_file
from ..triage.facts import Facts, extract_facts
from .checks import CheckResult, run_checks
from .diagnosis import Diagnosis
from .explain import explain
from .grounding import Corpus, guide_section
from .parse import parse_answer
from .prompt import DIAGNOSIS_SCHEMA, SYSTEM_PROMPT, fit_prompt
from .reconcile import Reconciled, reconcile
from .sentences import Explanation

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
    machine_checks
        Run the read-only checks on this machine (:func:`run_checks`).
    check_timeout
        Seconds each check may take.
    """

    def __init__(
        self,
        model: ChatModel,
        retriever: Retriever | None = None,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        machine_checks: bool = True,
        check_timeout: float = 5.0,
    ) -> None:
        self.model = model
        self.retriever = retriever
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.machine_checks = machine_checks
        self.check_timeout = check_timeout
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
        facts = extract_facts(result)
        checks: Sequence[CheckResult] = ()
        if self.machine_checks and result.category != "none":
            checks = tuple(run_checks(result, facts, timeout=self.check_timeout))
        explanation = explain(result, facts, checks)
        if result.category == "none":
            verdict = reconcile(result, None, explanation=explanation, checks=checks)
            verdict = replace(verdict, notes=[], evidence=list(result.evidence))
            return _diagnosis(result, verdict, None, [], checks, facts, start)

        index_notes: list[str] = []
        try:
            found = list(sources) if sources is not None else self.sources_for(result)
        except AssistantError as exc:  # a locked or broken index must not block a diagnosis
            found = []
            index_notes.append(f"index not consulted: {exc}")
        model = self.model
        budget = model.n_ctx - self.max_tokens - _PROMPT_MARGIN_TOKENS
        messages, kept, tokens = fit_prompt(
            result,
            found,
            count_tokens=model.count_tokens,
            budget=budget,
            facts=facts,
            checks=checks,
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
        corpus = evidence_for(result, facts, checks, kept, explanation)
        verdict = reconcile(
            result,
            parse_answer(completion.text),
            explanation=explanation,
            corpus=corpus,
            checks=checks,
            cut=completion.completion_tokens >= self.max_tokens,
        )
        verdict = replace(verdict, notes=[*index_notes, *verdict.notes])
        return _diagnosis(result, verdict, model.name, kept, checks, facts, start)

    def diagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        return self.diagnose(triage_file(path), on_token=on_token)

    async def adiagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        """:meth:`diagnose_file` in a worker thread (file reads and the model stay off the loop)."""
        return await asyncio.to_thread(self.diagnose_file, path, on_token=on_token)


def evidence_for(
    result: TriageResult,
    facts: Facts,
    checks: Sequence[CheckResult],
    sources: Sequence[Source],
    explanation: Explanation,
) -> Corpus:
    """What a model sentence may rest on: the lines the model saw, facts, checks, sources, guide."""
    guide = guide_text()
    return Corpus.build(
        result.category,
        lines=(*result.context, *result.evidence),
        facts=facts,
        checks=checks,
        sources=sources,
        guide=guide_section(guide, result.category),
        rules=(*explanation.cause, *explanation.fix),
        vocabulary=f"{guide}\n{SYSTEM_PROMPT}",
    )


def _diagnosis(
    result: TriageResult,
    verdict: Reconciled,
    model: str | None,
    sources: list[Source],
    checks: Sequence[CheckResult],
    facts: Facts,
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
        cause=list(verdict.cause),
        fix=list(verdict.fix),
        checks=list(checks),
        grounding=verdict.grounding,
        facts=facts,
    )
