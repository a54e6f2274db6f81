"""The index: two collections (failures, docs) behind one object with a small API.

``Index`` opens a persisted folder (one owner process, see :mod:`.lock`) or a Chroma
server, checks that the collections were built with the configured embedding model,
and offers ingestion (:meth:`Index.add_paths`, :meth:`Index.record_failure`), search
(:meth:`Index.search`, :meth:`Index.context_for`), :meth:`Index.stats` and
:meth:`Index.rebuild`. Chroma itself is only touched through :mod:`.store`, imported
when the index is first opened, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..diagnose import Source
from ..errors import IndexError_, IndexMismatchError
from .calibration import thresholds_from_env
from .embedder import Embedder
from .files import iter_candidates
from .ingest import IngestReport, NullProgress, Progress, plan_files, sync
from .lock import DEFAULT_TIMEOUT, IndexLock, read_only_error
from .queries import question_categories, triage_query
from .ranking import Thresholds, collapse_signature, dense_hits, doc_hits, merge
from .records import (
    DOCS,
    FAILURES,
    Entry,
    Occurrence,
    diagnosis_metadata,
    embed_text_of,
    failure_embed_text,
    failure_entry,
    is_signature,
)

if TYPE_CHECKING:
    from .store import Store, Table

COLLECTIONS = {FAILURES: "adaptive-llm-failures", DOCS: "adaptive-llm-docs"}
SCHEMA = 1
REBUILD_SUFFIX = "-rebuild"
LOCK_TIMEOUT_ENV = "ADAPTIVE_LLM_INDEX_LOCK_TIMEOUT"
_SQLITE = "chroma.sqlite3"
DOC_CANDIDATES = 20
"""Dense doc candidates re-ranked by word overlap."""


def _lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise IndexError_(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class Index:
    """Past failures and docs, searchable by signature and by meaning.

    Parameters
    ----------
    settings
        Where the index lives (``settings.chroma_path`` or ``settings.chroma_url``) and
        which embedding model to use.
    embedder
        Overrides the configured embedding model (benchmarks).
    create
        Create the collections when missing; with ``False`` a missing local index
        raises :class:`IndexError_` and missing collections read as empty.
    keep_open
        Keep the Chroma client (and the folder's lock) between calls. With ``False``
        every call opens and closes it, so a long-lived process (a notebook's manager)
        does not lock the CLI out between diagnoses.
    lock_timeout
        Seconds to wait for another process that owns the folder
        (default ``ADAPTIVE_LLM_INDEX_LOCK_TIMEOUT`` or 10).
    thresholds
        Relevance thresholds (default: :mod:`.calibration`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        create: bool = True,
        keep_open: bool = True,
        lock_timeout: float | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.embedder = embedder or Embedder.from_settings(self.settings)
        self.create = create
        self.keep_open = keep_open
        self.thresholds = thresholds or thresholds_from_env()
        self.url = self.settings.chroma_url
        self.path = self.settings.chroma_path
        timeout = _lock_timeout() if lock_timeout is None else lock_timeout
        self._lock = None if self.url else IndexLock(self.settings.index_path, timeout=timeout)
        self._store: Store | None = None
        self._tables: dict[str, Table | None] = {}
        self._checked: set[str] = set()
        self._depth = 0
        self._mutex = threading.RLock()

    # --- opening and closing ---------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.url or str(self.path)

    @staticmethod
    def exists(settings: Settings) -> bool:
        """Whether a local index was ever created (a server is assumed to exist)."""
        return bool(settings.chroma_url) or (settings.chroma_path / _SQLITE).is_file()

    @contextlib.contextmanager
    def session(self) -> Iterator[Index]:
        """Hold the index open (and locked) for a group of calls."""
        with self._mutex:
            if self._depth == 0 and self._store is None:
                self._open()
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0 and not self.keep_open:
                    self._close()

    def open(self) -> Index:
        """Open now (to surface a locked, read-only or mismatched index early)."""
        with self.session():
            for kind in COLLECTIONS:
                self._table(kind, create=False)
            return self

    def close(self) -> None:
        with self._mutex:
            self._close()

    def __del__(self) -> None:
        # an index dropped without close() must not keep the folder locked
        with contextlib.suppress(Exception):
            self._close()

    def __enter__(self) -> Index:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if self.url is None:
            if not self.create and not self.exists(self.settings):
                raise IndexError_(
                    f"No index at {self.path}. Create one with `adaptive-llm-local index add PATH...`."
                )
            assert self._lock is not None
            self._lock.acquire()
            try:
                self._check_writable()
            except BaseException:
                self._lock.release()
                raise
        from .store import Store

        try:
            self._store = Store.remote(self.url) if self.url else Store.local(self.path)
            self._recover_rebuild()
        except BaseException:
            self._close()
            raise

    def _check_writable(self) -> None:
        if not self.path.exists():
            return
        probe = self.path / f".write-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
            database = self.path / _SQLITE
            if database.exists() and not os.access(database, os.W_OK):
                raise PermissionError(13, "the database file is read-only")
        except OSError as exc:
            raise read_only_error(self.path, exc) from None

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._tables = {}
        self._checked = set()
        if self._lock is not None:
            self._lock.release()

    # --- collections -----------------------------------------------------------------------

    def _ef(self, dim: int = 0) -> Any:
        from .store import LocalEmbeddingFunction

        return LocalEmbeddingFunction(self.embedder.embed, self.embedder.model_id, dim)

    def _table(self, kind: str, *, create: bool | None = None, check: bool = True) -> Table | None:
        """The collection of ``kind``; ``None`` when missing and not to be created."""
        assert self._store is not None, "use inside a session"
        table = self._tables.get(kind)
        if table is None:
            name = COLLECTIONS[kind]
            table = self._store.open(name, self._ef())
            if table is None and (self.create if create is None else create):
                table = self._store.create(
                    name, self._ef(self.embedder.dim), self._collection_metadata(kind)
                )
            self._tables[kind] = table
        if table is not None and check and kind not in self._checked:
            self._check_model(table)
            self._checked.add(kind)
        return table

    def _collection_metadata(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "app": "adaptive-llm-local",
            "kind": kind,
            "schema": SCHEMA,
            "embed_model": self.embedder.model_id,
            "embed_dim": self.embedder.dim,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra,
        }

    def _check_model(self, table: Table) -> None:
        built = table.metadata.get("embed_model")
        if built != self.embedder.model_id:
            raise IndexMismatchError(
                f"The index at {self.location} was built with embedding model {built or 'unknown'}, "
                f"now configured {self.embedder.model_id}: run `adaptive-llm-local index rebuild` "
                "(or configure the model it was built with: ADAPTIVE_LLM_EMBED_MODEL)."
            )

    def _recover_rebuild(self) -> None:
        """Finish or discard a rebuild that a crash interrupted."""
        assert self._store is not None
        names = set(self._store.names())
        for name in COLLECTIONS.values():
            temp = name + REBUILD_SUFFIX
            if temp not in names:
                continue
            table = self._store.open(temp, self._ef())
            if name not in names and table is not None and table.metadata.get("complete"):
                self._store.rename(temp, name)
            elif name in names:
                self._store.drop(temp)

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

    # --- search ----------------------------------------------------------------------------

    def _count(self, table: Table | None) -> int:
        return table.count() if table is not None else 0

    def _embed_queries(self, failure_text: str | None, doc_text: str | None) -> list[list[float]]:
        """Vectors of the failure and doc queries; an empty collection's query is not embedded."""
        wanted = [t for t in (failure_text, doc_text) if t is not None]
        vectors = iter(self.embedder.embed(wanted))
        return [next(vectors) if t is not None else [] for t in (failure_text, doc_text)]

    def _failure_rows(
        self, failures: Table | None, vector: Sequence[float], n: int, category: str
    ) -> list[Any]:
        """Nearest failures of ``category`` and nearest failures of any category."""
        total = self._count(failures)
        if failures is None or total == 0:
            return []
        if not vector:
            return []
        same = failures.query(vector, min(total, n), where={"category": category})
        return [*same, *failures.query(vector, min(total, n))]

    def _doc_rows(
        self, docs: Table | None, vector: Sequence[float], k: int, **where: Any
    ) -> list[Any]:
        n = min(self._count(docs), max(DOC_CANDIDATES, 4 * k))
        if docs is None or n == 0 or not vector:
            return []
        return docs.query(vector, n, where=where or None)

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
        from ..triage import mask

        text = query.strip()
        if not text or k <= 0:
            return []
        thr = self.thresholds
        with self.session():
            failures = self._table(FAILURES, create=False) if "failure" in kinds else None
            docs = self._table(DOCS, create=False) if "doc" in kinds else None
            if is_signature(text):
                rows = failures.get(where={"signature": text}) if failures is not None else []
                return collapse_signature(rows)[:k]
            result = triage_query(text)
            is_failure = result.category not in ("none", "unknown")
            exact: list[Source] = []
            where: dict[str, Any] = {}
            if is_failure:
                failure_query = failure_entry(result, Occurrence()).embed_text
                limit = thr.failure
                if failures is not None:
                    exact = collapse_signature(failures.get(where={"signature": result.signature}))
            else:
                categories = question_categories(text)
                failure_query = failure_embed_text(
                    categories[0] if categories else "unknown", None, mask(text), []
                )
                limit = thr.text if categories else thr.failure
                if categories:
                    where = (
                        {"category": {"$in": categories}}
                        if len(categories) > 1
                        else {"category": categories[0]}
                    )
            n_fail = self._count(failures)
            n_docs = self._count(docs)
            if n_fail + n_docs == 0:
                return exact[:k]
            vectors = self._embed_queries(
                failure_query if n_fail else None, text if n_docs else None
            )
            if is_failure:
                failure_rows = self._failure_rows(failures, vectors[0], 3 * k, result.category)
            elif n_fail and failures is not None:
                failure_rows = failures.query(vectors[0], min(n_fail, 3 * k), where=where or None)
            else:
                failure_rows = []
            doc_rows = self._doc_rows(docs, vectors[1], k)
        return merge(
            exact,
            dense_hits(
                failure_rows,
                limit,
                skip_signatures=[s.signature for s in exact if s.signature],
                category=result.category if is_failure else None,
            ),
            doc_hits(doc_rows, text, thr.doc, thr.overlap),
            k,
            first="failure" if is_failure else "doc",
        )

    def context_for(
        self, result: Any, *, k: int = 3, exclude_ids: Iterable[str] = ()
    ) -> list[Source]:
        """Past failures and docs for a triaged log (the ``Retriever`` of ``Diagnoser``).

        Failures with the same signature first (the most useful occurrence of each),
        then similar failures, with one slot kept for the best relevant doc of the
        user's own (the built-in guide is left out: the diagnosis prompt already
        carries the category's guide). The log itself, if it was indexed, is skipped.
        """
        from ..triage import mask

        if result is None or result.category == "none" or k <= 0:
            return []
        log = getattr(result, "source", None)
        own = failure_entry(result, Occurrence(log_path=str(Path(log).resolve()) if log else None))
        exclude = {own.id, *exclude_ids}
        with self.session():
            failures = self._table(FAILURES, create=False)
            docs = self._table(DOCS, create=False)
            n_fail = self._count(failures)
            if n_fail + self._count(docs) == 0:
                return []
            exact_rows = (
                [
                    r
                    for r in failures.get(where={"signature": result.signature})
                    if r.id not in exclude
                ]
                if failures is not None
                else []
            )
            key = mask(result.key_line) if result.key_line else ""
            doc_query = f"{result.category.replace('_', ' ')} {result.exception or ''}: {key}"
            vectors = self._embed_queries(
                own.embed_text if n_fail else None, doc_query if self._count(docs) else None
            )
            failure_rows = [
                r
                for r in self._failure_rows(
                    failures, vectors[0], 3 * k + len(exclude), result.category
                )
                if r.id not in exclude
            ]
            doc_rows = self._doc_rows(docs, vectors[1], k, origin={"$ne": "builtin"})
        return merge(
            collapse_signature(exact_rows),
            dense_hits(
                failure_rows,
                self.thresholds.failure,
                skip_signatures=[result.signature],
                category=result.category,
            ),
            doc_hits(doc_rows, doc_query, self.thresholds.doc, self.thresholds.overlap),
            k,
            reserve_doc=True,
        )

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
        A temporary collection is filled and swapped in only when complete; a crash
        midway leaves the old collection intact (the next open discards the partial copy).
        """
        progress = progress or NullProgress()
        counts: dict[str, int] = {}
        with self.session():
            assert self._store is not None
            for kind, name in COLLECTIONS.items():
                old = self._table(kind, create=False, check=False)
                if old is None:
                    continue
                temp_name = name + REBUILD_SUFFIX
                self._store.drop(temp_name)
                temp = self._store.create(
                    temp_name,
                    self._ef(self.embedder.dim),
                    self._collection_metadata(kind, complete=False),
                )
                total = old.count()
                progress.start(total, f"re-embedding {kind}")
                copied = 0
                for page in old.iter_all(page=max(self.embedder.batch_size * 8, 64)):
                    entries = [
                        Entry(
                            r.id,
                            kind,
                            r.document,
                            embed_text_of(r.document, r.metadata),
                            r.metadata,
                        )
                        for r in page
                    ]
                    for s in range(0, len(entries), self.embedder.batch_size):
                        batch = entries[s : s + self.embedder.batch_size]
                        vectors = self.embedder.embed([e.embed_text for e in batch])
                        temp.upsert(
                            [e.id for e in batch],
                            [e.document for e in batch],
                            [e.metadata for e in batch],
                            vectors,
                        )
                        copied += len(batch)
                        progress.advance(len(batch))
                temp.set_metadata(self._collection_metadata(kind, complete=True))
                self._store.drop(name)
                self._store.rename(temp_name, name)
                self._tables.pop(kind, None)
                self._checked.discard(kind)
                counts[kind] = copied
        return counts


def open_retriever(
    settings: Settings | None = None, *, create: bool = False, **options: Any
) -> Index | None:
    """The index as a retriever for diagnoses and ``ask``; ``None`` when there is none.

    Without ``create``, a missing local index returns ``None`` at once (no Chroma, no
    model loaded). The index is opened once to surface a locked, read-only or
    mismatched index early, then released between calls (``keep_open=False``) unless
    ``options`` say otherwise.
    """
    settings = settings or Settings.from_env()
    if not create and not Index.exists(settings):
        return None
    options.setdefault("keep_open", False)
    index = Index(settings, create=create, **options)
    index.open()
    return index
