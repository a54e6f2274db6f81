"""Explanations without a model: the category guide filled with the log's facts.

Every sentence here is a ``rule`` sentence (guide text with names the triage extracted)
or a ``fact`` sentence (a check's result, or what the log states). The fix names the
concrete thing to change (the module, path, key, resource or line of code) whenever the
log states it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..triage import TriageResult
from ..triage.facts import Facts
from .checks import CheckResult
from .explainers import BY_CATEGORY, Writer
from .prompt import rule_explanation
from .sentences import Explanation


def explain(result: TriageResult, facts: Facts, checks: Sequence[CheckResult] = ()) -> Explanation:
    """Cause and fix sentences for a triaged log.

    Parameters
    ----------
    result
        The triage verdict (category, key line).
    facts
        What the log states (:func:`~adaptive_llm_local.triage.facts.extract_facts`).
    checks
        Results of the machine checks (:func:`~.checks.run_checks`); those that ran are
        added to the cause as ``fact`` sentences.

    Returns
    -------
    Explanation
        Never empty: when the log gives nothing to fill in, the category guide's
        sentences stand.

    Raises
    ------
    ValueError
        ``result.category`` is not one of ``triage.CATEGORIES`` (it is never explained
        as ``unknown`` instead).
    """
    explainer = BY_CATEGORY.get(result.category)
    if explainer is None:  # triage makes only CATEGORIES, and each has an explainer
        raise ValueError(f"no explainer for category {result.category!r}: not a triage category")
    writer = Writer(result, facts, checks)
    explainer(writer)
    writer.check_sentences()
    if not writer.has_fix:
        cause, fix = rule_explanation(result)
        writer.rule("cause", cause, key=True)
        writer.rule("fix", fix)
    return writer.explanation()
