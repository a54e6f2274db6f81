"""A real adaptive-scheduler RunManager, real failing jobs, the real default model.

One run on the embedded LocalScheduler (always), and one on a real single-node SLURM
with adaptive-scheduler's own SLURM scheduler, including a job over its ``--time``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.demo.learners import FAILURES, demo_run_kwargs, missing_module, peak
from adaptive_llm_local.diagnose import Diagnoser
from adaptive_llm_local.manager import DiagnosisStore, LLMManager, attach
from adaptive_llm_local.runtime import ChatModel, get_chat_model

EXPECTED = {
    "python_exception": "python_exception",
    "missing_module": "missing_module",
    "out_of_memory": "out_of_memory",
    "segfault": "segfault",
    "killed": "out_of_memory",
}


class CountingDiagnoser(Diagnoser):
    """The real diagnoser, counting how many distinct signatures reached the model."""

    def __init__(self, model: ChatModel) -> None:
        super().__init__(model)
        self.signatures: list[str] = []

    def diagnose(self, result: Any, **kwargs: Any) -> Any:
        self.signatures.append(result.signature)
        return super().diagnose(result, **kwargs)


async def _run_until_diagnosed(
    rm: Any, n_failing: int, timeout: float, **options: Any
) -> LLMManager:
    llm = attach(rm, **options)  # on the running loop, as in a notebook
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    rm.start()
    try:
        while loop.time() < end:
            failed = rm.database_manager.failed
            names = {Path(str(e["fname"])).stem for e in failed}
            if (
                len(names) >= n_failing
                and len(llm.diagnoses) >= len(failed)
                and not llm.jobs.keys() - llm.diagnoses.keys()
            ):
                return llm
            await asyncio.sleep(0.5)
        raise AssertionError(
            f"timeout: {len(rm.database_manager.failed)} failed, {len(llm.diagnoses)} diagnosed, errors {llm.errors}"
        )
    finally:
        rm.cancel()
        llm.cancel()


def test_real_run_manager_local_scheduler_real_model(home: Path, tmp_path: Path) -> None:
    """Every failed job gets the right category; a repeated failure costs one model call."""
    import adaptive
    from adaptive_scheduler import RunManager

    failures = list(EXPECTED)
    kwargs = demo_run_kwargs(tmp_path / "run", n_good=1, failures=failures, max_fails_per_job=2)
    # a second learner failing exactly like the first missing-module one: same signature
    kwargs["learners"].append(adaptive.Learner1D(missing_module, bounds=(-1, 1)))
    kwargs["fnames"].append(tmp_path / "run" / "data" / "missing_module-again.pickle")
    rm = RunManager(**kwargs)
    diagnoser = CountingDiagnoser(get_chat_model(Settings.from_env()))
    llm = asyncio.run(
        _run_until_diagnosed(
            rm,
            len(failures) + 1,
            240,
            diagnoser=diagnoser,
            interval=0.5,
            store=DiagnosisStore(home / "state.sqlite3"),
        )
    )
    rm.scheduler.cancel_all(timeout=10)

    by_learner: dict[str, set[str]] = {}
    for job_key, diagnosis in llm.diagnoses.items():
        entry = next(
            e
            for e in rm.database_manager.failed
            if str(e["job_id"]) == job_key or job_key.startswith(str(e["job_name"]))
        )
        stem = Path(str(entry["fname"])).stem.replace("-again", "")
        by_learner.setdefault(stem, set()).add(diagnosis.category)
        assert diagnosis.root_cause and diagnosis.suggested_fix
        assert (
            diagnosis.model == "SmolLM2-135M-Instruct.Q4_1.gguf"
            or diagnosis.explained_by != "model"
        )
    for name, category in EXPECTED.items():
        assert by_learner.get(name) == {category}, (name, by_learner.get(name), llm.summary_text())
    # identical failures share one model call
    assert len(diagnoser.signatures) == len(set(diagnoser.signatures))
    assert llm.model_calls == len(set(diagnoser.signatures)) < len(llm.diagnoses)
    missing = [d for d in llm.diagnoses.values() if d.category == "missing_module"]
    assert len(missing) >= 2 and len({d.signature for d in missing}) == 1
    assert "fancy_solver_does_not_exist" in llm.summary_text()


def test_attach_before_or_after_start_and_stop_with_the_run(tmp_path: Path, home: Path) -> None:
    from adaptive_llm_local.demo.learners import build_demo_run
    from adaptive_llm_local.testing import ScriptedModel, good_answer

    model = ScriptedModel(
        [
            good_answer(
                "A module is not installed in the job environment.",
                "Install it in the job's environment and resubmit.",
            )
        ]
    )

    async def main() -> tuple[LLMManager, Any]:
        rm = build_demo_run(
            tmp_path / "run", n_good=1, failures=("missing_module",), job_name="attach-test"
        )
        llm = attach(
            rm, diagnoser=Diagnoser(model), interval=0.2, store=DiagnosisStore(tmp_path / "s.db")
        )
        assert attach(rm) is llm  # attaching twice returns the running manager
        await asyncio.sleep(0.3)
        assert not llm.task.done()  # waiting for the run to start
        rm.start()
        await asyncio.wait_for(asyncio.shield(llm.task), 120)  # stops by itself when the run ends
        rm.cancel()
        return llm, rm

    llm, rm = asyncio.run(main())
    rm.scheduler.cancel_all(timeout=10)
    assert rm.llm_manager is llm
    assert llm.diagnoses and all(d.category == "missing_module" for d in llm.diagnoses.values())


# --- real SLURM --------------------------------------------------------------------------


def _slurm_ready() -> bool:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mix", "alloc"))


def sleeps_forever(x: float) -> float:
    time.sleep(3600)
    return x


@pytest.mark.slurm
@pytest.mark.slow
def test_real_slurm_run_manager_with_time_limit(home: Path, tmp_path: Path) -> None:
    if not _slurm_ready():
        if os.environ.get("ADAPTIVE_LLM_REQUIRE_SLURM") == "1":
            pytest.fail(
                "SLURM is required (ADAPTIVE_LLM_REQUIRE_SLURM=1) but sinfo shows no usable node"
            )
        pytest.skip("no running SLURM (start one with `make slurm`)")
    import adaptive
    from adaptive_scheduler import RunManager
    from adaptive_scheduler.scheduler import SLURM

    from adaptive_llm_local.scheduler import loopback_url

    workdir = tmp_path / "slurm-run"
    (workdir / "logs").mkdir(parents=True)
    repo = Path(__file__).resolve().parent.parent
    scheduler = SLURM(
        cores=1,
        python_executable=sys.executable,
        log_folder=str(workdir / "logs"),
        batch_folder=str(workdir / "batch"),
        executor_type="process-pool",
        extra_scheduler=["--time=00:01:00"],
        extra_env_vars=[f"PYTHONPATH={repo}:{Path(__file__).parent}"],
    )
    learners = [
        adaptive.Learner1D(peak, bounds=(-1, 1)),
        adaptive.Learner1D(missing_module, bounds=(-1, 1)),
        adaptive.Learner1D(FAILURES["python_exception"].function, bounds=(-1, 1)),
        adaptive.Learner1D(sleeps_forever, bounds=(-1, 1)),
    ]
    names = ["good", "missing", "exception", "too-long"]
    rm = RunManager(
        scheduler=scheduler,
        learners=learners,
        fnames=[workdir / "data" / f"{n}.pickle" for n in names],
        goal=lambda learner: learner.npoints >= 10,
        url=loopback_url(),
        job_name="llmtest",
        db_fname=workdir / "db.json",
        move_old_logs_to=workdir / "old_logs",
        job_manager_interval=2,
        kill_interval=2,
        max_fails_per_job=20,  # the failing learners restart; the job manager must outlive the --time job
        quiet=True,
    )

    async def main() -> LLMManager:
        llm = attach(rm, interval=1.0, store=DiagnosisStore(home / "state.sqlite3"))
        loop = asyncio.get_running_loop()
        end = loop.time() + 330
        rm.start()
        try:
            while loop.time() < end:
                cats = {d.category for d in llm.diagnoses.values()}
                if {"missing_module", "python_exception", "time_limit"} <= cats:
                    return llm
                await asyncio.sleep(2)
            raise AssertionError(f"timeout; diagnosed: {llm.summary_text()} errors={llm.errors}")
        finally:
            rm.cancel()
            llm.cancel()

    llm = asyncio.run(main())
    time_limit = [d for d in llm.diagnoses.values() if d.category == "time_limit"]
    assert time_limit and "TIME LIMIT" in (time_limit[0].key_line or "")
    assert all(d.category != "unknown" for d in llm.diagnoses.values()), llm.summary_text()
