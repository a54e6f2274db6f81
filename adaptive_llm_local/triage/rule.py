"""One triage rule, and the pattern helpers the rule tables share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Rule:
    """One triage rule.

    Attributes
    ----------
    name
        Short id, shown in tests and debugging output.
    category
        One of `adaptive_llm_local.triage.rules.CATEGORIES` (checked where the table
        is assembled).
    priority
        Higher wins (see `adaptive_llm_local.triage.rules` for the bands).
    pattern
        Regular expression (``re.search``). For line rules, a named group
        ``exc`` gives the exception class name when the line carries one.
        No nested quantifiers: every rule must stay linear in the line length.
    scope
        ``"line"`` or ``"exception"``.
    summary
        Fixed one-line summary; when None the masked key line (or exception)
        is the summary. A fixed summary makes the signature independent of job
        ids, hosts and dates.
    note
        Remark added to the result's notes when this rule decides.
    keywords
        Lower-case substrings of which at least one occurs in any line the
        pattern matches. A line rule is only run over logs that contain one of
        them (after lower-casing), which keeps triage fast; empty means always.
        Line patterns are run over the whole window with ``re.MULTILINE``, so
        they must not match across lines: use ``[ \\t]`` rather than ``\\s``.
    ends
        ``"job"`` for a batch system's verdict on how the job ended (time limit,
        cancellation, preemption, requeue): it yields to a cause printed before it
        (see `adaptive_llm_local.triage.core`). ``"step"`` for the end of one
        ``srun`` step, which also yields to the failure of one of its tasks.
        Empty for every other rule.
    setup
        The line says the job's environment could not be set up (a module, a
        conda environment, a virtualenv): it is the cause of a missing module or
        program reported after it.
    """

    name: str
    category: str
    priority: int
    pattern: str
    scope: Literal["line", "exception"] = "line"
    summary: str | None = None
    note: str | None = None
    keywords: tuple[str, ...] = ()
    ends: Literal["", "job", "step"] = ""
    setup: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(k != k.lower() for k in self.keywords):
            raise ValueError(f"rule {self.name}: keywords must be lower case")
        flags = re.MULTILINE if self.scope == "line" else 0
        object.__setattr__(self, "regex", re.compile(self.pattern, flags))


def exc(names: str) -> str:
    """Pattern for an exception line whose class is one of ``names`` (``A|B``)."""
    return rf"^(?:[\w.]*\.)?(?:{names})(?::|$)"
