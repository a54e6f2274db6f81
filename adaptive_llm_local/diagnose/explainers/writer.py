"""Writing cause and fix sentences from a log's facts, each with its origin and grounds.

A :class:`Writer` collects the sentences of one explanation. A ``rule`` sentence is guide
text with names the triage extracted filled in; a ``fact`` sentence states what the log
or a check showed. Each sentence records the log lines of the facts it uses, so the
reader (and the grounding checks) can see where every name and number comes from.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Literal

from ...triage import TriageResult
from ...triage.facts import Facts
from ..check_result import CheckResult
from ..sentences import Explanation, Grounds, Origin, Sentence

Part = Literal["cause", "fix"]


def code(text: str) -> str:
    """``text`` as inline code (its own backticks become quotes, so the markup holds)."""
    return "`" + text.replace("`", "'") + "`"


def short(path: str) -> str:
    """The file name of a path, for fixes (the cause names the whole path)."""
    return posixpath.basename(path) or path


class Writer:
    """The sentences of one explanation, built from a triaged log, its facts and checks."""

    def __init__(
        self, result: TriageResult, facts: Facts, checks: Sequence[CheckResult] = ()
    ) -> None:
        self.result = result
        self.facts = facts
        self.checks = list(checks)
        self.category = result.category
        self._cause: list[Sentence] = []
        self._fix: list[Sentence] = []

    # -- facts ----------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        return self.facts.get(name)

    def has(self, *names: str) -> bool:
        return all(self.facts.get(n) for n in names)

    def lines_of(self, *names: str) -> tuple[int, ...]:
        """Log lines of the first fact of each name (those the log states)."""
        found: list[int] = []
        for name in names:
            line = self.facts.line_of(name)
            if line is not None and line not in found:
                found.append(line)
        return tuple(found)

    def check(self, name: str) -> CheckResult | None:
        """The result of the check ``name``, unless it was skipped."""
        return next((c for c in self.checks if c.name == name and c.status != "skipped"), None)

    # -- sentences ------------------------------------------------------------------------

    def add(
        self,
        part: Part,
        origin: Origin,
        text: str,
        *names: str,
        key: bool = False,
        checks: tuple[str, ...] = (),
    ) -> None:
        """Add a sentence grounded by the lines of the facts ``names`` (and the key line)."""
        lines = list(self.lines_of(*names))
        number = self.result.key_line_number
        if key and number is not None and number not in lines:
            lines.insert(0, number)
        grounds = Grounds(
            lines=tuple(sorted(lines, key=lambda n: (n < 0, n))),
            checks=checks,
            guide=self.category if origin == "rule" else None,
        )
        target = self._cause if part == "cause" else self._fix
        target.append(Sentence(text.strip(), origin, grounds))

    def rule(
        self, part: Part, text: str, *names: str, key: bool = False, checks: tuple[str, ...] = ()
    ) -> None:
        self.add(part, "rule", text, *names, key=key, checks=checks)

    def fact(self, part: Part, text: str, *names: str, key: bool = False) -> None:
        self.add(part, "fact", text, *names, key=key)

    def check_sentences(self) -> None:
        """Every check that ran, as a fact of the cause."""
        for result in self.checks:
            if result.status != "skipped":
                self.add("cause", "fact", result.text, checks=(result.name,))

    def explanation(self) -> Explanation:
        return Explanation(cause=tuple(self._cause), fix=tuple(self._fix))

    @property
    def has_fix(self) -> bool:
        return bool(self._fix)

    # -- frames ---------------------------------------------------------------------------

    def place(self, prefix: str = "frame", *, full: bool = False, source: bool = True) -> str:
        """``line 10 of fit.py`` (``full``: with the whole path and the function), with the
        source line Python printed when ``source``."""
        file = self.get(f"{prefix}_file") or ""
        line = self.get(f"{prefix}_line")
        if file in ("<string>", "<stdin>"):
            where = f"line {line} of the code given with `python -c`"
        else:
            where = f"line {line} of {file if full else short(file)}"
        function = self.get(f"{prefix}_function")
        if full and function and function != "<module>":
            where += f", in {function}"
        text = self.get(f"{prefix}_source")
        if source and text:
            where += f" ({code(text)})"
        return where

    def frame_names(self, prefix: str = "frame") -> tuple[str, ...]:
        return tuple(f"{prefix}_{n}" for n in ("file", "line", "function", "source"))

    @property
    def has_frame(self) -> bool:
        return self.has("frame_file", "frame_line")

    @property
    def has_caller(self) -> bool:
        """A caller frame that is not the frame itself (recursion, comprehensions)."""
        return self.has("caller_file", "caller_line") and (
            self.get("caller_file"),
            self.get("caller_line"),
        ) != (self.get("frame_file"), self.get("frame_line"))

    def frame_facts(self, *, caller: bool = True, frame: bool = True) -> None:
        """Where the job's own code failed (and who called it, and the library inside)."""
        if frame and self.has_frame:
            self.fact(
                "cause",
                f"It happened at {self.place(full=True)}.",
                *self.frame_names(),
            )
        if caller and self.has_caller:
            self.fact(
                "cause",
                f"That code was called from {self.place('caller')}.",
                *self.frame_names("caller"),
            )
        if self.has("library_file", "library_line"):
            function = self.get("library_function")
            inside = f", in {function}" if function and function != "<module>" else ""
            self.fact(
                "cause",
                f"The innermost frame is library code: line {self.get('library_line')} of "
                f"{self.get('library_file')}{inside}.",
                "library_file",
                "library_line",
                "library_function",
            )
