"""Sentences of a diagnosis, each with where it comes from and what grounds it.

A diagnosis is read sentence by sentence: a ``rule`` sentence is the category guide's
text filled with names the triage extracted, a ``fact`` sentence states what the log or a
check on this machine showed, and a ``model`` sentence was written by the model and kept
only because every name, path, number and command in it is grounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Origin = Literal["rule", "fact", "model"]
ORIGINS: tuple[Origin, ...] = ("rule", "fact", "model")


@dataclass(frozen=True)
class Grounds:
    """What backs a sentence.

    Attributes
    ----------
    lines
        Log line numbers (as in :class:`~adaptive_llm_local.triage.Evidence`).
    checks
        Names of the machine checks whose results back it.
    sources
        Citations (``Source.cite()``) of retrieved failures or documents.
    guide
        The category whose guide text it comes from, if any.
    """

    lines: tuple[int, ...] = ()
    checks: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    guide: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.lines:
            out["lines"] = list(self.lines)
        if self.checks:
            out["checks"] = list(self.checks)
        if self.sources:
            out["sources"] = list(self.sources)
        if self.guide:
            out["guide"] = self.guide
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grounds:
        return cls(
            lines=tuple(int(n) for n in data.get("lines", ())),
            checks=tuple(str(c) for c in data.get("checks", ())),
            sources=tuple(str(s) for s in data.get("sources", ())),
            guide=data.get("guide"),
        )


@dataclass(frozen=True)
class Sentence:
    """One sentence a user reads, with its origin and grounds."""

    text: str
    origin: Origin
    grounds: Grounds = field(default_factory=Grounds)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "origin": self.origin, "grounds": self.grounds.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sentence:
        origin = data.get("origin", "rule")
        if origin not in ORIGINS:
            raise ValueError(f"unknown sentence origin {origin!r}")
        return cls(
            text=str(data["text"]),
            origin=origin,
            grounds=Grounds.from_json(data.get("grounds", {})),
        )


@dataclass(frozen=True)
class Explanation:
    """A root cause and a fix, each a sequence of sentences."""

    cause: tuple[Sentence, ...]
    fix: tuple[Sentence, ...]

    @property
    def cause_text(self) -> str:
        return join(self.cause)

    @property
    def fix_text(self) -> str:
        return join(self.fix)


def join(sentences: tuple[Sentence, ...] | list[Sentence]) -> str:
    """The sentences as one paragraph (the ``root_cause``/``suggested_fix`` strings)."""
    return " ".join(s.text.strip() for s in sentences if s.text.strip())
