"""The one seam where a chat answer is checked and its sentences labelled as the model's.

Every sentence of a chat answer was written by the model, so each is a
``diagnose.sentences.Sentence`` with ``origin="model"``; its grounds are the numbered
blocks it cites. Before that, :func:`ground_reply` holds the answer to the diagnoses'
grounding rules (``diagnose/grounding.py``): every path, name, number and command a
sentence states must occur in what the thread holds (the blocks read, the user's own
messages) or the troubleshooting guide, a command must be one the guide proposes, no
destructive command and no echo of text that addresses the assistant; a sentence cut by
the token limit goes too. Sentences are cut as a diagnosis's are
(``diagnose.claims.split_sentences``); a fenced code block is judged as one piece.
Withheld sentences leave one line saying how many and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_CITE = re.compile(r"\[(\d{1,3})\]")


def answer_sentences(text: str, blocks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The model sentences of an answer, JSON-able (``Sentence.to_json()``), in order.

    Parameters
    ----------
    text
        The answer as shown (tool calls already removed).
    blocks
        The thread's numbered blocks (``{"n", "label"}``) the answer could cite.
    """
    from ..diagnose.claims import split_sentences
    from ..diagnose.sentences import Grounds, Sentence

    labels = {int(b["n"]): str(b["label"]) for b in blocks}
    out = []
    for piece in split_sentences(text):
        cited = [int(n) for n in _CITE.findall(piece) if int(n) in labels]
        grounds = Grounds(sources=tuple(f"[{n}] {labels[n]}" for n in dict.fromkeys(cited)))
        out.append(Sentence(piece, "model", grounds).to_json())
    return out


@dataclass(frozen=True)
class CheckedReply:
    """An answer as it may be shown, and why the sentences left out were left out."""

    text: str
    """The model's sentences that passed the checks (its formatting kept)."""
    withheld: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One line saying how many sentences were withheld and why ("" when none)."""
        if not self.withheld:
            return ""
        n = len(self.withheld)
        reasons = "; ".join(dict.fromkeys(self.withheld))
        return f"({n} sentence{'s' if n > 1 else ''} of the model's answer withheld: {reasons}.)"

    @property
    def shown(self) -> str:
        """The text with the note under it."""
        return "\n\n".join(part for part in (self.text, self.note) if part)


_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)


def _units(text: str) -> list[str]:
    """Sentences and lines of prose, and each fenced code block whole."""
    from ..diagnose.claims import split_sentences

    units: list[str] = []
    start = 0
    for match in _FENCE.finditer(text):
        units += split_sentences(text[start : match.start()])
        units.append(match.group(0).strip())
        start = match.end()
    return units + split_sentences(text[start:])


def _fenced_code(block: str) -> str:
    """The code of a fenced block, without the fences and the language name."""
    body = block.strip("`")
    first, _, rest = body.partition("\n")
    return rest if re.fullmatch(r"[\w+-]*", first.strip()) else body


def thread_corpus(thread: Sequence[Mapping[str, Any]]) -> Any:
    """What a chat answer may rest on: the lines of the thread's blocks and the user's
    messages (a line that proposes a command or addresses the assistant backs nothing),
    and the troubleshooting guide."""
    from ..diagnose.grounding import Corpus
    from ..retrieval.builtin import guide_text
    from ..triage import Evidence

    lines: list[Evidence] = []
    for message in thread:
        if message.get("role") in ("tool", "user"):
            for text in str(message.get("content") or "").splitlines():
                if text.strip():
                    lines.append(Evidence(len(lines) + 1, text))
    return Corpus.build("unknown", lines=lines, guide=guide_text())


def ground_reply(text: str, corpus: Any, *, cut: bool = False) -> CheckedReply:
    """``text`` without the sentences the thread and the guide do not back.

    Parameters
    ----------
    corpus
        :func:`thread_corpus` of the thread the answer was written in.
    cut
        Whether generation stopped at the token limit: a last sentence that does not end
        like one is withheld.
    """
    from ..diagnose.claims import claims_of, code_claims, ends_cleanly
    from ..diagnose.grounding import unbacked, unsafe

    units = _units(text)
    kept = text
    withheld: list[str] = []
    for i, unit in enumerate(units):
        why = unsafe(unit, corpus)
        if why is None and cut and i == len(units) - 1 and not ends_cleanly(unit):
            why = "it was cut off by the token limit"
        if why is None:
            fenced = unit.startswith("```")
            claims = code_claims(_fenced_code(unit)) if fenced else claims_of(_CITE.sub("", unit))
            missing = next((c for c in claims if corpus.locate(c) is None), None)
            if missing is not None:
                why = unbacked(missing, "the thread, the sources and the guide")
        if why is not None:
            withheld.append(why)
            kept = kept.replace(unit, "", 1)
    kept = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n{3,}", "\n\n", kept)).strip()
    return CheckedReply(kept, tuple(withheld))


def sentences_of(data: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``Sentence`` objects from their JSON form (as kept in the thread's state)."""
    if not data:
        return []
    from ..diagnose.sentences import Sentence

    return [Sentence.from_json(dict(d)) for d in data]
