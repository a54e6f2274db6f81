"""The numbered log line, the unit that triage results and prompts are made of."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """One line of a log.

    Attributes
    ----------
    line
        1-based line number from the start of the file; for the tail of a
        truncated log, negative and counted from the end (-1 = last line).
    text
        The line as read: ANSI codes and ``\\r`` overwrites removed, secrets
        redacted, at most 2000 characters.
    """

    line: int
    text: str

    def to_json(self) -> dict[str, int | str]:
        """Return ``{"line": ..., "text": ...}``."""
        return {"line": self.line, "text": self.text}
