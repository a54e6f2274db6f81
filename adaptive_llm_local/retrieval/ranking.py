"""Turn stored rows into ranked, cited hits (pure functions).

Order: exact signature matches first (the same failure seen before), then dense hits by
similarity. Dense hits farther than the calibrated distance are dropped, so an empty
result means "nothing relevant" rather than the least-bad padding. Repeats of one
failure signature collapse into one hit that says how often it was seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..triage import redact
from .lexical import overlap_scores
from .records import hit_text
from .source import Source

_FAILURE_EXTRA = (
    "job_id",
    "job_name",
    "run",
    "time",
    "log_path",
    "key_line",
    "exception",
    "root_cause",
    "suggested_fix",
    "fix_worked",
)
_DOC_EXTRA = ("title", "doc_type", "origin", "name")


class RowLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def document(self) -> str: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    @property
    def distance(self) -> float | None: ...


@dataclass(frozen=True)
class Thresholds:
    """When a dense hit still counts as relevant (cosine distances, overlap share).

    ``failure``: largest distance of a failure queried with another failure's embedded
    text; ``text``: largest distance of a failure of the category a question names;
    ``doc``: largest distance of a doc chunk; ``overlap``: smallest share of the query's
    (IDF-weighted) words a doc chunk must contain. See :mod:`.calibration`.
    """

    failure: float
    text: float
    doc: float
    overlap: float


def score_of(distance: float | None) -> float:
    """Cosine similarity from Chroma's cosine distance (1 for an exact signature match)."""
    return 1.0 if distance is None else round(1.0 - float(distance), 4)


def to_source(
    row: RowLike, *, score: float | None = None, extra: Mapping[str, Any] | None = None
) -> Source:
    """A hit as the rest of the package sees it."""
    meta = row.metadata
    kind = "failure" if meta.get("kind") == "failure" else "doc"
    keys = _FAILURE_EXTRA if kind == "failure" else _DOC_EXTRA
    details = {k: meta[k] for k in keys if k in meta}
    details["id"] = row.id
    details.update(extra or {})
    return Source(
        kind=kind,
        source=str(meta.get("source", "")),
        lines=str(meta.get("lines", "")),
        score=score if score is not None else score_of(row.distance),
        # redacted at ingest too; again here for entries another version or user wrote
        text=redact(hit_text(row.document, meta)),
        category=str(meta["category"]) if kind == "failure" and "category" in meta else None,
        signature=str(meta["signature"]) if kind == "failure" and "signature" in meta else None,
        extra=details,
    )


def _preference(row: RowLike) -> tuple[int, int, float]:
    meta = row.metadata
    return (
        1 if meta.get("fix_worked") is True else 0,
        1 if meta.get("root_cause") else 0,
        float(meta.get("time", 0.0) or 0.0),
    )


def collapse_signature(rows: Sequence[RowLike]) -> list[Source]:
    """One hit per signature among exact matches: the most useful occurrence.

    Preferred: one whose fix is known to have worked, then one with a diagnosis, then
    the most recent. ``extra["occurrences"]`` counts them; ``extra["job_ids"]`` lists up
    to five recent job ids.
    """
    by_sig: dict[str, list[RowLike]] = {}
    for row in rows:
        by_sig.setdefault(str(row.metadata.get("signature", "")), []).append(row)
    hits = []
    for group in by_sig.values():
        best = max(group, key=_preference)
        recent = sorted(
            group, key=lambda r: float(r.metadata.get("time", 0.0) or 0.0), reverse=True
        )
        job_ids = [str(r.metadata["job_id"]) for r in recent if r.metadata.get("job_id")][:5]
        extra: dict[str, Any] = {"occurrences": len(group), "match": "signature"}
        if job_ids:
            extra["job_ids"] = job_ids
        hits.append(to_source(best, score=1.0, extra=extra))
    hits.sort(
        key=lambda s: (s.extra.get("fix_worked") is True, s.extra.get("occurrences", 0)),
        reverse=True,
    )
    return hits


