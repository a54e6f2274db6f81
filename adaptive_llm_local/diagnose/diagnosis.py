"""The diagnosis value type: what a diagnosis says, as stored and as printed by ``--json``.

``root_cause`` and ``suggested_fix`` are the displayed sentences joined; ``cause`` and
``fix`` keep each sentence with its origin (``rule``, ``fact``, ``model``) and grounds;
``facts`` are what triage read from the log (the user's frame among them), so that later
steps (the chat's seed, ``/fix``) use them instead of reading the log again. Diagnoses
stored before sentences existed load with empty ``cause``/``fix``, those stored before
facts were kept with ``facts=None``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..retrieval.source import Source
from ..triage import Evidence
from ..triage.facts import Facts
from .checks import CheckResult
from .sentences import Sentence


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
    explained_by: str = "model"  # "model+rule", "rule" (no model sentence kept), "none"
    notes: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    cause: list[Sentence] = field(default_factory=list)
    fix: list[Sentence] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    grounding: dict[str, Any] = field(default_factory=dict)
    """How much of the model's text survived: ``model_sentences``, ``model_kept``,
    ``model_chars``, ``model_kept_chars`` and ``dropped`` (part, origin, why)."""
    facts: Facts | None = None
    """What triage read from the log (:func:`~adaptive_llm_local.triage.facts.extract_facts`);
    ``None`` for a diagnosis stored before they were kept."""

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
            "cause": [s.to_json() for s in self.cause],
            "fix": [s.to_json() for s in self.fix],
            "checks": [check_json(c) for c in self.checks],
            "grounding": self.grounding,
            "facts": self.facts.to_json() if self.facts is not None else None,
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
            cause=[Sentence.from_json(s) for s in data.get("cause") or []],
            fix=[Sentence.from_json(s) for s in data.get("fix") or []],
            checks=[check_from_json(c) for c in data.get("checks") or []],
            grounding=dict(data.get("grounding") or {}),
            facts=Facts.from_json(data["facts"]) if data.get("facts") is not None else None,
        )

    @property
    def model_sentences(self) -> list[Sentence]:
        """The displayed sentences the model wrote."""
        return [s for s in (*self.cause, *self.fix) if s.origin == "model"]


def check_json(check: CheckResult) -> dict[str, Any]:
    return {"name": check.name, "status": check.status, "text": check.text, "detail": check.detail}


def check_from_json(data: dict[str, Any]) -> CheckResult:
    status = data.get("status", "skipped")
    if status not in ("ok", "problem", "skipped"):
        status = "skipped"
    return CheckResult(
        name=str(data.get("name", "")),
        status=status,
        text=str(data.get("text", "")),
        detail={str(k): str(v) for k, v in (data.get("detail") or {}).items()},
    )


MODEL_LEGEND = (
    "model: the model's words, kept because every name, path, number and command in them "
    "is in the log, a check, a source or the guide"
)


def grounds_label(sentence: Sentence, sources: list[Source]) -> str:
    """What backs a sentence, compactly: ``lines 4, 6 · check path_exists · [1] · guide``.

    Sources are numbered as in the diagnosis's source list (a citation not in it is shown
    as is).
    """
    grounds = sentence.grounds
    parts: list[str] = []
    if grounds.lines:
        word = "line" if len(grounds.lines) == 1 else "lines"
        parts.append(f"{word} {', '.join(str(n) for n in grounds.lines)}")
    parts.extend(f"check {name}" for name in grounds.checks)
    cites = [s.cite() for s in sources]
    for cite in grounds.sources:
        parts.append(f"[{cites.index(cite) + 1}]" if cite in cites else cite)
    if grounds.guide:
        parts.append("guide")
    return " · ".join(parts)
