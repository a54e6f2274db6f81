"""Merging the model's answer with the rules and the evidence (pure functions).

The rule and fact sentences of :func:`~.explain.explain` always stand; the model's
sentences are added only where :mod:`.grounding` finds every name, path, number and
command in them backed, and only when they add something. Confidence comes from those
checks (how much survived, whether the machine checks confirm the failure), never from
the model's own number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..knowledge import categories_mentioned
from ..triage import CATEGORIES, Evidence, TriageResult
from ..triage.facts import Facts
from .checks import CheckResult
from .explain import explain
from .grounding import Corpus, Dropped, Grounded, ground_answer, screen
from .prompt import CAUSE_MAX_CHARS, FIX_MAX_CHARS, rule_explanation
from .sentences import Explanation, Grounds, Sentence, join

RULE_CATEGORIES = frozenset(CATEGORIES) - {"unknown", "none"}
"""Categories a rule can establish; ``unknown`` and ``none`` are the absence of one."""


@dataclass(frozen=True)
class Reconciled:
    """The explanation that stands after checking the model's answer against the evidence."""

    cause: tuple[Sentence, ...]
    fix: tuple[Sentence, ...]
    evidence: list[Evidence]
    confidence: float
    explained_by: str  # "model+rule" (some model sentence kept), "rule" or "none"
    notes: list[str]
    dropped: tuple[Dropped, ...] = ()
    grounding: dict[str, Any] = field(default_factory=dict)
    """Counts of the model's sentences and characters written and kept, and the drops."""

    @property
    def root_cause(self) -> str:
        return join(self.cause)

    @property
    def suggested_fix(self) -> str:
        return join(self.fix)


def _usable(text: object) -> bool:
    """A real sentence: enough words, and not an echo of the prompt's own labels."""
    if not isinstance(text, str):
        return False
    words = re.findall(r"[A-Za-z]{3,}", text)
    echo = re.search(
        r"log analysis says|line of the log that shows|log excerpt|usually means|"
        r"what the rules already say|<\s*/?\s*data",
        text,
        re.I,
    )
    return len(words) >= 5 and echo is None


def agrees(result: TriageResult, text: str) -> bool:
    """Whether ``text`` talks about the failure the rules found (its category or its names)."""
    if result.category not in RULE_CATEGORIES:
        return True
    mentioned = categories_mentioned(text)
    if result.category in mentioned:
        return True
    lowered = text.lower()
    return any(name and name.lower() in lowered for name in failure_names(result))


def failure_names(result: TriageResult) -> list[str]:
    """Names that tie a sentence to this failure: the exception and names quoted in the summary."""
    return [
        n for n in (result.exception or "", *re.findall(r"'([\w.]+)'", result.summary or "")) if n
    ]


def _cited_evidence(
    result: TriageResult, answer: dict[str, Any], notes: list[str]
) -> list[Evidence]:
    """The triage evidence plus the lines the model cited that really are in the excerpt."""
    cited: list[Evidence] = []
    by_line = {e.line: e for e in (*result.context, *result.evidence)}
    for raw in answer.get("evidence") or []:
        try:
            line = int(raw)
        except (TypeError, ValueError):
            continue
        if result.has_line(line) and line in by_line and by_line[line] not in cited:
            cited.append(by_line[line])
    dropped = len(answer.get("evidence") or []) - len(cited)
    if dropped > 0:
        notes.append(f"dropped {dropped} cited line(s) that are not in the log excerpt")
    return sorted({*result.evidence, *cited}, key=lambda e: (e.line < 0, abs(e.line)))


def confidence_of(
    category: str,
    grounded: Grounded,
    checks: Sequence[CheckResult],
) -> float:
    """How far the evidence backs the diagnosis (0-1), from the checks, never from the model.

    A rule category starts at 0.6 (``unknown`` at 0.3); a machine check that confirms the
    failure adds 0.15, checks that all found nothing wrong take 0.15 away; a fact sentence
    adds 0.1; the share of the model's sentences that survived grounding adds up to 0.1.
    """
    if category == "none":
        return 0.9
    score = 0.6 if category in RULE_CATEGORIES else 0.3
    ran = [c for c in checks if c.status != "skipped"]
    if any(c.status == "problem" for c in ran):
        score += 0.15
    elif ran:
        score -= 0.15
    if any(s.origin == "fact" for s in (*grounded.cause, *grounded.fix)):
        score += 0.1
    if grounded.written:
        score += 0.1 * grounded.kept / grounded.written
    return round(min(0.95, max(0.05, score)), 3)


