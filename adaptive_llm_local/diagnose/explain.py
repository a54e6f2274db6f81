"""Explanations without a model: the category guide filled with the log's facts.

Every sentence here is a ``rule`` sentence (guide text with names the triage extracted)
or a ``fact`` sentence (a check's result, or what the log states).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..triage import TriageResult
from ..triage.facts import Facts
from .checks import CheckResult
from .prompt import rule_explanation
from .sentences import Explanation, Grounds, Sentence


def explain(result: TriageResult, facts: Facts, checks: Sequence[CheckResult] = ()) -> Explanation:
    """Cause and fix sentences for a triaged log (to be made specific: issue 9)."""
    cause, fix = rule_explanation(result)
    lines = (result.key_line_number,) if result.key_line_number is not None else ()
    grounds = Grounds(lines=lines, guide=result.category)
    return Explanation(
        cause=(Sentence(cause, "rule", grounds),),
        fix=(Sentence(fix, "rule", Grounds(guide=result.category)),),
    )
