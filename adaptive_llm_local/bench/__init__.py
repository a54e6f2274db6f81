"""``make bench``: performance measured side by side in one run, printed as medians and ratios.

Each section module has ``run(report)``; ``report(name, value)`` prints one line and
keeps it for ``bench-results/results.json`` (folder from ``BENCH_OUT``).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Report = Callable[[str, str], None]


def out_dir() -> Path:
    path = Path(os.environ.get("BENCH_OUT", "bench-results"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


class Recorder:
    """Prints results as they come and saves them as JSON at the end."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.section = ""

    def __call__(self, name: str, value: str) -> None:
        self.rows.append({"section": self.section, "name": name, "value": value})
        print(f"  {name:<58} {value}", flush=True)

    def save(self) -> Path:
        path = out_dir() / "results.json"
        path.write_text(json.dumps(self.rows, indent=1))
        return path
