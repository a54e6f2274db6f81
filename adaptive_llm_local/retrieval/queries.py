"""Reading a search query: a pasted failure, a signature, or a question (pure functions)."""

from __future__ import annotations

import re
from typing import Any

from ..knowledge import categories_mentioned
from ..triage import triage_text

_EXCEPTION_LINE = re.compile(
    r"^\s*[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b\s*:", re.M
)
_GENERIC = frozenset({"python_exception", "unknown", "none"})
FAILURE_HINT = "Traceback (most recent call last):\n"


def triage_query(text: str) -> Any:
    """Triage a query; a bare ``SomeError: message`` line is read as a traceback's last line.

    Triage takes the exception class only from a traceback, so a pasted error line alone
    would get another signature than the log it came from.
    """
    result = triage_text(text)
    if result.exception is None and _EXCEPTION_LINE.search(text) and "Traceback" not in text:
        hinted = triage_text(FAILURE_HINT + text)
        if hinted.exception is not None:
            return hinted
    return result


def question_categories(text: str) -> list[str]:
    """Failure categories a question talks about (``more memory`` -> ``out_of_memory``).

    Generic categories are dropped when a specific one is named too.
    """
    found = categories_mentioned(text)
    specific = found - _GENERIC
    return sorted(specific or (found - {"none", "unknown"}))
