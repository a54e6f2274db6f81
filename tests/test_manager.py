"""LLMManager logic with a scripted model and a stand-in run (deterministic, fast).

The real RunManager + real model integration lives in test_manager_integration.py.
"""

from __future__ import annotations

import asyncio
import copy
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.diagnose import Diagnoser
from adaptive_llm_local.manager import LOGS_MISSING_SIGNATURE, DiagnosisStore, LLMManager, attach
from adaptive_llm_local.retrieval import open_retriever
from adaptive_llm_local.testing import ReplayRun, ScriptedModel, good_answer

TRACEBACKS = {
    "missing": 'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\n'
    "    import fancy_solver\nModuleNotFoundError: No module named 'fancy_solver'\n",
    "key": 'Traceback (most recent call last):\n  File "job.py", line 9, in f\n'
    "    return table[x]\nKeyError: 'pressure'\n",
    "zero": 'Traceback (most recent call last):\n  File "job.py", line 5, in f\n'
    "    return 1 / x\nZeroDivisionError: division by zero\n",
    "time": "running step 1\nslurmstepd: error: *** JOB {job} ON node01 CANCELLED AT "
    "2026-11-25T10:00:00 DUE TO TIME LIMIT ***\n",
}

ANSWER = good_answer(
    "The job failed because of the error in its key line, see the traceback lines.",
    "Fix the code or the environment as the traceback says and resubmit the job.",
    confidence=0.7,
)


class FakeRun(ReplayRun):
    """A stand-in run whose failures are the canned tracebacks above."""

    def fail(self, kind: str, *, job_id: str | None = None, write: bool = True) -> dict[str, Any]:  # type: ignore[override]
        n = self._n + 1
        text = f"starting job {job_id or 1000 + n} at step {n}\n" + TRACEBACKS[kind].format(
            job=job_id or 1000 + n
        )
        return super().fail(text if write else None, job_id=job_id)


def make_manager(run: FakeRun, model: ScriptedModel, tmp_path: Path, **kw: Any) -> LLMManager:
    return LLMManager(
        run,
        diagnoser=Diagnoser(model),
        store=DiagnosisStore(tmp_path / "state.sqlite3"),
        interval=kw.pop("interval", 0.05),
        **kw,
    )


async def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_new_failures_are_diagnosed_and_grouped(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        llm = attach(
            run, diagnoser=Diagnoser(model), store=DiagnosisStore(tmp_path / "s.db"), interval=0.05
        )
        assert run.llm_manager is llm
        run.start()
        run.fail("missing")
        run.fail("key")
        run.fail("missing")
        await wait_for(lambda: len(llm.diagnoses) == 3)
        run.finish()
        await asyncio.wait_for(llm.task, 10)
        return llm

    llm = asyncio.run(main())
    categories = sorted(d.category for d in llm.diagnoses.values())
    assert categories == ["missing_module", "missing_module", "python_exception"]
    assert llm.model_calls == 2 == len(model.calls)
    assert llm.summary()[0]["count"] == 2
    assert "2 jobs: " in llm.summary_text() and "fancy_solver" in llm.summary_text()
    html = llm._repr_html_()
    assert "missing_module" in html and "<table>" in html


def test_trigger_wakes_the_scan_before_the_interval(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path, interval=3600)
        run.start()
        run.fail("zero", job_id="1")
        llm.start()
        await wait_for(lambda: "1" in llm.diagnoses)  # the first scan; now it sleeps an hour
        run.fail("key", job_id="2")
        await asyncio.sleep(0.5)
        assert "2" not in llm.diagnoses and "2" not in llm.jobs
        llm.trigger()
        await wait_for(lambda: "2" in llm.diagnoses, timeout=10)
        llm.cancel()

    asyncio.run(main())


def test_200_failures_4_signatures_make_4_model_calls_with_a_bounded_queue(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])
    kinds = ["missing", "key", "zero", "time"]

    async def main() -> tuple[LLMManager, int]:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path, max_queue=8)
        run.start()
        llm.start()
        for i in range(200):
            run.fail(kinds[i % 4])
        largest = 0
        while len(llm.diagnoses) < 200:
            assert llm._queue is not None
            largest = max(largest, llm._queue.qsize())
            await asyncio.sleep(0.001)
        llm.cancel()
        return llm, largest

    llm, largest = asyncio.run(main())
    assert llm.model_calls == 4 == len(model.calls)
    assert largest <= 8
    assert len(llm.summary()) == 4 and all(g["count"] == 50 for g in llm.summary())
    assert {d.category for d in llm.diagnoses.values()} == {
        "missing_module",
        "python_exception",
        "time_limit",
    }


