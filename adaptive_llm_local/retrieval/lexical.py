"""Keyword overlap between a query and candidate texts (pure; re-ranks dense doc hits).

The default model's embeddings separate questions from documents poorly: an on-topic
question is often no closer to its answer than an off-topic one is to anything. Word
overlap, weighted by rarity among the candidates, is what tells them apart, so doc
hits are re-ranked by it and a doc counts as relevant only when it shares telling
words with the query (see :mod:`.calibration`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_K1 = 1.2
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each few for from
    further get gets got had has have having he her here hers him his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our
    ours out over own same she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself use used using want
    make makes made work works run runs running job jobs please help tell know thing things
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Lower-cased content words in order, crudely singularised (``jobs`` -> ``job``)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in STOPWORDS and len(word) > 2:
            out.append(word)
    return out


def terms(text: str) -> set[str]:
    """The distinct content words of ``text`` (see :func:`words`)."""
    return set(words(text))


def overlap_scores(query: str, texts: Sequence[str]) -> list[tuple[float, float]]:
    """For each text: ``(coverage, weight)`` of the query's words, both from 0 to 1.

    ``coverage`` is the share of the query's IDF weight whose words occur in the text
    (the relevance gate); ``weight`` also counts how often they occur, saturating like
    BM25's term frequency (the ranking). IDF is computed over ``texts`` (the candidates).
    """
    wanted = terms(query)
    if not wanted or not texts:
        return [(0.0, 0.0)] * len(texts)
    counts = [Counter(w for w in words(t) if w in wanted) for t in texts]
    n = len(counts)
    idf = {w: math.log(1.0 + n / (1 + sum(1 for c in counts if w in c))) for w in wanted}
    # words no candidate has still weigh in the denominator: a question about cakes
    # shares nothing with a cluster guide, however the guide's words are weighted
    total = sum(idf.values())
    out = []
    for found in counts:
        coverage = sum(idf[w] for w in found) / total
        weight = sum(idf[w] * tf / (tf + _K1) for w, tf in found.items()) / total
        out.append((coverage, weight))
    return out
