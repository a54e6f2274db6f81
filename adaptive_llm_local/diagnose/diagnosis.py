"""The diagnosis value type: what a diagnosis says, as stored and as printed by ``--json``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..retrieval.source import Source
from ..triage import Evidence


@dataclass
class Diagnosis:
    """Why a job failed and how to fix it, with the evidence and where it came from."""

    category: str
    key_line: str | None
    exception: str | None
    signature: str
    summary: str
    evidence: list[Evidence]
    root_cause: str
    suggested_fix: str
    confidence: float
    model: str | None
    sources: list[Source] = field(default_factory=list)
    key_line_number: int | None = None
    log_path: str | None = None
    job_id: str | None = None
    job_name: str | None = None
    explained_by: str = "model"  # "model", "rule" (model overruled or unusable), "none"
    notes: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``diagnose --json`` shape: the triage keys plus the model's explanation."""
        return {
            "category": self.category,
            "key_line": self.key_line,
            "exception": self.exception,
            "signature": self.signature,
            "evidence": [{"line": e.line, "text": e.text} for e in self.evidence],
            "root_cause": self.root_cause,
            "suggested_fix": self.suggested_fix,
            "confidence": round(self.confidence, 3),
            "model": self.model,
            "sources": [
                {k: v for k, v in asdict(s).items() if k != "extra" and v is not None}
                for s in self.sources
            ],
            "summary": self.summary,
            "key_line_number": self.key_line_number,
            "explained_by": self.explained_by,
            "log": self.log_path,
            "job_id": self.job_id,
            "job_name": self.job_name,
            "notes": self.notes,
            "created_at": self.created_at,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        """The inverse of :meth:`to_json` (a source's ``extra`` is not kept)."""
        return cls(
            category=data["category"],
            key_line=data.get("key_line"),
            exception=data.get("exception"),
            signature=data["signature"],
            summary=data.get("summary", ""),
            evidence=[Evidence(int(e["line"]), str(e["text"])) for e in data.get("evidence", [])],
            root_cause=data.get("root_cause", ""),
            suggested_fix=data.get("suggested_fix", ""),
            confidence=float(data.get("confidence", 0.0)),
            model=data.get("model"),
            sources=[Source(**s) for s in data.get("sources", [])],
            key_line_number=data.get("key_line_number"),
            log_path=data.get("log"),
            job_id=data.get("job_id"),
            job_name=data.get("job_name"),
            explained_by=data.get("explained_by", "model"),
            notes=list(data.get("notes", [])),
            created_at=float(data.get("created_at", time.time())),
            seconds=float(data.get("seconds", 0.0)),
        )
