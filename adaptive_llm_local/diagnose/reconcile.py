"""Merging the model's answer with the rules: the rule wins on contradiction (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..knowledge import categories_mentioned
from ..triage import CATEGORIES, Evidence, TriageResult
from .prompt import rule_explanation

RULE_CATEGORIES = frozenset(CATEGORIES) - {"unknown", "none"}
"""Categories a rule can establish; ``unknown`` and ``none`` are the absence of one."""


@dataclass(frozen=True)
class Reconciled:
    """The explanation that stands after checking the model's answer against the rules."""

    root_cause: str
    suggested_fix: str
    evidence: list[Evidence]
    confidence: float
    explained_by: str  # "model", "model+rule" or "rule"
    notes: list[str]


def _usable(text: object) -> bool:
    """A real sentence: enough words, and not an echo of the prompt's own labels."""
    if not isinstance(text, str):
        return False
    words = re.findall(r"[A-Za-z]{3,}", text)
    echo = re.search(
        r"log analysis says|line of the log that shows|log excerpt|usually means", text, re.I
    )
    return len(words) >= 5 and echo is None


def _ngrams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9_/.]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _repeats(text: object, other: object) -> bool:
    """Whether ``text`` mostly restates ``other`` (a fix that only repeats the cause)."""
    if not isinstance(text, str) or not isinstance(other, str):
        return False
    grams = _ngrams(text, 4)
    return bool(grams) and len(grams & _ngrams(other, 4)) >= 0.5 * len(grams)


def agrees(result: TriageResult, text: str) -> bool:
    """Whether ``text`` talks about the failure the rules found (its category or its names)."""
    if result.category not in RULE_CATEGORIES:
        return True
    mentioned = categories_mentioned(text)
    if result.category in mentioned:
        return True
    lowered = text.lower()
    names = [result.exception or "", *re.findall(r"'([\w.]+)'", result.summary or "")]
    return any(name and name.lower() in lowered for name in names)


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


def _confidence(answer: dict[str, Any]) -> float:
    try:
        confidence = float(answer.get("confidence", 0.5))
    except (TypeError, ValueError):
        return 0.5
    return confidence if 0.0 <= confidence <= 1.0 else 0.5


def reconcile(result: TriageResult, answer: dict[str, Any] | None) -> Reconciled:
    """Merge the model's answer (``None``: not valid JSON) with the rules."""
    notes: list[str] = []
    rule_cause, rule_fix = rule_explanation(result)
    fallback = 0.7 if result.category in RULE_CATEGORIES else 0.3
    if answer is None:
        notes.append("the model's answer was not valid JSON; using the rule's explanation")
        return Reconciled(rule_cause, rule_fix, list(result.evidence), fallback, "rule", notes)

    merged = _cited_evidence(result, answer, notes)
    confidence = _confidence(answer)
    cause, fix = answer.get("root_cause"), answer.get("suggested_fix")
    cause_ok = isinstance(cause, str) and _usable(cause)
    fix_ok = isinstance(fix, str) and _usable(fix) and not _repeats(fix, cause)
    if isinstance(cause, str) and cause_ok and not agrees(result, cause):
        others = sorted(categories_mentioned(cause) - {result.category, "unknown"})
        blamed = f"blamed {', '.join(others)}" if others else "did not explain it"
        notes.append(f"the model {blamed} but the log shows {result.category}; the rule wins")
        return Reconciled(rule_cause, rule_fix, merged, 0.8, "rule", notes)
    if not cause_ok and not fix_ok:
        notes.append("the model's explanation was unusable; using the rule's explanation")
        return Reconciled(rule_cause, rule_fix, merged, fallback, "rule", notes)
    if not (cause_ok and fix_ok):
        notes.append(
            f"the model's {'fix' if cause_ok else 'root cause'} was unusable; the rule's is used"
        )
    if result.category in RULE_CATEGORIES:
        confidence = max(confidence, 0.6)
    return Reconciled(
        root_cause=cause.strip() if isinstance(cause, str) and cause_ok else rule_cause,
        suggested_fix=fix.strip() if isinstance(fix, str) and fix_ok else rule_fix,
        evidence=merged,
        confidence=confidence,
        explained_by="model" if cause_ok and fix_ok else "model+rule",
        notes=notes,
    )
