"""Retrieval benchmarks, measured side by side in one run.

* Ingestion throughput through the index (triaged entries -> batched embeddings -> Chroma
  upserts) against raw ``LocalModel.embed`` on the same texts (goal >= 0.9x).
* Batched embedding against one model call per text.
* Leave-one-out quality on the real fixture logs (same category in the top 3).
* Store search latency (median, p95) at 1k, 10k and 100k entries, with a plot. The
  100k case uses synthetic unit vectors of the model's dimension: embedding 100k real
  chunks on a CPU would take hours. Query embedding time is reported separately: it is
  the same at any index size.

``BENCH_RETRIEVAL_MAX_N`` caps the largest synthetic size (default 100000).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..config import CHECKOUT_DIR, Settings
from . import Report, median, out_dir, p95

FIXTURES = CHECKOUT_DIR / "tests" / "fixtures" / "logs"
SIZES = (1_000, 10_000, 100_000)
QUERIES = 200
SINGLE_VS_BATCH_TEXTS = 16


def _fixture_entries() -> tuple[list[Any], list[Path], list[str]]:
    """Failure entries of the fixture logs (categories with >= 2 logs), their paths and categories."""
    from ..retrieval.ingest import plan_log
    from ..triage import triage_file

    expected = json.loads((FIXTURES / "expected.json").read_text())
    items = [
        (FIXTURES / n, i["category"])
        for n, i in sorted(expected.items())
        if i["category"] != "none"
    ]
    counts = Counter(c for _, c in items)
    entries, paths, categories = [], [], []
    for path, category in items:
        if counts[category] < 2 or not path.is_file():
            continue
        entry = plan_log(path.resolve(), triage_file)
        if hasattr(entry, "embed_text"):
            entries.append(entry)
            paths.append(path)
            categories.append(category)
    return entries, paths, categories


INGEST_ROUNDS = 3


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ingestion(report: Report, home: Path) -> Any:
    from ..retrieval import Index
    from ..retrieval.embedder import Embedder
    from ..triage import triage_file

    settings = Settings.from_env(index_dir=home / "index")
    embedder = Embedder.from_settings(settings)
    model = embedder.model
    model.embed(["warm-up"])
    entries, paths, categories = _fixture_entries()
    texts = [e.embed_text for e in entries]
    index = Index(settings, embedder=embedder)
    batches = embedder.batches(texts)
    n = len(texts)

    def raw_same_batches(part: list[list[str]]) -> None:
        for batch in part:
            model.embed(batch)

    # raw passes are split in halves that bracket each pipeline run, so a drift in a
    # shared machine's load affects both sides alike; each round ingests into a fresh
    # index (ids are content-derived: re-adding to the same index would be a no-op)
    half = len(batches) // 2
    raws, pipelines = [], []
    for round_ in range(INGEST_ROUNDS):
        fresh = Index(Settings.from_env(index_dir=home / f"ingest-{round_}"), embedder=embedder)
        raw = _timed(lambda: raw_same_batches(batches[:half]))
        pipelines.append(_timed(partial(fresh.add_entries, entries)))
        raws.append(raw + _timed(lambda: raw_same_batches(batches[half:])))
        fresh.close()
    index.add_entries(entries)
    raw, pipeline = median(raws), median(pipelines)
    ratios = [r / p for r, p in zip(raws, pipelines, strict=True)]
    raw_one_call = _timed(lambda: model.embed(texts))
    report("ingestion: texts (real fixture failures)", f"{n} in {len(batches)} model calls")
    report("ingestion: raw LocalModel.embed, same batches", f"{n / raw:.2f} texts/s")
    report(
        "ingestion: raw LocalModel.embed, all texts in one call", f"{n / raw_one_call:.2f} texts/s"
    )
    report("ingestion: through the index (embed + upsert)", f"{n / pipeline:.2f} texts/s")
    report(
        f"ingestion: index / raw same batches, median of {INGEST_ROUNDS} (goal >= 0.9x)",
        f"{median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})",
    )
    report("ingestion: index / raw one call", f"{raw_one_call / pipeline:.2f}x")

    sample = texts[:SINGLE_VS_BATCH_TEXTS]
    single = _timed(lambda: [model.embed([t]) for t in sample])
    ours = _timed(lambda: embedder.embed(sample))
    one_call = _timed(lambda: model.embed(sample))
    report("embedding: one call per text", f"{len(sample) / single:.2f} texts/s")
    report(
        f"embedding: batched (<= {embedder.batch_size} texts, <= {embedder.batch_chars} chars per call)",
        f"{len(sample) / ours:.2f} texts/s",
    )
    report("embedding: all in one call", f"{len(sample) / one_call:.2f} texts/s")
    report("embedding: batched / one-per-text speed-up", f"{single / ours:.2f}x")

    hits = 0
    latencies = []
    for path, category in zip(paths, categories, strict=True):
        result = triage_file(path)
        start = time.perf_counter()
        sources = index.context_for(result, k=3)
        latencies.append(time.perf_counter() - start)
        hits += any(s.kind == "failure" and s.category == category for s in sources)
    report(
        "quality: leave-one-out same category in top 3",
        f"{hits}/{n} = {hits / n:.3f} (goal >= 0.9)",
    )
    report(
        "search: context_for end to end (embeds 2 texts) median",
        f"{median(latencies) * 1000:.0f} ms",
    )
    query_embed = [
        _timed(lambda: model.embed(["ModuleNotFoundError: No module named <*>", "q"]))
        for _ in range(5)
    ]
    report("search: query embedding alone median", f"{median(query_embed) * 1000:.0f} ms")
    index.close()
    return embedder


def _unit_vectors(rng: Any, n: int, dim: int, centers: Any) -> Any:
    import numpy as np

    picks = rng.integers(0, len(centers), size=n)
    vectors = centers[picks] + 0.35 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _latency(report: Report, home: Path, dim: int) -> list[dict[str, float]]:
    import numpy as np

    from ..retrieval.store import LocalEmbeddingFunction, Store

    cap = int(os.environ.get("BENCH_RETRIEVAL_MAX_N", SIZES[-1]))
    sizes = [s for s in SIZES if s <= cap] or [cap]
    rng = np.random.default_rng(0)
    # a shared direction plus clusters mimics the chat model's anisotropic embeddings
    common = rng.normal(size=dim).astype(np.float32)
    centers = common + 0.6 * rng.normal(size=(200, dim)).astype(np.float32)
    store = Store.local(home / "synthetic")
    table = store.create(
        "bench-latency", LocalEmbeddingFunction(None, "synthetic", dim), {"embed_dim": dim}
    )
    rows: list[dict[str, float]] = []
    count = 0
    for size in sizes:
        start = time.perf_counter()
        while count < size:
            n = min(store.max_batch, size - count)
            vectors = _unit_vectors(rng, n, dim, centers)
            ids = [f"s{count + i}" for i in range(n)]
            metas = [
                {
                    "kind": "failure",
                    "signature": f"{(count + i) % 5000:016x}",
                    "category": "python_exception",
                }
                for i in range(n)
            ]
            table.upsert(ids, ["synthetic entry"] * n, metas, vectors)
            count += n
        insert = time.perf_counter() - start
        queries = _unit_vectors(rng, QUERIES, dim, centers)
        dense, exact = [], []
        for i, q in enumerate(queries):
            dense.append(_timed(partial(table.query, q, 12)))
            signature = f"{i * 7 % 5000:016x}"
            exact.append(_timed(partial(table.get, where={"signature": signature}, documents=True)))
        row = {
            "n": size,
            "dense_p50_ms": median(dense) * 1000,
            "dense_p95_ms": p95(dense) * 1000,
            "signature_p50_ms": median(exact) * 1000,
            "signature_p95_ms": p95(exact) * 1000,
        }
        rows.append(row)
        report(
            f"search at {size:>7,} (synthetic {dim}-d): dense k=12",
            f"median {row['dense_p50_ms']:.2f} ms, p95 {row['dense_p95_ms']:.2f} ms",
        )
        report(
            f"search at {size:>7,}: signature filter",
            f"median {row['signature_p50_ms']:.2f} ms, p95 {row['signature_p95_ms']:.2f} ms "
            f"(inserted at {(size - (rows[-2]['n'] if len(rows) > 1 else 0)) / insert:.0f}/s)",
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["dense_p50_ms"] / first["dense_p50_ms"]
        report(
            f"search growth {first['n']:,} -> {last['n']:,} ({last['n'] / first['n']:.0f}x entries)",
            f"dense median x{growth:.2f}",
        )
    store.close()
    return rows


def _plot(rows: list[dict[str, float]]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("dense", "dense k=12"), ("signature", "signature filter")):
        ax.plot(sizes, [r[f"{key}_p50_ms"] for r in rows], marker="o", label=f"{label} median")
        ax.plot(
            sizes,
            [r[f"{key}_p95_ms"] for r in rows],
            marker="x",
            linestyle="--",
            label=f"{label} p95",
        )
    ax.set_xscale("log")
    ax.set_xlabel("entries in the collection")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Chroma search latency (persisted, cosine HNSW)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = out_dir() / "retrieval_latency.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(report: Report) -> None:
    """Every retrieval measurement; ``report(name, value)`` prints and records each."""
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        home = Path(tmp)
        embedder = _ingestion(report, home)
        rows = _latency(report, home, embedder.dim)
    plot = _plot(rows)
    report("search latency plot", str(plot) if plot else "matplotlib missing: no plot")
    if len(rows) > 1:
        report(
            "search dense median by n",
            ", ".join(f"{r['n']:,}: {r['dense_p50_ms']:.2f} ms" for r in rows),
        )
