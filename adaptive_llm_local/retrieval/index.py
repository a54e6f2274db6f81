"""The index: two collections (failures, docs) behind one object with a small API.

``Index`` opens a persisted folder (one owner process, see :mod:`.lock`) or a Chroma
server, checks that the collections were built with the configured embedding model,
and offers ingestion (:meth:`Index.add_paths`, :meth:`Index.record_failure`), search
(:meth:`Index.search`, :meth:`Index.context_for`, planned in :mod:`.search`),
:meth:`Index.stats` and :meth:`Index.rebuild`. Chroma itself is only touched through
:mod:`.store`, imported when the index is first opened, so importing this module stays
cheap.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..triage import TriageResult
from . import search as planner
from .calibration import thresholds_for
from .connection import COLLECTIONS, REBUILD_SUFFIX, IndexConnection
from .embedder import Embedder
from .files import iter_candidates
from .ingest import IngestReport, NullProgress, Progress, plan_files, sync
from .ranking import Thresholds
from .records import (
    DOCS,
    FAILURES,
    Entry,
    Occurrence,
    diagnosis_metadata,
    embed_text_of,
    failure_entry,
)
from .source import Source

if TYPE_CHECKING:
    from .store import Table


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class Index(IndexConnection):
    """Past failures and docs, searchable by signature and by meaning.

    Parameters
    ----------
    settings, embedder, create, keep_open
        See :class:`~.connection.IndexConnection`.
    thresholds
        Relevance thresholds (default: ``settings.index_max_distance``, else
        :mod:`.calibration`'s).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        create: bool = True,
        keep_open: bool = True,
        thresholds: Thresholds | None = None,
    ) -> None:
        super().__init__(settings, embedder=embedder, create=create, keep_open=keep_open)
        self.thresholds = thresholds or thresholds_for(settings)

    # --- ingestion -------------------------------------------------------------------------

    def add_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index files and folders: logs (``.log``, ``.out``, ``.err``) as failures, the rest as docs.

        Re-adding unchanged files embeds nothing; an edited file's old chunks are
        replaced. Files that cannot be indexed are listed in ``report.skipped``.
        """
        from ..triage import triage_file

        progress = progress or NullProgress()
        began = time.perf_counter()
        report = IngestReport()
        plans = plan_files(iter_candidates(paths), triage_file, report, progress)
        with self.session():
            for kind in (FAILURES, DOCS):
                plan = plans.get(kind)
                if plan is None:
                    continue
                table = self._table(kind, create=True)
                assert table is not None
                sync(
                    table,
                    plan.entries,
                    self.embedder,
                    replace_groups=plan.groups,
                    progress=progress,
                    report=report,
                    description=f"embedding {kind}",
                )
        report.seconds = time.perf_counter() - began
        return report

    def add_entries(
        self, entries: Sequence[Entry], *, progress: Progress | None = None
    ) -> IngestReport:
        """Write prepared entries, replacing the other rows of their groups."""
        report = IngestReport()
        with self.session():
            for kind in (FAILURES, DOCS):
                chosen = [e for e in entries if e.collection == kind]
                if chosen:
                    table = self._table(kind, create=True)
                    assert table is not None
                    groups = {e.group for e in chosen}
                    sync(
                        table,
                        chosen,
                        self.embedder,
                        replace_groups=groups,
                        progress=progress,
                        report=report,
                    )
        return report

    def add_builtin_docs(
        self, *, guide: bool = True, api: bool = True, progress: Progress | None = None
    ) -> IngestReport:
        """The troubleshooting guide and the installed adaptive-scheduler's docstrings."""
        from .builtin import api_entries, guide_entries

        entries: list[Entry] = []
        if guide:
            entries.extend(guide_entries())
        if api:
            entries.extend(api_entries()[0])
        report = self.add_entries(entries, progress=progress)
        report.documents += int(guide) + int(api)
        return report

    def record_failure(
        self,
        job: Any = None,
        result: Any = None,
        diagnosis: Any = None,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        run: str | None = None,
        when: float | None = None,
        log_path: str | None = None,
    ) -> str | None:
        """Remember one failure occurrence; returns its entry id (``None`` if nothing to store).

        Matches the manager's ``record_failure(job, result, diagnosis)``: ``job`` is any
        object with ``key``, ``job_id``, ``job_name`` (and optionally ``run``/``run_id``,
        ``seen_at``); ``result`` a triage result; ``diagnosis`` a ``Diagnosis`` (or
        mapping), whose fields stand in for a missing ``result``. Blocking: async
        callers run it in a worker thread.
        """
        source = result if result is not None else diagnosis
        if source is None or _get(source, "category") in (None, "none"):
            return None
        log = log_path or _get(source, "source") or _get(diagnosis, "log_path")
        occurrence = Occurrence(
            job_id=str(job_id or _get(job, "job_id") or "") or None,
            job_name=job_name or _get(job, "job_name"),
            run=run or _get(job, "run") or _get(job, "run_id"),
            time=when or _get(job, "seen_at") or time.time(),
            log_path=str(Path(log).resolve()) if log else None,
            job_key=str(_get(job, "key") or job_id or _get(job, "job_id") or "") or None,
        )
        entry = failure_entry(source, occurrence)
        if diagnosis is not None:
            meta = {**entry.metadata, **diagnosis_metadata(diagnosis)}
            entry = Entry(entry.id, entry.collection, entry.document, entry.embed_text, meta)
        self.add_entries([entry])
        return entry.id

    def record_diagnosis(
        self, job_id: str, diagnosis: Any, *, fix_worked: bool | None = None
    ) -> int:
        """Attach a diagnosis to the stored failures of ``job_id``; returns how many rows changed."""
        return self._update_job(job_id, diagnosis_metadata(diagnosis, fix_worked))

    def record_fix_outcome(self, job_id: str, worked: bool) -> int:
        """Record whether the suggested fix for ``job_id`` worked (shown to later diagnoses)."""
        return self._update_job(job_id, {"fix_worked": bool(worked)})

    def _update_job(self, job_id: str, fields: Mapping[str, Any]) -> int:
        if not fields:
            return 0
        with self.session():
            table = self._table(FAILURES, create=False)
            if table is None:
                return 0
            rows = table.get(where={"job_id": str(job_id)}, documents=False)
            if rows:
                table.update_metadata([r.id for r in rows], [dict(fields)] * len(rows))
            return len(rows)

    # --- search (planned in .search) ------------------------------------------------------

    def _collections(self, kinds: Sequence[str] = ("failure", "doc")) -> planner.Collections:
        return planner.Collections(
            self._table(FAILURES, create=False) if "failure" in kinds else None,
            self._table(DOCS, create=False) if "doc" in kinds else None,
            self.embedder,
            self.thresholds,
        )

    def search(
        self, query: str, *, k: int = 4, kinds: Sequence[str] = ("failure", "doc")
    ) -> list[Source]:
        """Hits for a question, an error line or a signature, best first; ``[]`` = nothing relevant.

        A signature (16 hex digits) returns the failures that carry it. Text that reads
        like a failure (a pasted log line) is searched like a log: failures with its
        signature first, then similar failures, then docs. A question is searched in the
        docs first (dense candidates re-ranked by word overlap), then among past failures
        of the categories it names. Hits past the calibrated thresholds are dropped.
        """
        text = query.strip()
        if not text or k <= 0:
            return []
        with self.session():
            return planner.search(self._collections(kinds), text, k)

    def context_for(
        self, result: TriageResult | None, *, k: int = 3, exclude_ids: Iterable[str] = ()
    ) -> list[Source]:
        """Past failures and docs for a triaged log (the ``Retriever`` of ``Diagnoser``).

        Failures with the same signature first (the most useful occurrence of each),
        then similar failures, with one slot kept for the best relevant doc of the
        user's own (the built-in guide is left out: the diagnosis prompt already
        carries the category's guide). The log itself, if it was indexed, is skipped.
        """
        if result is None or result.category == "none" or k <= 0:
            return []
        with self.session():
            return planner.context_for(self._collections(), result, k, exclude_ids)

    # --- maintenance -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts, embedding model, location and thresholds (``index stats``)."""
        out: dict[str, Any] = {
            "location": self.location,
            "backend": "server" if self.url else "local",
            "configured_embed_model": self.embedder.model_id,
            "thresholds": vars(self.thresholds),
            "collections": {},
        }
        with self.session():
            for kind in (FAILURES, DOCS):
                table = self._table(kind, create=False, check=False)
                if table is None:
                    out["collections"][kind] = {"count": 0}
                    continue
                meta = table.metadata
                info: dict[str, Any] = {
                    "count": table.count(),
                    "embed_model": meta.get("embed_model"),
                    "embed_dim": meta.get("embed_dim"),
                    "created": meta.get("created"),
                }
                counter: Counter[str] = Counter()
                groups: set[str] = set()
                field = "category" if kind == FAILURES else "origin"
                for page in table.iter_all(documents=False):
                    for row in page:
                        counter[str(row.metadata.get(field, "?"))] += 1
                        groups.add(str(row.metadata.get("group", "")))
                info["by_category" if kind == FAILURES else "by_origin"] = dict(
                    counter.most_common()
                )
                info["groups"] = len(groups)
                out["collections"][kind] = info
        return out

    def rebuild(self, *, progress: Progress | None = None) -> dict[str, int]:
        """Re-embed every stored row with the configured model (after a model change).

        Rows are copied from the stored text, so source files need not exist any more.
        A temporary collection is filled (by the same ``ingest.sync`` as any ingestion)
        and swapped in only when complete; a crash midway leaves the old collection
        intact (the next open discards the partial copy).
        """
        progress = progress or NullProgress()
        counts: dict[str, int] = {}
        with self.session():
            for kind in COLLECTIONS:
                old = self._table(kind, create=False, check=False)
                if old is not None:
                    progress.start(old.count(), f"re-embedding {kind}")
                    counts[kind] = self._rebuild_collection(kind, old, _OneBar(progress))
        return counts

    def _rebuild_collection(self, kind: str, old: Table, progress: Progress) -> int:
        assert self._store is not None
        name = COLLECTIONS[kind]
        temp_name = name + REBUILD_SUFFIX
        self._store.drop(temp_name)
        temp = self._store.create(
            temp_name, self._ef(self.embedder.dim), self._collection_metadata(kind, complete=False)
        )
        report = IngestReport()
        for page in old.iter_all(page=max(self.embedder.batch_size * 8, 64)):
            entries = [
                Entry(r.id, kind, r.document, embed_text_of(r.document, r.metadata), r.metadata)
                for r in page
            ]
            sync(temp, entries, self.embedder, progress=progress, report=report)
        temp.set_metadata(self._collection_metadata(kind, complete=True))
        self._store.drop(name)
        self._store.rename(temp_name, name)
        self._tables.pop(kind, None)
        self._checked.discard(kind)
        return report.added


class _OneBar:
    """Forwards progress of several ``sync`` calls to one bar (their ``start`` is dropped)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int) -> None:
        self._progress.advance(n)

    def note(self, message: str) -> None:
        self._progress.note(message)


def open_retriever(settings: Settings, *, create: bool = False, **options: Any) -> Index | None:
    """The index as a retriever for diagnoses and ``ask``; ``None`` when there is none.

    Without ``create``, a missing local index returns ``None`` at once (no Chroma, no
    model loaded). The index is opened once to surface a locked, read-only or
    mismatched index early, then released between calls (``keep_open=False``) unless
    ``options`` say otherwise.
    """
    if not create and not Index.exists(settings):
        return None
    options.setdefault("keep_open", False)
    index = Index(settings, create=create, **options)
    index.open()
    return index