def test_failed_entries_are_never_mutated(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("key")
        run.fail("missing", write=False)
        before = copy.deepcopy(run.database_manager.failed)
        await wait_for(lambda: len(llm.diagnoses) == 2)
        llm.cancel()
        return before, run.database_manager.failed

    before, after = asyncio.run(main())
    assert before == after


def test_logs_missing_gets_a_clear_record_and_moved_logs_are_found(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        gone = run.fail("key", job_id="77", write=False)
        moved = run.fail("missing", job_id="78")
        run.move_old_logs_to.mkdir()
        log = Path(moved["output_logs"][0])
        log.rename(run.move_old_logs_to / log.name)
        assert gone["job_id"] == "77"
        await wait_for(lambda: len(llm.diagnoses) == 2)
        llm.cancel()
        return llm

    llm = asyncio.run(main())
    missing = llm.diagnoses["77"]
    assert missing.signature == LOGS_MISSING_SIGNATURE
    assert "missing" in missing.root_cause and "77" in missing.root_cause
    assert llm.diagnoses["78"].category == "missing_module"
    assert llm.model_calls == 1


def test_a_model_error_is_recorded_and_the_manager_keeps_going(tmp_path: Path) -> None:
    model = ScriptedModel([RuntimeError("llama.cpp exploded"), ANSWER])

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("key", job_id="1")
        run.fail("zero", job_id="2")
        await wait_for(lambda: "1" in llm.errors and "2" in llm.diagnoses)
        assert not llm.task.done()
        llm.cancel()
        return llm

    llm = asyncio.run(main())
    assert "exploded" in llm.errors["1"]
    statuses = {o.job_key: o.status for o in llm.store.occurrences()}
    assert statuses == {"1": "error", "2": "diagnosed"}


def test_restart_recomputes_nothing(tmp_path: Path) -> None:
    async def run_once(model: ScriptedModel, run: FakeRun) -> LLMManager:
        llm = make_manager(run, model, tmp_path)
        llm.start()
        await wait_for(lambda: len(llm.diagnoses) == len(run.database_manager.failed))
        llm.cancel()
        return llm

    async def main() -> tuple[LLMManager, LLMManager, ScriptedModel]:
        run = FakeRun(tmp_path)
        run.start()
        for kind in ("key", "missing", "key"):
            run.fail(kind)
        first = await run_once(ScriptedModel([ANSWER]), run)
        second_model = ScriptedModel([ANSWER])
        run.fail("missing")  # a new occurrence of a known failure after the restart
        second = await run_once(second_model, run)
        return first, second, second_model

    first, second, second_model = asyncio.run(main())
    assert first.model_calls == 2
    assert second.model_calls == 0 and second_model.calls == []
    assert len(second.diagnoses) == 4
    assert {k: d.signature for k, d in first.diagnoses.items()} == {
        k: d.signature for k, d in second.diagnoses.items() if k in first.diagnoses
    }


def test_cancel_mid_diagnosis_leaves_a_consistent_database(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER], delay=0.5)

    async def main() -> None:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("key")
        run.fail("zero")
        await wait_for(lambda: len(model.calls) == 1)
        llm.cancel()
        await asyncio.sleep(0.8)  # let the worker thread finish its call

    asyncio.run(main())
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = DiagnosisStore(tmp_path / "state.sqlite3")
    assert all(o.status in {"diagnosed", "error"} for o in store.occurrences())


def test_the_event_loop_stays_responsive_during_a_slow_diagnosis(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER], delay=0.6)

    async def main() -> int:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("key")
        ticks = 0
        while not llm.diagnoses:
            ticks += 1
            await asyncio.sleep(0.01)
        llm.cancel()
        return ticks

    assert asyncio.run(main()) >= 10


def test_diagnose_on_demand_by_job_id(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path, interval=3600)
        run.fail("zero", job_id="4711")
        diagnosis = await llm.diagnose("4711")
        assert diagnosis.category == "python_exception"
        assert diagnosis.job_id == "4711"
        assert (await llm.diagnose("4711")) is diagnosis
        assert len(model.calls) == 1
        again = await llm.diagnose("4711", refresh=True)
        assert len(model.calls) == 2 and again is not diagnosis
        with pytest.raises(KeyError, match="no failed job"):
            await llm.diagnose("nope")

    asyncio.run(main())


class NamedLogs:
    """The part of a scheduler that names job logs (``<job_name>-<job id>.out``)."""

    _JOB_ID_VARIABLE = "${JOB_ID}"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def output_fnames(self, name: str) -> list[str]:
        return [str(self.folder / f"{name}-{self._JOB_ID_VARIABLE}.out")]

    def queue(self) -> dict[str, Any]:
        return {}


