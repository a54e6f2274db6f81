"""Diagnosis: triage first, then a schema-constrained model call explains it.

:mod:`.diagnosis` is the value type, :mod:`.prompt` builds what the model is asked,
:mod:`.parse` reads its JSON answer, :mod:`.reconcile` checks it against the rules, and
:mod:`.diagnoser` runs the steps in order.
"""

from __future__ import annotations

from ..retrieval.source import Source
from ..runtime.types import ChatModel, TokenCallback
from .diagnoser import Diagnoser, Retriever
from .diagnosis import Diagnosis
from .parse import PartialAnswer, parse_answer, partial_fields
from .prompt import DIAGNOSIS_SCHEMA, SYSTEM_PROMPT, build_messages, fit_prompt, rule_explanation
from .reconcile import RULE_CATEGORIES, Reconciled, agrees, reconcile

__all__ = [
    "DIAGNOSIS_SCHEMA",
    "RULE_CATEGORIES",
    "SYSTEM_PROMPT",
    "ChatModel",
    "Diagnoser",
    "Diagnosis",
    "PartialAnswer",
    "Reconciled",
    "Retriever",
    "Source",
    "TokenCallback",
    "agrees",
    "build_messages",
    "fit_prompt",
    "parse_answer",
    "partial_fields",
    "reconcile",
    "rule_explanation",
]
