"""What goes into the index: entries, their content-derived ids, metadata and embedded text.

Pure functions. An :class:`Entry` is one row of a collection: the ``document`` shown to
people and models, the ``embed_text`` turned into a vector (it can differ: a failure is
embedded as a normalised description, not as its raw log lines), and scalar metadata.
Ids hash the content, so adding the same thing twice is a no-op and an edited file
yields new ids while its unchanged chunks keep theirs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..knowledge import guide_for
from ..triage import mask, redact
from .chunking import Chunk

FAILURES = "failures"
DOCS = "docs"
MAX_EVIDENCE_LINES = 40
MAX_EVIDENCE_CHARS = 4000
FAILURE_EVIDENCE_IN_EMBEDDING = 3
"""Masked evidence lines (besides the key line) in a failure's embedded text."""
_MAX_EMBED_CHARS = 2000
_SIGNATURE = re.compile(r"^[0-9a-f]{16}$")

Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class Entry:
    """One row of the failures or docs collection."""

    id: str
    collection: str
    document: str
    embed_text: str
    metadata: Metadata = field(default_factory=dict)

    @property
    def group(self) -> str:
        """The unit that is replaced as a whole when it changes (a file, a job, the API)."""
        return str(self.metadata["group"])


def content_id(*parts: object) -> str:
    """A stable id from the parts (32 hex digits of SHA-256)."""
    payload = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()[:32]


def is_signature(text: str) -> bool:
    """Whether ``text`` looks like a failure signature (16 lower-case hex digits)."""
    return bool(_SIGNATURE.match(text.strip()))


def clean_metadata(values: Mapping[str, Any]) -> Metadata:
    """Drop ``None`` and empty strings; Chroma metadata holds only str/int/float/bool."""
    out: Metadata = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        out[key] = value if isinstance(value, str | int | float | bool) else str(value)
    return out


# --- documents ---------------------------------------------------------------------------


def doc_embed_text(name: str, title: str, text: str) -> str:
    """What a doc chunk is embedded as: where it sits, then its text.

    Only the innermost heading is used: a long heading path shared by every chunk of a
    file would pull all of them towards each other.
    """
    inner = title.split(" › ")[-1] if title else ""
    head = f"{name} › {inner}" if inner else name
    return f"{head}\n{text}"[:_MAX_EMBED_CHARS]


def doc_entries(
    chunks: Sequence[Chunk],
    *,
    group: str,
    source: str,
    name: str,
    doc_type: str,
    origin: str,
    version: str = "",
) -> list[Entry]:
    """Entries for the chunks of one document.

    Parameters
    ----------
    chunks
        The document's chunks, in order.
    group
        What is replaced as a whole when the document changes (its path).
    source
        What a hit cites (the path, or ``adaptive_scheduler.RunManager``).
    name
        Short name used in the embedded text (the file name).
    doc_type, origin
        ``markdown``/``python``/...; ``file``, ``builtin`` or ``api``.
    """
    seen: dict[str, int] = {}
    entries = []
    for chunk in chunks:
        # identical chunks in one document (license headers...) still need distinct ids
        occurrence = seen.get(chunk.text, 0)
        seen[chunk.text] = occurrence + 1
        meta = clean_metadata(
            {
                "kind": "doc",
                "group": group,
                "source": source,
                "name": name,
                "lines": chunk.lines,
                "title": chunk.title,
                "doc_type": doc_type,
                "origin": origin,
                "version": version,
            }
        )
        entries.append(
            Entry(
                id=content_id("doc", group, occurrence, chunk.text),
                collection=DOCS,
                document=chunk.text,
                embed_text=doc_embed_text(name, chunk.title, chunk.text),
                metadata=meta,
            )
        )
    return entries


# --- failures ----------------------------------------------------------------------------


def _category_phrase(category: str) -> str:
    return f"{category.replace('_', ' ')} ({guide_for(category).title})"


def failure_embed_text(
    category: str,
    exception: str | None,
    key_line: str | None,
    evidence: Sequence[str],
    *,
    style: str = "normalized",
) -> str:
    """The text a failure is embedded as.

    ``normalized`` (the default): the category in words, the exception, the masked key
    line and a few masked evidence lines. Masking removes what differs between
    occurrences (numbers, paths, hosts, times), so two failures of one kind embed close
    together. The other styles exist for the measurement that chose this one: on the 89
    real fixture logs (12 categories), a same-category failure was the nearest-3
    neighbour (dense only, no threshold) for 82.0 % with ``raw`` (evidence verbatim),
    80.9 % with ``key`` (masked key line only), 86.5 % with ``no_category`` and 97.8 %
    with ``normalized`` (also with 0 or 1 evidence lines). Centring the vectors (removing
    the chat model's common direction) lowered every style by 1-3 points.
    """
    if style == "raw":
        return "\n".join(evidence)[:_MAX_EMBED_CHARS]
    key = mask(key_line).strip() if key_line else ""
    if style == "key":
        return key or _category_phrase(category)
    extra: list[str] = []
    for line in evidence:
        masked = " ".join(mask(line).split())
        if masked and masked != " ".join(key.split()) and masked not in extra:
            extra.append(masked)
        if len(extra) >= FAILURE_EVIDENCE_IN_EMBEDDING:
            break
    head = [] if style == "no_category" else [f"Failure: {_category_phrase(category)}."]
    if exception:
        head.append(f"Exception: {exception}.")
    if key:
        head.append(f"Key line: {key}")
    return "\n".join([" ".join(head), *extra])[:_MAX_EMBED_CHARS]


