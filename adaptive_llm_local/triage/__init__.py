"""Deterministic log triage: pure functions, standard library only, no model.

Reads a bounded window of a job log, finds the line that states the root
cause, sorts the failure into one of `CATEGORIES`, and gives it a signature
that is equal for jobs that failed the same way.
"""

from __future__ import annotations

from adaptive_llm_local.triage.core import TriageResult, triage_file, triage_text, triage_window
from adaptive_llm_local.triage.evidence import Evidence
from adaptive_llm_local.triage.redact import redact
from adaptive_llm_local.triage.rules import CATEGORIES, RULES, Rule
from adaptive_llm_local.triage.signature import mask

__all__ = [
    "CATEGORIES",
    "RULES",
    "Evidence",
    "Rule",
    "TriageResult",
    "mask",
    "redact",
    "triage_file",
    "triage_text",
    "triage_window",
]
