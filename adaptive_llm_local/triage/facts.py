"""Facts the log states about a failure: names, paths, the user's frame, limits.

Pure functions over a :class:`~adaptive_llm_local.triage.TriageResult`: every fact is read
from the log window (with the line it came from), never guessed. Explanations fill their
sentences with these facts, and the grounding checks accept a model sentence's names only
when they appear in the log, a fact, a check or a source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import TriageResult


@dataclass(frozen=True)
class Fact:
    """One named fact, e.g. ``Fact("module", "numpyx", 12)``.

    Attributes
    ----------
    name
        What it is: ``module``, ``path``, ``key``, ``frame_file``, ``frame_line``,
        ``frame_function``, ``frame_source``, ``interpreter``, ``python_version``,
        ``time_limit``, ``mem_requested``, ...
    value
        The text, verbatim from the log (already redacted by triage).
    line
        The log line it was read from, if one.
    """

    name: str
    value: str
    line: int | None = None


@dataclass(frozen=True)
class Facts:
    """All facts extracted from one log."""

    items: tuple[Fact, ...] = ()

    def get(self, name: str) -> str | None:
        """The first fact called ``name``, or ``None``."""
        return next((f.value for f in self.items if f.name == name), None)

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(f.value for f in self.items if f.name == name)

    def values(self) -> tuple[str, ...]:
        """Every fact's text (what grounding may accept as stated by the log)."""
        return tuple(f.value for f in self.items)

    def line_of(self, name: str) -> int | None:
        return next((f.line for f in self.items if f.name == name), None)


def extract_facts(result: TriageResult) -> Facts:
    """The facts of a triaged log (to be filled in: issue 9)."""
    return Facts()