def evidence_window(result: Any) -> tuple[list[str], str]:
    """The evidence lines of a triage result (redacted) and their range ``"a-b"``."""
    items = [(int(e.line), str(e.text)) for e in getattr(result, "evidence", None) or []]
    if not items and getattr(result, "key_line", None) is not None:
        items = [(int(getattr(result, "key_line_number", None) or 0), str(result.key_line))]
    # triage numbers lines cut from the tail of a huge log negatively; those come last
    items = sorted(items, key=lambda e: (e[0] < 0, abs(e[0])))[:MAX_EVIDENCE_LINES]
    lines: list[str] = []
    numbers: list[int] = []
    size = 0
    for number, text in items:
        clean = redact(text)
        if size + len(clean) > MAX_EVIDENCE_CHARS:
            break
        lines.append(clean)
        size += len(clean) + 1
        if number > 0:
            numbers.append(number)
    span = ""
    if numbers:
        low, high = min(numbers), max(numbers)
        span = str(low) if low == high else f"{low}-{high}"
    return lines, span


@dataclass(frozen=True)
class Occurrence:
    """Who failed: what identifies one failure occurrence besides its log.

    ``job_key`` is set when a running manager reports the job (its key in the run);
    the occurrence is then replaced as a unit per run and job. Logs added by path are
    replaced per path instead.
    """

    job_id: str | None = None
    job_name: str | None = None
    run: str | None = None
    time: float | None = None
    log_path: str | None = None
    job_key: str | None = None

    @property
    def group(self) -> str:
        if self.job_key:
            return f"job:{self.run or ''}/{self.job_key}"
        return f"log:{self.log_path or ''}"

    @property
    def source(self) -> str:
        """What hits cite: the job id for a reported job, else the log's path."""
        if self.job_key:
            return f"job {self.job_id or self.job_key}"
        return self.log_path or "unknown log"


def failure_entry(result: Any, occurrence: Occurrence, *, style: str = "normalized") -> Entry:
    """The failures-collection entry of one triaged failure occurrence.

    ``result`` is a :class:`~adaptive_llm_local.triage.TriageResult` (or anything with
    its fields: a :class:`~adaptive_llm_local.diagnose.Diagnosis` works too).
    """
    lines, span = evidence_window(result)
    key_line = redact(result.key_line) if result.key_line else None
    document = "\n".join(lines) if lines else (key_line or "")
    meta = clean_metadata(
        {
            "kind": "failure",
            "group": occurrence.group,
            "source": occurrence.source,
            "job_id": occurrence.job_id,
            "job_name": occurrence.job_name,
            "run": occurrence.run,
            # whole seconds: Chroma does not round-trip every float bit for bit
            "time": int(occurrence.time) if occurrence.time is not None else None,
            "log_path": occurrence.log_path,
            "signature": result.signature,
            "category": result.category,
            "exception": result.exception,
            "key_line": key_line,
            "key_line_number": getattr(result, "key_line_number", None),
            "lines": span,
        }
    )
    return Entry(
        id=content_id(
            "failure", occurrence.group, result.signature, meta.get("key_line_number", ""), document
        ),
        collection=FAILURES,
        document=document,
        embed_text=failure_embed_text(
            result.category, result.exception, key_line, lines, style=style
        ),
        metadata=meta,
    )


def diagnosis_metadata(diagnosis: Any, fix_worked: bool | None = None) -> Metadata:
    """Metadata fields that record a diagnosis (a ``Diagnosis`` or a mapping) on a failure."""
    get = (
        diagnosis.get
        if isinstance(diagnosis, Mapping)
        else lambda k, d=None: getattr(diagnosis, k, d)
    )
    return clean_metadata(
        {
            "root_cause": get("root_cause"),
            "suggested_fix": get("suggested_fix"),
            "diagnosis_model": get("model"),
            "diagnosis_confidence": get("confidence"),
            "fix_worked": fix_worked,
        }
    )


def embed_text_of(document: str, metadata: Mapping[str, Any]) -> str:
    """Recompute the embedded text of a stored row (``index rebuild`` needs no source files)."""
    if metadata.get("kind") == "failure":
        return failure_embed_text(
            str(metadata.get("category", "unknown")),
            metadata.get("exception") or None,
            metadata.get("key_line") or None,
            document.split("\n"),
        )
    return doc_embed_text(str(metadata.get("name", "")), str(metadata.get("title", "")), document)


def hit_text(document: str, metadata: Mapping[str, Any]) -> str:
    """The text a hit shows: for a failure, its diagnosis (when known) before its evidence."""
    if metadata.get("kind") != "failure":
        return document
    parts = []
    if metadata.get("root_cause"):
        parts.append(f"Diagnosis: {metadata['root_cause']}")
    worked = metadata.get("fix_worked")
    verdict = (
        " (this fix worked)"
        if worked is True
        else " (this fix did not work)"
        if worked is False
        else ""
    )
    if metadata.get("suggested_fix"):
        parts.append(f"Fix: {metadata['suggested_fix']}{verdict}")
    elif verdict:
        parts.append(f"Outcome:{verdict[:-1]})")
    parts.append(document)
    return "\n".join(parts)
