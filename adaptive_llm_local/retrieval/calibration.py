"""Relevance thresholds: where a hit stops being relevant, so "nothing relevant" can be said.

The defaults were measured for the default model (SmolLM2-135M-Instruct's own
mean-pooled embeddings) on the real failure logs of ``tests/fixtures/logs`` (89 logs in
12 categories) and the shipped troubleshooting guide:

* ``failure`` = 0.025, for a failure queried with another failure's embedded text.
  Nearest same-category neighbours have median cosine distance 0.004 and 95th
  percentile 0.024; only 6 % of different-category pairs are closer than 0.025. It
  keeps 94 % of the nearest same-category matches (:func:`loo_threshold`).
* ``text`` = 0.15, for failures of the category a question names (the category filter
  does the selecting; the best same-category match of 10 questions was at 0.010-0.103).
* ``doc`` = 0.35 and ``overlap`` = 0.34, for doc chunks. Dense distance alone does not
  separate on-topic from off-topic questions with this model (on-topic answers at
  0.057-0.302, nearest doc of off-topic questions at 0.083-0.299), so a chunk must also
  share a third of the query's IDF-weighted words: on-topic answers share 0.75-1.0,
  off-topic questions at most 0.28 (:func:`separating_threshold`).

Another embedding model has another geometry: set ``ADAPTIVE_LLM_INDEX_MAX_DISTANCE``
(``failure,text,doc,overlap``) or recalibrate with these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Settings
from .ranking import Thresholds

DEFAULT = Thresholds(failure=0.025, text=0.15, doc=0.35, overlap=0.34)


def thresholds_for(settings: Settings) -> Thresholds:
    """``settings.index_max_distance`` (``ADAPTIVE_LLM_INDEX_MAX_DISTANCE``), else the defaults."""
    if settings.index_max_distance is None:
        return DEFAULT
    failure, text, doc, overlap = settings.index_max_distance
    return Thresholds(failure=failure, text=text, doc=doc, overlap=overlap)


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def loo_threshold(
    distances: Sequence[Sequence[float]], labels: Sequence[str], *, max_false_rate: float = 0.06
) -> float:
    """A failure threshold from a labelled distance matrix (leave-one-out).

    The largest distance at which at most ``max_false_rate`` of different-label pairs
    are closer, capped by the 95th percentile of each item's nearest same-label
    neighbour (no point admitting more noise than the true matches need).
    """
    n = len(labels)
    different = [
        distances[i][j] for i in range(n) for j in range(n) if i != j and labels[i] != labels[j]
    ]
    nearest_same = [
        min(distances[i][j] for j in range(n) if j != i and labels[j] == labels[i])
        for i in range(n)
        if sum(1 for lab in labels if lab == labels[i]) > 1
    ]
    return min(_quantile(different, max_false_rate), _quantile(nearest_same, 0.95))


def separating_threshold(relevant: Sequence[float], irrelevant: Sequence[float]) -> float:
    """Midway between the 90th percentile of relevant and the 10th of irrelevant distances.

    When the two overlap, recall wins: the 90th percentile of the relevant ones.
    """
    high = _quantile(relevant, 0.90)
    low = _quantile(irrelevant, 0.10)
    return (high + low) / 2 if low > high else high
