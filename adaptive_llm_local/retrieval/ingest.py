"""Ingestion: files into entries, entries into a collection, incrementally and crash-safely.

Planning (read, triage or chunk) touches only the files; syncing touches only the
collection. Sync embeds and writes only entries whose id is new, a batch per Chroma
call, so a ``kill -9`` loses at most the batch in flight and a rerun continues where
it stopped. Stale rows of a replaced group (the old chunks of an edited file) are
deleted only after every new row is written: a crash never leaves a file with fewer
chunks than before.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..errors import AssistantError
from ..triage.redact import redact
from .chunking import chunk_document
from .embedder import Embedder
from .files import Candidate, SkipFile, Skipped, display_path, open_text, read_document
from .records import Entry, Occurrence, doc_entries, failure_entry

_DOC_TYPES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".py": "python",
    ".ipynb": "notebook",
}
_JOB_IN_LOG = re.compile(r"\b(?:JOB|StepId=|job[ _-]?id[:= ]+)\s*(\d{2,})", re.IGNORECASE)
_JOB_IN_NAME = re.compile(r"[-_.](\d{3,})$")


class Progress(Protocol):
    """Where long work reports how far it got (the CLI draws a rich progress bar)."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int) -> None: ...

    def note(self, message: str) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class IngestReport:
    """What an ingestion did; ``skipped`` says why each left-out file was left out."""

    files: int = 0
    failures: int = 0
    documents: int = 0
    added: int = 0
    unchanged: int = 0
    updated: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def merge(self, other: IngestReport) -> IngestReport:
        for name in ("files", "failures", "documents", "added", "unchanged", "updated", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.extend(other.skipped)
        self.seconds += other.seconds
        self.embed_seconds += other.embed_seconds
        return self

    def summary(self) -> str:
        parts = [
            f"{self.files} file(s): {self.failures} failure log(s), {self.documents} document(s)",
            f"{self.added} entr{'y' if self.added == 1 else 'ies'} added, {self.unchanged} unchanged",
        ]
        if self.updated:
            parts.append(f"{self.updated} relabelled")
        if self.removed:
            parts.append(f"{self.removed} stale removed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return "; ".join(parts) + f" ({self.seconds:.1f} s)"

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "failures": self.failures,
            "documents": self.documents,
            "added": self.added,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "removed": self.removed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "seconds": round(self.seconds, 3),
        }


class TableLike(Protocol):
    """The part of ``store.Table`` that syncing uses."""

    def get(
        self,
        *,
        ids: Sequence[str] | None = ...,
        where: Mapping[str, Any] | None = ...,
        documents: bool = ...,
    ) -> list[Any]: ...

    def upsert(
        self,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        embeddings: Sequence[Sequence[float]],
    ) -> None: ...

    def update_metadata(
        self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...


# --- planning: files -> entries ------------------------------------------------------------


def guess_job_id(path: Path, result: Any) -> str | None:
    """A scheduler job id from the log's lines (``JOB 4711``) or its name (``run-4711.out``)."""
    for item in getattr(result, "evidence", None) or []:
        match = _JOB_IN_LOG.search(str(item.text))
        if match:
            return match.group(1)
    match = _JOB_IN_NAME.search(path.stem)
    return match.group(1) if match else None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


class Triage(Protocol):
    """How a log is triaged: ``triage_file``, reading the already-opened ``file``."""

    def __call__(self, path: Path, *, file: BinaryIO) -> Any: ...


def plan_log(
    path: Path, triage: Triage, identity: tuple[int, int] | None = None
) -> Entry | Skipped:
    """The failure entry of a job log, or why it is left out.

    The log is opened once, checked (a regular file, not a link, the one the walk found,
    text) and triaged from that descriptor: a name swapped for a link after the check
    is never followed.
    """
    shown = display_path(path)
    try:
        with open_text(path, identity) as fh:
            mtime = os.fstat(fh.fileno()).st_mtime
            result = triage(path, file=fh)
    except (SkipFile, AssistantError) as exc:
        return Skipped(shown, str(exc))
    except OSError as exc:
        return Skipped(shown, f"cannot be read ({exc.strerror or exc})")
    except (RecursionError, MemoryError, ValueError) as exc:
        return Skipped(shown, f"cannot be triaged ({_one_line(exc)})")
    if result.category == "none":
        return Skipped(shown, "no failure found in this log (triage: none)")
    occurrence = Occurrence(job_id=guess_job_id(path, result), time=mtime, log_path=shown)
    return failure_entry(result, occurrence)


def plan_doc(path: Path, identity: tuple[int, int] | None = None) -> list[Entry] | Skipped:
    """The chunk entries of a document, redacted like logs, or why it is left out."""
    shown = display_path(path)
    try:
        text = read_document(path, identity=identity)
        chunks = chunk_document(text, path.suffix, clean=redact)
    except SkipFile as exc:
        return Skipped(shown, str(exc))
    except (ValueError, RecursionError, MemoryError) as exc:  # a notebook that is not JSON...
        return Skipped(shown, f"cannot be parsed ({_one_line(exc)})")
    return doc_entries(
        chunks,
        group=f"file:{shown}",
        source=shown,
        name=display_path(path.name),
        doc_type=_DOC_TYPES.get(path.suffix.lower(), "text"),
        origin="file",
    )


@dataclass
class Plan:
    """Entries to write, per collection, and the groups they replace."""

    entries: list[Entry] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)


def plan_files(
    candidates: Iterable[Candidate | Skipped],
    triage: Triage,
    report: IngestReport,
    progress: Progress,
) -> dict[str, Plan]:
    """Read every candidate; returns plans keyed by collection (``failures``, ``docs``)."""
    plans: dict[str, Plan] = {}
    items = list(candidates)
    progress.start(len(items), "reading")
    for item in items:
        progress.advance(1)
        if isinstance(item, Skipped):
            report.skipped.append(item)
            progress.note(f"skipped {item.path}: {item.reason}")
            continue
        report.files += 1
        try:
            planned = (
                plan_log(item.path, triage, item.identity)
                if item.kind == "log"
                else plan_doc(item.path, item.identity)
            )
        except Exception as exc:  # one bad file never stops the others
            planned = Skipped(display_path(item.path), f"cannot be indexed ({_one_line(exc)})")
        if isinstance(planned, Skipped):
            report.skipped.append(planned)
            progress.note(f"skipped {planned.path}: {planned.reason}")
            continue
        entries = [planned] if isinstance(planned, Entry) else planned
        if item.kind == "log":
            report.failures += 1
        else:
            report.documents += 1
        group = entries[0].group if entries else f"file:{display_path(item.path)}"
        for entry in entries:
            plan = plans.setdefault(entry.collection, Plan())
            plan.entries.append(entry)
            plan.groups.add(group)
    return plans


# --- syncing: entries -> a collection --------------------------------------------------------


def _changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return any(current.get(key) != value for key, value in wanted.items())


def sync(
    table: TableLike,
    entries: Sequence[Entry],
    embedder: Embedder,
    *,
    replace_groups: Iterable[str] = (),
    progress: Progress | None = None,
    report: IngestReport | None = None,
    description: str = "embedding",
) -> IngestReport:
    """Make ``table`` hold ``entries``; rows of ``replace_groups`` not among them are removed.

    Only new ids are embedded. Rows whose id exists but whose metadata changed (a chunk
    that moved to other lines) are relabelled without re-embedding.
    """
    progress = progress or NullProgress()
    report = report if report is not None else IngestReport()
    began = time.perf_counter()
    unique = list({e.id: e for e in entries}.values())
    existing = {
        row.id: row.metadata for row in table.get(ids=[e.id for e in unique], documents=False)
    }
    new = [e for e in unique if e.id not in existing]
    relabel = [e for e in unique if e.id in existing and _changed(existing[e.id], e.metadata)]
    report.unchanged += len(unique) - len(new) - len(relabel)

    progress.start(len(new), description)
    size = embedder.batch_size
    embed_before = embedder.stats.seconds
    for start in range(0, len(new), size):
        batch = new[start : start + size]
        vectors = embedder.embed([e.embed_text for e in batch])
        table.upsert(
            [e.id for e in batch],
            [e.document for e in batch],
            [e.metadata for e in batch],
            vectors,
        )
        report.added += len(batch)
        progress.advance(len(batch))
    report.embed_seconds += embedder.stats.seconds - embed_before

    if relabel:
        table.update_metadata([e.id for e in relabel], [e.metadata for e in relabel])
        report.updated += len(relabel)

    keep = {e.id for e in unique}
    for group in sorted(set(replace_groups)):
        stale = [
            row.id
            for row in table.get(where={"group": group}, documents=False)
            if row.id not in keep
        ]
        if stale:
            table.delete(stale)
            report.removed += len(stale)
    report.seconds += time.perf_counter() - began
    return report
