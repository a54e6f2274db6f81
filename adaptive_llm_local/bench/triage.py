"""Triage time and memory do not grow with log size: 1 MB vs 1 GB log, measured side by side."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

from ..triage import triage_file
from . import Report, median

NOISE = (
    "2026-11-25 10:{m:02d}:{s:02d} INFO runner: learner 3 npoints={n} loss=0.{n:05d} "
    "elapsed={s}.{m}s\n"
)
TAIL = """Traceback (most recent call last):
  File "/home/alice/run/learner.py", line 42, in <module>
    import fancy_solver
ModuleNotFoundError: No module named 'fancy_solver'
srun: error: node17: task 0: Exited with exit code 1
"""
ROUNDS = 7


def write_log(path: Path, size: int) -> Path:
    """A realistic log of about ``size`` bytes: progress lines, then a real failure."""
    block = "".join(NOISE.format(m=i % 60, s=i % 60, n=i) for i in range(2000)).encode()
    with path.open("wb") as fh:
        written = 0
        while written < size:
            fh.write(block)
            written += len(block)
        fh.write(TAIL.encode())
    return path


def _time(path: Path) -> float:
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = triage_file(path)
        runs.append(time.perf_counter() - start)
        assert result.category == "missing_module", result.category
    return median(runs)


def _peak(path: Path) -> int:
    tracemalloc.start()
    triage_file(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = write_log(Path(tmp) / "small.log", 1 << 20)
        start = time.perf_counter()
        big = write_log(Path(tmp) / "big.log", 1 << 30)
        report("wrote 1 GB log", f"{time.perf_counter() - start:.1f} s")
        t_small, t_big = _time(small), _time(big)
        report("triage 1 MB log (median)", f"{t_small * 1000:.1f} ms")
        report("triage 1 GB log (median)", f"{t_big * 1000:.1f} ms")
        report("1 GB / 1 MB triage time ratio (goal <= 2)", f"{t_big / t_small:.2f}x")
        p_small, p_big = _peak(small), _peak(big)
        report("peak traced memory, 1 MB log", f"{p_small / 1e6:.1f} MB")
        report("peak traced memory, 1 GB log", f"{p_big / 1e6:.1f} MB")
        report(
            "peak memory growth 1 MB -> 1 GB (goal < 50 MB)", f"{(p_big - p_small) / 1e6:.2f} MB"
        )
