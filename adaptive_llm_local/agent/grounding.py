"""The one seam where a chat answer's sentences are labelled as the model's (and checked).

Every sentence of a chat answer was written by the model, so each is a
``diagnose.sentences.Sentence`` with ``origin="model"``; its grounds are the numbered
blocks it cites. Issue 9's grounding (``diagnose/grounding.py``: names, paths, numbers
and commands must appear in the evidence) plugs in here, in :func:`answer_sentences`,
and nowhere else: the reply a front end shows is what this function returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_CITE = re.compile(r"\[(\d{1,3})\]")
# a sentence ends at . ! ? (after an optional citation) followed by space, or at a line end
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences (and lines); empty pieces dropped."""
    return [piece.strip() for piece in _SPLIT.split(text) if piece.strip()]


def answer_sentences(text: str, blocks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The model sentences of an answer, JSON-able (``Sentence.to_json()``), in order.

    Parameters
    ----------
    text
        The answer as shown (tool calls already removed).
    blocks
        The thread's numbered blocks (``{"n", "label"}``) the answer could cite.
    """
    from ..diagnose.sentences import Grounds, Sentence

    labels = {int(b["n"]): str(b["label"]) for b in blocks}
    out = []
    for piece in split_sentences(text):
        cited = [int(n) for n in _CITE.findall(piece) if int(n) in labels]
        grounds = Grounds(sources=tuple(f"[{n}] {labels[n]}" for n in dict.fromkeys(cited)))
        out.append(Sentence(piece, "model", grounds).to_json())
    return out


def sentences_of(data: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``Sentence`` objects from their JSON form (as kept in the thread's state)."""
    if not data:
        return []
    from ..diagnose.sentences import Sentence

    return [Sentence.from_json(dict(d)) for d in data]
