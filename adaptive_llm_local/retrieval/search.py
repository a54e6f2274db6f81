"""Search planning: which rows to fetch for a query or a triaged log, then rank them.

The index (:mod:`.index`) opens the collections and hands them over as a
:class:`Collections`; everything here reads them, embeds the queries and ranks
(:mod:`.ranking`). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..triage import TriageResult, mask
from .embedder import Embedder
from .queries import question_categories, triage_query
from .ranking import Thresholds, collapse_signature, dense_hits, doc_hits, merge
from .records import Occurrence, failure_embed_text, failure_entry, is_signature
from .source import Source

if TYPE_CHECKING:
    from .store import Row, Table

DOC_CANDIDATES = 20
"""Dense doc candidates re-ranked by word overlap."""


@dataclass(frozen=True)
class Collections:
    """The open collections (``None`` when missing or not searched), and how to read them."""

    failures: Table | None
    docs: Table | None
    embedder: Embedder
    thresholds: Thresholds

    def count(self, table: Table | None) -> int:
        return table.count() if table is not None else 0

    def embed_queries(self, failure_text: str | None, doc_text: str | None) -> list[list[float]]:
        """Vectors of the failure and doc queries; an empty collection's query is not embedded."""
        wanted = [t for t in (failure_text, doc_text) if t is not None]
        vectors = iter(self.embedder.embed(wanted))
        return [next(vectors) if t is not None else [] for t in (failure_text, doc_text)]

    def failure_rows(self, vector: Sequence[float], n: int, category: str) -> list[Row]:
        """Nearest failures of ``category`` and nearest failures of any category."""
        failures = self.failures
        total = self.count(failures)
        if failures is None or total == 0 or not vector:
            return []
        same = failures.query(vector, min(total, n), where={"category": category})
        return [*same, *failures.query(vector, min(total, n))]

    def doc_rows(self, vector: Sequence[float], k: int, **where: Any) -> list[Row]:
        docs = self.docs
        n = min(self.count(docs), max(DOC_CANDIDATES, 4 * k))
        if docs is None or n == 0 or not vector:
            return []
        return docs.query(vector, n, where=where or None)


def search(space: Collections, text: str, k: int) -> list[Source]:
    """Hits for a question, an error line or a signature, best first (see ``Index.search``)."""
    thr = space.thresholds
    failures = space.failures
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
    n_fail = space.count(failures)
    n_docs = space.count(space.docs)
    if n_fail + n_docs == 0:
        return exact[:k]
    vectors = space.embed_queries(failure_query if n_fail else None, text if n_docs else None)
    if is_failure:
        failure_rows = space.failure_rows(vectors[0], 3 * k, result.category)
    elif n_fail and failures is not None:
        failure_rows = failures.query(vectors[0], min(n_fail, 3 * k), where=where or None)
    else:
        failure_rows = []
    doc_rows = space.doc_rows(vectors[1], k)
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


def own_entry_id(result: TriageResult) -> tuple[str, str]:
    """Id and embedded text the triaged log has (or would have) in the failures collection."""
    log = result.source
    own = failure_entry(result, Occurrence(log_path=str(Path(log).resolve()) if log else None))
    return own.id, own.embed_text


def context_for(
    space: Collections, result: TriageResult, k: int, exclude_ids: Iterable[str] = ()
) -> list[Source]:
    """Past failures and docs for a triaged log (see ``Index.context_for``)."""
    own_id, own_text = own_entry_id(result)
    exclude = {own_id, *exclude_ids}
    failures, thr = space.failures, space.thresholds
    n_fail = space.count(failures)
    n_docs = space.count(space.docs)
    if n_fail + n_docs == 0:
        return []
    exact_rows = (
        [r for r in failures.get(where={"signature": result.signature}) if r.id not in exclude]
        if failures is not None
        else []
    )
    key = mask(result.key_line) if result.key_line else ""
    doc_query = f"{result.category.replace('_', ' ')} {result.exception or ''}: {key}"
    vectors = space.embed_queries(own_text if n_fail else None, doc_query if n_docs else None)
    failure_rows = [
        r
        for r in space.failure_rows(vectors[0], 3 * k + len(exclude), result.category)
        if r.id not in exclude
    ]
    doc_rows = space.doc_rows(vectors[1], k, origin={"$ne": "builtin"})
    return merge(
        collapse_signature(exact_rows),
        dense_hits(
            failure_rows, thr.failure, skip_signatures=[result.signature], category=result.category
        ),
        doc_hits(doc_rows, doc_query, thr.doc, thr.overlap),
        k,
        reserve_doc=True,
    )