def _note(dropped: Dropped) -> str:
    who = "the model's" if dropped.origin == "model" else f"a {dropped.origin}"
    return f"dropped {who} {dropped.part} sentence: {dropped.why}"


def _stand_in(result: TriageResult, part: str) -> Sentence:
    """The guide's sentence without the log's text, when every sentence of a part was unsafe."""
    cause, fix = rule_explanation(result, detail=f"see line {result.key_line_number}")
    lines = (result.key_line_number,) if result.key_line_number is not None else ()
    if part == "cause":
        return Sentence(cause, "rule", Grounds(lines=lines, guide=result.category))
    return Sentence(fix, "rule", Grounds(guide=result.category))


def reconcile(
    result: TriageResult,
    answer: dict[str, Any] | None,
    *,
    explanation: Explanation | None = None,
    corpus: Corpus | None = None,
    checks: Sequence[CheckResult] = (),
    cut: bool = False,
) -> Reconciled:
    """Merge the model's answer (``None``: not valid JSON) with the rule and fact sentences.

    Parameters
    ----------
    explanation
        The rule and fact sentences (default: :func:`explain` without facts or checks).
    corpus
        The evidence for grounding (default: the triage's lines and the short guide).
    checks
        The machine checks' results (they count towards the confidence).
    cut
        Whether the model's answer hit the token limit.
    """
    notes: list[str] = []
    if explanation is None:
        explanation = explain(result, Facts(), checks)
    base_cause, dropped_cause = screen(explanation.cause, "cause")
    base_fix, dropped_fix = screen(explanation.fix, "fix")
    base_cause = base_cause or [_stand_in(result, "cause")]
    base_fix = base_fix or [_stand_in(result, "fix")]
    if corpus is None:
        corpus = Corpus.build(
            result.category,
            lines=(*result.context, *result.evidence),
            checks=checks,
            rules=(*base_cause, *base_fix),
        )

    cause: str | None = None
    fix: str | None = None
    if answer is None:
        notes.append("the model's answer was not valid JSON; using the rule's explanation")
        merged = list(result.evidence)
    else:
        merged = _cited_evidence(result, answer, notes)
        raw_cause, raw_fix = answer.get("root_cause"), answer.get("suggested_fix")
        cause = raw_cause.strip() if isinstance(raw_cause, str) and _usable(raw_cause) else None
        fix = raw_fix.strip() if isinstance(raw_fix, str) and _usable(raw_fix) else None
        if cause is None and fix is None:
            notes.append("the model's explanation was unusable; using the rule's explanation")
        elif cause is None or fix is None:
            notes.append(f"the model's {'fix' if cause is not None else 'root cause'} was unusable")
    grounded = ground_answer(
        base_cause,
        base_fix,
        cause,
        fix,
        corpus,
        cut=(
            cut or len(cause or "") - len("The job ") >= CAUSE_MAX_CHARS,
            cut or len(fix or "") - 1 >= FIX_MAX_CHARS,
        ),
        names=failure_names(result),
    )
    dropped = (*dropped_cause, *dropped_fix, *grounded.dropped)
    notes.extend(_note(d) for d in dropped)
    if result.category == "none":
        explained_by = "none"
    else:
        explained_by = "model+rule" if grounded.kept else "rule"
    return Reconciled(
        cause=grounded.cause,
        fix=grounded.fix,
        evidence=merged,
        confidence=confidence_of(result.category, grounded, checks),
        explained_by=explained_by,
        notes=notes,
        dropped=dropped,
        grounding={
            "model_sentences": grounded.written,
            "model_kept": grounded.kept,
            "model_chars": grounded.written_chars,
            "model_kept_chars": grounded.kept_chars,
            "dropped": [d.to_json() for d in dropped],
        },
    )