def dense_hits(
    rows: Iterable[RowLike],
    max_distance: float,
    *,
    skip_signatures: Iterable[str] = (),
    category: str | None = None,
    other_category_factor: float = 0.5,
) -> list[Source]:
    """Dense hits within ``max_distance``, one per failure signature.

    With ``category`` (the deterministic triage's verdict on the query), failures of that
    category come first; other categories must be closer than
    ``max_distance * other_category_factor`` to count at all.
    """
    seen = set(skip_signatures)
    hits: list[Source] = []
    counts: dict[str, int] = {}
    unique = {row.id: row for row in rows}.values()

    def other(row: RowLike) -> bool:
        return category is not None and row.metadata.get("category") != category

    ordered = sorted(
        unique, key=lambda r: (other(r), r.distance if r.distance is not None else 2.0)
    )
    for row in ordered:
        limit = max_distance * (other_category_factor if other(row) else 1.0)
        if row.distance is None or row.distance > limit:
            continue
        sig = row.metadata.get("signature") if row.metadata.get("kind") == "failure" else None
        if sig is not None:
            counts[str(sig)] = counts.get(str(sig), 0) + 1
            if sig in seen:
                continue
            seen.add(str(sig))
        hits.append(to_source(row, extra={"match": "similar"}))
    return [
        s if s.signature is None else _with_extra(s, occurrences_nearby=counts.get(s.signature, 1))
        for s in hits
    ]


def _with_extra(source: Source, **values: Any) -> Source:
    return Source(
        source.kind,
        source.source,
        source.lines,
        source.score,
        source.text,
        source.category,
        source.signature,
        {**source.extra, **values},
    )


def doc_hits(
    rows: Sequence[RowLike], query: str, max_distance: float, min_overlap: float
) -> list[Source]:
    """Doc hits re-ranked by word overlap with ``query``; best first.

    A chunk counts when it is within ``max_distance`` and covers at least ``min_overlap``
    of the query's weighted words. Its score is the mean of its cosine similarity and
    its term-frequency weighted overlap.
    """
    texts = [f"{r.metadata.get('title', '')}\n{r.document}" for r in rows]
    hits = []
    for row, (coverage, weight) in zip(rows, overlap_scores(query, texts), strict=True):
        if row.distance is None or row.distance > max_distance or coverage < min_overlap:
            continue
        score = round(0.5 * (1.0 - row.distance) + 0.5 * weight, 4)
        hits.append(
            to_source(row, score=score, extra={"match": "similar", "overlap": round(coverage, 3)})
        )
    return sorted(hits, key=lambda s: s.score, reverse=True)


def merge(
    exact: Sequence[Source],
    failures: Sequence[Source],
    docs: Sequence[Source],
    k: int,
    *,
    first: str = "failure",
    reserve_doc: bool = False,
) -> list[Source]:
    """Exact matches, then hits of kind ``first``, then the other kind; ``k`` at most.

    Scores of failures and docs are not comparable (doc scores mix in word overlap), so
    kinds are ordered, not interleaved; but when both kinds have relevant hits, the
    best of the second kind always gets a slot. With ``reserve_doc`` a doc gets a slot
    even after exact matches (a cluster guide's advice is worth one).
    """
    if k <= 0:
        return []
    exact_ids = {s.extra.get("id") for s in exact}
    # each list arrives ranked; only the kinds are ordered here
    ranked_failures = [s for s in failures if s.extra.get("id") not in exact_ids]
    ranked_docs = [s for s in docs if s.extra.get("id") not in exact_ids]
    rest = (
        [*ranked_failures, *ranked_docs] if first == "failure" else [*ranked_docs, *ranked_failures]
    )
    ranked = [*exact, *rest][:k]
    second = next((s for s in rest if s.kind != first), None)
    wanted = [second] if second is not None and (rest[0].kind == first) else []
    if reserve_doc and docs and first == "failure":
        wanted = [max(docs, key=lambda s: s.score)]
    for extra in wanted:
        if extra not in ranked:
            ranked = [*ranked[: k - 1], extra] if len(ranked) >= k else [*ranked, extra]
    return ranked
