"""What a search returns and a diagnosis or an answer cites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """Something retrieved that a diagnosis may cite."""

    kind: str  # "failure" or "doc"
    source: str  # path or job id
    lines: str  # e.g. "12-40"
    score: float
    text: str
    category: str | None = None
    signature: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def cite(self) -> str:
        return f"{self.source}:{self.lines}" if self.lines else self.source
