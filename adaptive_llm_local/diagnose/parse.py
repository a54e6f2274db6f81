"""Reading the model's JSON answer: whole, or field by field while it is still streaming."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_FIELD = re.compile(r'"(root_cause|suggested_fix)"\s*:\s*"((?:[^"\\]|\\.)*)')


def parse_answer(text: str) -> dict[str, Any] | None:
    """The model's JSON object, or ``None`` if the text is not one (e.g. cut by max_tokens)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        match = re.search(r"\{.*\}", text, re.S)
        if not match:
            return None
        try:
            data = json.loads(match.group(0))
        except (ValueError, RecursionError):
            return None
    return data if isinstance(data, dict) else None


def partial_fields(text: str) -> dict[str, str]:
    """The string fields visible so far in a JSON answer that is still being generated."""
    out: dict[str, str] = {}
    for name, raw in _FIELD.findall(text):
        try:
            out[name] = json.loads(f'"{raw}"')
        except ValueError:
            out[name] = raw.replace('\\"', '"')
    return out


class PartialAnswer:
    """A token callback that reports the answer's fields as they appear.

    Parameters
    ----------
    on_fields
        Called after every piece with :func:`partial_fields` of the text so far.
    """

    def __init__(self, on_fields: Callable[[dict[str, str]], None]) -> None:
        self.on_fields = on_fields
        self._pieces: list[str] = []

    def __call__(self, piece: str) -> None:
        self._pieces.append(piece)
        self.on_fields(partial_fields("".join(self._pieces)))
