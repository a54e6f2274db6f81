"""LLMManager with the real model: loop stalls, 200 failures vs 4, resident memory."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from ..assistant import Assistant
from ..config import Settings
from ..manager import DiagnosisStore, LLMManager
from ..models import resolve_chat_model
from ..testing import ReplayRun
from . import Report, median

FAILURES = (
    'Traceback (most recent call last):\n  File "/home/u/job_{n}/run.py", line 3, in <module>\n'
    "    import fancy_solver\nModuleNotFoundError: No module named 'fancy_solver'\n",
    'Traceback (most recent call last):\n  File "/home/u/job_{n}/run.py", line 9, in f\n'
    "    return table[x]\nKeyError: 'pressure'\n",
    "step {n}\nslurmstepd: error: *** JOB {n} ON node{n} CANCELLED AT 2026-11-25T10:00:00 "
    "DUE TO TIME LIMIT ***\n",
    "step {n}\nslurmstepd: error: Detected 1 oom-kill event(s) in StepId={n}.batch. Some of your "
    "processes may have been killed by the cgroup out-of-memory handler.\n",
)


async def _diagnose_all(
    workdir: Path, n_jobs: int, assistant: Assistant
) -> tuple[float, LLMManager, list[float]]:
    """Feed ``n_jobs`` failures (4 distinct signatures) to a fresh manager; time until all are done."""
    run = ReplayRun(workdir)
    llm = LLMManager(
        run, assistant=assistant, store=DiagnosisStore(workdir / "state.sqlite3"), interval=0.05
    )
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            stalls.append(loop.time() - before - 0.005)

    run.start()
    start = time.perf_counter()
    for n in range(
        n_jobs
    ):  # the logs are written before timing stalls: that is not the manager's work
        run.fail(FAILURES[n % 4].format(n=n + 17))
    llm.start()
    tick = asyncio.create_task(ticker())
    while len(llm.diagnoses) < n_jobs:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    done.set()
    await tick
    llm.cancel()
    return elapsed, llm, stalls


_RSS_PROBE = """
import asyncio, json, sys, tempfile
from pathlib import Path
import psutil
from adaptive_llm_local.config import Settings
from adaptive_llm_local.manager import LLMManager
from adaptive_llm_local.testing import ReplayRun

rss = lambda: psutil.Process().memory_info().rss / 1e6
out = {"imported": rss()}
with tempfile.TemporaryDirectory() as tmp:
    settings = Settings.from_env(home=Path(tmp), model=sys.argv[1])

    async def main():
        run = ReplayRun(Path(tmp))
        run.start()
        llm = LLMManager(run, settings=settings, interval=0.05)
        llm.start()
        run.fail("Traceback (most recent call last):\\nKeyError: 'pressure'\\n")
        while not llm.diagnoses:
            await asyncio.sleep(0.05)
        out["running"] = rss()
        llm.cancel()

    asyncio.run(main())
print(json.dumps(out))
"""


def _rss_of_a_running_manager(model_path: str) -> dict[str, float]:
    """Resident memory of a fresh process running a manager with the model and the index."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, model_path], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(report: Report) -> None:
    settings = Settings.from_env()

    def fresh() -> Assistant:  # no index and a new diagnoser (the model is shared): nothing cached
        return Assistant.from_settings(settings, index="off")

    fresh().load()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):  # alternate 4-job and 200-job runs; fresh stores so nothing is cached
            for name in (f"four{i}", f"many{i}"):
                (Path(tmp) / name).mkdir()
            four, llm4, stalls4 = asyncio.run(_diagnose_all(Path(tmp) / f"four{i}", 4, fresh()))
            many, llm200, stalls200 = asyncio.run(
                _diagnose_all(Path(tmp) / f"many{i}", 200, fresh())
            )
            rounds.append(
                (four, many, llm4.model_calls, llm200.model_calls, max(stalls4 + stalls200))
            )
    rss = _rss_of_a_running_manager(str(resolve_chat_model(settings).path))

    report("model calls for 4 failed jobs (4 signatures)", str(rounds[-1][2]))
    report("model calls for 200 failed jobs (4 signatures)", str(rounds[-1][3]))
    report("time to diagnose 4 jobs (median)", f"{median([r[0] for r in rounds]):.1f} s")
    report("time to diagnose 200 jobs (median)", f"{median([r[1] for r in rounds]):.1f} s")
    report(
        "200 / 4 jobs time ratio (median, goal <= 1.5)",
        f"{median([r[1] / r[0] for r in rounds]):.2f}x",
    )
    report(
        "largest event-loop stall during diagnoses (goal <= 50 ms)",
        f"{max(r[4] for r in rounds) * 1000:.1f} ms",
    )
    report("resident memory: fresh process after imports", f"{rss['imported']:.0f} MB")
    report(
        "resident memory: manager running (model + index + one diagnosis)",
        f"{rss['running']:.0f} MB",
    )