def test_a_never_started_job_has_one_key_and_can_be_diagnosed_again(tmp_path: Path) -> None:
    """A job that died before reporting its id is keyed the same by the scan, by
    ``diagnose`` and by the chat, so ``diagnose(key, refresh=True)`` finds it."""
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        run = FakeRun(tmp_path)
        run.scheduler = NamedLogs(tmp_path)  # type: ignore[attr-defined]
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("key", job_id="5")
        lost = tmp_path / "lost-99.out"
        lost.write_text(TRACEBACKS["zero"])
        entry = {**run.database_manager.failed[0], "job_id": None, "job_name": "lost"}
        run.database_manager.failed.append({**entry, "log_fname": None, "output_logs": []})
        key = "lost#never-started-0"
        await wait_for(lambda: key in llm.diagnoses)
        first = llm.diagnoses[key]
        assert (first.category, first.log_path, first.job_id) == (
            "python_exception",
            str(lost),
            None,
        )
        calls = len(model.calls)
        again = await llm.diagnose(key, refresh=True)
        assert len(model.calls) == calls + 1 and again is not first
        assert (again.category, again.log_path) == ("python_exception", str(lost))
        assert llm.diagnoses[key] is again and set(llm.diagnoses) == {"5", key}
        context = await llm.conversations.seed_context(key)
        assert context is not None and (context.job_id, context.log_path) == (key, str(lost))
        llm.cancel()

    asyncio.run(main())


def test_jobs_that_share_a_diagnosis_keep_the_facts_of_their_own_log(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path)
        run.start()
        llm.start()
        run.fail("missing", job_id="21")
        run.fail("missing", job_id="22")
        await wait_for(lambda: len(llm.diagnoses) == 2)
        llm.cancel()
        return llm

    llm = asyncio.run(main())
    assert llm.model_calls == 1
    for job_id in ("21", "22"):
        facts = llm.diagnoses[job_id].facts
        assert facts is not None and facts.get("module") == "fancy_solver"
        assert facts.get("last_output") == f"starting job {job_id} at step {int(job_id) - 20}"
        assert facts.user_frames() == (("job.py", 3),)


def test_manager_stops_after_the_run_finishes_and_diagnoses_the_last_failures(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        llm = make_manager(run, model, tmp_path, interval=0.2)
        llm.start()
        await asyncio.sleep(0.05)
        run.start()
        run.fail("key")
        run.finish()
        await asyncio.wait_for(llm.task, 10)
        return llm

    llm = asyncio.run(main())
    assert len(llm.diagnoses) == 1


def test_each_diagnosis_lands_in_the_failures_index(home: Path, tmp_path: Path) -> None:
    """The default set-up, with a scripted model: the assistant's index records every job."""
    model = ScriptedModel([ANSWER])
    settings = Settings.from_env()

    async def main() -> LLMManager:
        run = FakeRun(tmp_path)
        assistant = Assistant.from_settings(settings, index="create", model=model)
        llm = LLMManager(run, assistant=assistant, interval=0.05)
        run.start()
        llm.start()
        run.fail("missing", job_id="501")
        run.fail("missing", job_id="502")
        await wait_for(lambda: len(llm.diagnoses) == 2, timeout=120)
        llm.cancel()
        return llm

    llm = asyncio.run(main())
    assert llm.model_calls == 1
    assert llm.recorder is llm.assistant.retriever is not None
    index = open_retriever(settings)
    assert index is not None
    hits = index.search("ModuleNotFoundError: No module named 'fancy_solver'", kinds=("failure",))
    assert hits and hits[0].signature == llm.diagnoses["501"].signature
    assert hits[0].extra.get("occurrences") == 2
    assert {o.job_key for o in llm.store.occurrences()} == {"501", "502"}


def test_the_default_parts_come_from_the_settings_given(home: Path, model_path: Path) -> None:
    """``LLMManager(settings=...)`` builds its model, index and budget from those settings."""
    (home / "models" / "other-name.gguf").symlink_to(model_path)
    settings = Settings.from_env(model="other-name.gguf", max_tokens=123)
    llm = LLMManager(ReplayRun(home), settings=settings)
    assert not settings.chroma_path.exists()  # constructing is cheap: nothing opened or loaded
    diagnoser = llm.diagnoser
    assert diagnoser.model.name == "other-name.gguf"  # not ADAPTIVE_LLM_MODEL's file
    assert diagnoser.max_tokens == 123
    assert diagnoser.retriever is not None and llm.recorder is diagnoser.retriever
    assert settings.chroma_path.exists()
