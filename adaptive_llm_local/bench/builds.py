"""Portable vs native llama.cpp build: throughput side by side, when both wheels are built.

Each build's wheel (from ``make install`` and ``make install NATIVE=1``) is unpacked into
a temporary folder and measured in its own process, alternating builds round by round so
machine noise hits both alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..config import CHECKOUT_DIR, wheel_cache_dir
from ..install import wheel as llama_wheel
from . import Report, median

ROUNDS = 3
KINDS = ("portable", "native")


def _measure(root: Path, cache: Path) -> dict[str, float | str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), str(CHECKOUT_DIR)]),
        "ADAPTIVE_LLM_CACHE_DIR": str(cache),
    }
    done = subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.bench.build_child"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(report: Report) -> None:
    wheels = {kind: llama_wheel.cached_wheel(kind) for kind in KINDS}
    missing = [kind for kind, wheel in wheels.items() if wheel is None]
    if missing:
        report(
            "portable vs native llama.cpp build",
            f"skipped: no {' or '.join(missing)} wheel in {wheel_cache_dir()} "
            "(`make install NATIVE=1` builds the native one, `make install` switches back)",
        )
        return
    with tempfile.TemporaryDirectory(prefix="bench-builds-") as tmp:
        roots = {}
        for kind, wheel in wheels.items():
            roots[kind] = Path(tmp) / kind
            with zipfile.ZipFile(str(wheel)) as archive:
                archive.extractall(roots[kind])
        results: dict[str, list[dict[str, float | str]]] = {kind: [] for kind in KINDS}
        for _ in range(ROUNDS):
            for kind in KINDS:
                results[kind].append(_measure(roots[kind], Path(tmp) / "cache"))
    report("portable build's CPU variant", str(results["portable"][0]["cpu_variant"]))
    for metric, label in (("prompt_tps", "prompt processing"), ("generation_tps", "generation")):
        medians = {k: median([float(r[metric]) for r in results[k]]) for k in KINDS}
        ratios = [
            float(p[metric]) / float(n[metric])
            for p, n in zip(results["portable"], results["native"], strict=True)
            if float(n[metric]) > 0
        ]
        report(
            f"{label}: portable / native (median tok/s)",
            f"{medians['portable']:.0f} / {medians['native']:.0f}",
        )
        report(f"{label}: portable / native ratio (median, goal >= 0.9)", f"{median(ratios):.3f}")
