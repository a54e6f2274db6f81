"""The whole loop with a real RunManager: a job fails on a tab in the user's code, the chat
fixes it, and the run's next attempt of that learner succeeds.

The learner's function lives in a module of the run folder. The test process imports the
healthy file, builds the learner (cloudpickle pickles the function by reference), then a
tab breaks line 4: every job that imports the module dies with a real ``TabError``
traceback until the chat's fix is applied; adaptive-scheduler keeps restarting the job.
The diagnosis model is scripted (the real model is exercised below and in
test_agent_model.py); the run, the scheduler, the jobs, the graph and the files are real.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.diagnose import Diagnoser
from adaptive_llm_local.manager import LLMManager, attach
from adaptive_llm_local.testing import ReplayRun, ScriptedModel, good_answer

HEALTHY = "def curve(x):\n    if x > 10:\n        x = 10\n    return x * x\n"
BROKEN = "def curve(x):\n    if x > 10:\n        x = 10\n\treturn x * x\n"
ANSWER = good_answer(
    "Line 4 of the learner's module mixes a tab into space indentation.",
    "Indent line 4 with four spaces.",
)
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """The run folder and a healthy learner module in it (its file broken afterwards)."""
    run = tmp_path / "run"
    run.mkdir()
    name = f"usercode_{uuid.uuid4().hex[:8]}"
    path = run / f"{name}.py"
    path.write_text(HEALTHY)
    sys.path.insert(0, str(run))
    try:
        module = importlib.import_module(name)
        yield run, module
    finally:
        sys.path.remove(str(run))
        sys.modules.pop(name, None)


def broken_run(run: Path, module: Any) -> Any:
    import adaptive
    from adaptive_scheduler import RunManager

    from adaptive_llm_local.demo.learners import demo_run_kwargs
    from adaptive_llm_local.scheduler import LocalScheduler

    learner = adaptive.Learner1D(module.curve, bounds=(-1.0, 1.0))
    Path(module.__file__).write_text(BROKEN)  # every job from now on fails to import it
    scheduler = LocalScheduler(
        cores=1,
        log_folder=run / "logs",
        batch_folder=run / "batch",
        extra_env_vars=[f'PYTHONPATH="{run}:{PACKAGE_PARENT}${{PYTHONPATH:+:$PYTHONPATH}}"'],
    )
    kwargs = demo_run_kwargs(
        run,
        scheduler=scheduler,
        n_good=0,
        failures=(),
        job_name=f"tab-{uuid.uuid4().hex[:6]}",
        max_fails_per_job=1000,  # keep restarting the failing job until it is fixed
    )
    kwargs.update(learners=[learner], fnames=[run / "data" / "curve.pickle"])
    return RunManager(**kwargs)


async def until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timeout waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("yolo", [False, True], ids=["approve", "yolo"])
def test_a_tab_error_is_fixed_in_chat_and_the_next_attempt_succeeds(
    user_module: tuple[Path, Any], tmp_path: Path, yolo: bool
) -> None:
    run, module = user_module
    rm = broken_run(run, module)
    settings = Settings(home=tmp_path / "home")
    model = ScriptedModel([ANSWER])

    async def main() -> list[str]:
        llm = attach(rm, assistant=Assistant(settings, model, None), interval=0.5, yolo=yolo)
        rm.start()
        failed = rm.database_manager.failed
        try:
            await until(
                lambda: failed and str(failed[0]["job_id"]) in llm.diagnoses, 180, "a diagnosis"
            )
            job_id = str(failed[0]["job_id"])
            diagnosis = llm.diagnoses[job_id]
            assert diagnosis.exception == "TabError" and diagnosis.category == "syntax_error"
            assert llm.agent.root == run  # the run's folder: data, logs, scripts share it

            result = await llm.chat("/fix", thread_id=job_id)
            seed = [s.tool for s in result.steps[:3]]
            assert seed == ["diagnosis", "read_file", "read_file"]
            assert "\treturn x * x" in result.steps[2].content  # the failing code, read in
            if yolo:
                assert result.pending is None
            else:
                assert result.pending is not None
                assert "-\treturn x * x\n+    return x * x" in result.pending.diff
                assert Path(module.__file__).read_text() == BROKEN
                result = await llm.decide(job_id, approve=True)
            assert Path(module.__file__).read_text() == HEALTHY
            await asyncio.wait_for(asyncio.shield(llm.conversations.follows[job_id]), 180)
            history = await llm.history(job_id)
            events = [r.event for r in llm.agent.audit(job_id)]
            return [history[-1].kind, history[-1].text, *events]
        finally:
            rm.cancel()
            llm.cancel()

    try:
        kind, text, *events = asyncio.run(main())
    finally:
        rm.scheduler.cancel_all(timeout=10)
    assert kind == "observe" and "succeeded" in text, text
    assert events == ["proposed", "automatic" if yolo else "approved", "applied"]
    (row,) = rm.database_manager.as_dicts()
    assert row["is_done"]  # the learner finished after the fix


def test_the_real_model_answers_in_a_seeded_job_thread(home: Path, tmp_path: Path) -> None:
    """The real default model, in a job's thread seeded from its stored diagnosis."""
    root = tmp_path / "run"
    root.mkdir()
    (root / "zorblax_fit.py").write_text(BROKEN)
    run = ReplayRun(root)
    run.fail(
        "Traceback (most recent call last):\n"
        f'  File "{root}/zorblax_fit.py", line 4\n'
        "    return x * x\n"
        "TabError: inconsistent use of tabs and spaces in indentation\n",
        job_id="41",
    )
    settings = Settings.from_env(max_tokens=48)
    llm = LLMManager(
        run,
        assistant=Assistant.from_settings(settings, index="off"),
        diagnoser=Diagnoser(ScriptedModel([ANSWER])),
        freeze_gc=False,
    )

    async def main() -> Any:
        await llm.diagnose("41")
        return await llm.chat("What is the name of the file with the error?", thread_id="41")

    result = asyncio.run(main())
    llm.conversations.close()
    assert "zorblax_fit" in result.text  # an invented name: only the thread has it
    assert result.sentences and all(s.origin == "model" for s in result.sentences)
    assert [s.label for s in result.sources][:1] == ["diagnosis of job 41"]
