"""``llm.chat`` and friends: the agent wired into the manager (scripted models, replayed runs).

The graph, the checkpoints and the files are real; the model's answers are scripted so
seeding, approvals, stopping, restarts and following a fix's next attempt are exact.
The real RunManager end to end is in test_chat_e2e.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.agent import DoneEvent, TokenEvent, ToolEvent
from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.manager import DiagnosisStore, LLMManager
from adaptive_llm_local.manager.run import Attempt, RunJobs, attempt_outcome, run_root
from adaptive_llm_local.testing import ReplayRun, ScriptedModel, good_answer

TABS = "def f(x):\n    if x:\n        y = 1\n\treturn 1\n"
FIXED = "def f(x):\n    if x:\n        y = 1\n    return 1\n"
ANSWER = good_answer(
    "tabs.py mixes tabs and spaces on line 4.", "Indent line 4 of tabs.py with spaces."
)


def tab_log(root: Path) -> str:
    return (
        "starting\nTraceback (most recent call last):\n"
        '  File "/opt/launcher.py", line 3, in <module>\n'
        f'  File "{root}/tabs.py", line 4\n'
        "    return 1\n"
        "TabError: inconsistent use of tabs and spaces in indentation\n"
    )


class Run(ReplayRun):
    """A replayed run that also has a database of learners (for next attempts)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, job_name="chat")
        self.rows: list[dict[str, Any]] = []
        self.database_manager.as_dicts = lambda: [dict(r) for r in self.rows]  # type: ignore[attr-defined]


def make(tmp_path: Path, model: ScriptedModel, **options: Any) -> tuple[LLMManager, Run]:
    root = tmp_path / "run"
    root.mkdir(exist_ok=True)
    (root / "tabs.py").write_text(TABS)
    run = Run(root)
    settings = Settings(home=tmp_path / "home")
    llm = LLMManager(
        run,
        assistant=Assistant(settings, model, None),
        store=DiagnosisStore(settings.database_path),
        interval=0.05,
        freeze_gc=False,
        **options,
    )
    return llm, run


def test_a_failed_jobs_thread_starts_from_its_stored_diagnosis(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER, "Line 4 of tabs.py uses a tab [3]."])

    async def main() -> None:
        llm, run = make(tmp_path, model)
        run.fail(tab_log(run.workdir), job_id="7")
        stored = await llm.diagnose("7")
        calls = len(model.calls)
        events = [e async for e in llm.stream("why did it fail?", thread_id="7")]
        assert len(model.calls) == calls + 1  # the answer; the diagnosis was not made again
        steps = [e.step for e in events if isinstance(e, ToolEvent)]
        assert [s.tool for s in steps[:3]] == ["diagnosis", "read_file", "read_file"]
        assert stored.root_cause in steps[0].content
        assert "TabError" in steps[1].content  # the log excerpt
        assert steps[2].label == "tabs.py:1-4" and "\treturn 1" in steps[2].content
        done = events[-1]
        assert isinstance(done, DoneEvent) and done.result.text.startswith("Line 4")
        assert done.result.cited == [3]
        (sentence,) = done.result.sentences
        assert sentence.origin == "model" and sentence.grounds.sources == ("[3] tabs.py:1-4",)
        # the same thread again: not seeded twice
        await llm.chat("and now?", thread_id="7")
        history = await llm.history("7")
        assert [h.kind for h in history] == [
            *["seed"] * 3,
            "message",
            "answer",
            "message",
            "answer",
        ]
        assert llm.threads() == ["7"]
        (group,) = llm.failure_groups()
        assert (group.count, group.job_ids, group.category) == (1, ("7",), "syntax_error")
        assert group.diagnosis is llm.diagnoses["7"]
        # the run-wide thread
        await llm.chat("/ls")
        assert llm.threads() == ["run", "7"]
        assert [h.kind for h in await llm.history(None)] == ["command", "step"]
        llm.conversations.close()

    asyncio.run(main())


def test_the_seed_reads_the_code_the_diagnosis_names_without_reading_the_log_for_it(
    tmp_path: Path,
) -> None:
    """The failing line comes from the diagnosis's facts (triage's, carried through the
    store into the seed); only a diagnosis stored before facts were kept (``facts=None``)
    has triage read them from the log's tail."""
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        llm, run = make(tmp_path, model)
        entry = run.fail(tab_log(run.workdir), job_id="7")
        stored = await llm.diagnose("7")
        assert stored.facts is not None
        assert stored.facts.user_frames()[0] == (f"{run.workdir}/tabs.py", 4)
        assert llm.store.get_diagnosis(stored.signature).facts == stored.facts  # type: ignore[union-attr]
        # the log changes afterwards: the seed still shows the line that was diagnosed
        log = Path(entry["output_logs"][0])
        log.write_text(tab_log(run.workdir).replace("line 4", "line 2"))
        context = await llm.conversations.seed_context("7")
        assert context is not None and context.facts == stored.facts
        seeded = await llm.agent.seed_thread("7", context)
        assert seeded.steps[2].label == "tabs.py:1-4" and seeded.steps[2].args["end_line"] == 12
        # a diagnosis from before facts were kept: triage reads them from the log
        before_facts = dataclasses.replace(context, job_id="8", facts=None)
        reseeded = await llm.agent.seed_thread("8", before_facts)
        assert reseeded.steps[2].args["end_line"] == 10
        llm.conversations.close()

    asyncio.run(main())


def test_fix_waits_for_approval_and_then_follows_the_next_attempt(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        llm, run = make(tmp_path, model)
        updates: list[str] = []
        llm.on_thread_update = updates.append
        entry = run.fail(tab_log(run.workdir), job_id="7")
        run.rows = [{"fname": entry["fname"], "job_id": None, "is_done": False}]
        result = await llm.chat("/fix", thread_id="7")
        assert result.pending is not None and "+    return 1" in result.pending.diff
        assert (run.workdir / "tabs.py").read_text() == TABS  # nothing written yet
        assert await llm.pending("7") is not None
        assert [r.event for r in llm.agent.audit("7")] == ["proposed"]
        decided = await llm.decide("7", approve=True)
        assert (run.workdir / "tabs.py").read_text() == FIXED
        assert [r.event for r in llm.agent.audit("7")] == ["proposed", "approved", "applied"]
        assert decided.steps[-1].tool == "write_file" and decided.steps[-1].ok
        follow = llm.conversations.follows["7"]
        # the run starts the next attempt of that learner, and it finishes
        run.rows = [{"fname": entry["fname"], "job_id": "8", "is_done": False}]
        await asyncio.sleep(0.2)
        assert not follow.done()
        run.rows = [{"fname": entry["fname"], "job_id": None, "is_done": True}]
        await asyncio.wait_for(follow, 10)
        history = await llm.history("7")
        observed = history[-1]
        assert (
            observed.kind == "observe" and "job 8" in observed.text and "succeeded" in observed.text
        )
        assert updates == ["7"]
        applied = [h for h in history if h.tool == "write_file"]
        assert applied and "+    return 1" in (applied[0].diff or "")
        llm.conversations.close()

    asyncio.run(main())


def test_a_failed_next_attempt_is_reported_with_its_new_diagnosis(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        llm, run = make(tmp_path, model, yolo=True)
        entry = run.fail(tab_log(run.workdir), job_id="7")
        run.rows = [{"fname": entry["fname"], "job_id": None, "is_done": False}]
        result = await llm.chat("/fix", thread_id="7")  # YOLO: applied without a pause
        assert result.pending is None and (run.workdir / "tabs.py").read_text() == FIXED
        assert [r.event for r in llm.agent.audit("7")] == ["proposed", "automatic", "applied"]
        again = run.fail("Traceback (most recent call last):\nKeyError: 'pressure'\n", job_id="9")
        again["fname"] = entry["fname"]
        await asyncio.wait_for(llm.conversations.follows["7"], 10)
        observed = (await llm.history("7"))[-1]
        assert observed.kind == "observe" and "job 9" in observed.text
        assert "failed" in observed.text and "python_exception" in observed.text
        llm.conversations.close()

    asyncio.run(main())


def test_stopping_a_stream_stops_the_model_and_keeps_the_thread_usable(tmp_path: Path) -> None:
    long_answer = "word " * 400
    model = ScriptedModel([ANSWER, long_answer, "short answer"], token_delay=0.01)

    async def main() -> None:
        llm, run = make(tmp_path, model)
        run.fail(tab_log(run.workdir), job_id="7")
        await llm.diagnose("7")
        tokens: list[str] = []

        async def consume() -> None:
            async for event in llm.stream("tell me everything", thread_id="7"):
                if isinstance(event, TokenEvent):
                    tokens.append(event.text)

        task = asyncio.create_task(consume())
        while len(tokens) < 5:
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        start = loop.time()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert loop.time() - start < 1.0  # 400 pieces at 10 ms would be 4 s more
        history = await llm.history("7")
        assert history[-1].kind == "answer" and history[-1].stopped
        assert history[-1].text.startswith("word word") and "(stopped)" in history[-1].text
        # aclose() stops as well, and the thread takes the next message at once
        stream = llm.stream("again", thread_id="7")
        async for event in stream:
            if isinstance(event, TokenEvent):
                break
        await stream.aclose()
        reply = await llm.chat("one more", thread_id="7")
        assert reply.text == "short answer" and not reply.stopped
        llm.conversations.close()

    asyncio.run(main())


def test_threads_and_pending_approvals_survive_a_restart(tmp_path: Path) -> None:
    model = ScriptedModel([ANSWER])

    async def first() -> None:
        llm, run = make(tmp_path, model)
        run.fail(tab_log(run.workdir), job_id="7")
        result = await llm.chat("/fix", thread_id="7")
        assert result.pending is not None
        llm.conversations.close()

    async def second() -> None:
        llm, run = make(tmp_path, model)  # a new manager (a new kernel) over the same home
        run.fail(tab_log(run.workdir), job_id="7")
        assert llm.threads() == ["7"]
        assert await llm.pending("7") is not None
        assert [h.kind for h in await llm.history("7")][:3] == ["seed"] * 3
        await llm.decide("7", approve=True)
        assert (run.workdir / "tabs.py").read_text() == FIXED
        llm.conversations.close()

    asyncio.run(first())
    asyncio.run(second())


def test_yolo_is_a_live_setting_and_without_it_nothing_is_written_unapproved(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([ANSWER])

    async def main() -> None:
        llm, run = make(tmp_path, model)
        run.fail(tab_log(run.workdir), job_id="7")
        assert llm.yolo is False
        await llm.chat("/fix", thread_id="7")
        await llm.decide("7", approve=False)
        assert (run.workdir / "tabs.py").read_text() == TABS
        llm.yolo = True
        assert llm.agent.yolo is True
        await llm.chat("/fix", thread_id="7")
        assert (run.workdir / "tabs.py").read_text() == FIXED
        (await llm.chat("/yolo off", thread_id="7"))
        assert llm.yolo is False
        events = [(r.call_id, r.event) for r in llm.agent.audit("7")]
        applied = {call for call, event in events if event == "applied"}
        authorized = {call for call, event in events if event in ("approved", "automatic")}
        assert applied and applied <= authorized
        llm.conversations.close()

    asyncio.run(main())


# --- the run: its folder, its jobs, next attempts (pure) -------------------------------


class _Scheduler:
    def __init__(self, logs: Path, batch: Path) -> None:
        self.log_folder, self.batch_folder = str(logs), str(batch)


class _RM:
    def __init__(self, fnames: list[Any], scheduler: Any, db: Path | None) -> None:
        self.fnames, self.scheduler, self.db_fname = fnames, scheduler, db
        self.move_old_logs_to = None


def test_the_run_folder_is_the_common_folder_of_what_the_run_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "project" / "run"
    rm = _RM(
        [work / "data" / "a.pickle", [work / "data" / "b.pickle", work / "more" / "c.pickle"]],
        _Scheduler(work / "logs", work / "batch"),
        work / "db.json",
    )
    assert run_root(rm) == work
    monkeypatch.chdir(tmp_path)
    relative = _RM(["data/a.pickle"], _Scheduler(Path("logs"), Path("batch")), None)
    assert run_root(relative) == tmp_path  # relative paths point into the current folder
    scattered = _RM(["/a/x.pickle", "/b/y.pickle"], None, None)
    assert run_root(scattered) == tmp_path  # nothing in common but /: the current folder


def test_next_attempt_outcomes() -> None:
    failed = [{"fname": "d/a.pickle", "job_id": "1"}]
    rows = [{"fname": "d/a.pickle", "job_id": "2", "is_done": False}]

    class Database:
        def __init__(self) -> None:
            self.failed = list(failed)

        def as_dicts(self) -> list[dict[str, Any]]:
            return [dict(r) for r in rows]

    class RM:
        database_manager = Database()

    attempt = Attempt.after_fix(RM, "1")
    assert attempt is not None and attempt.known == {"1", "2"}  # 2 started before the fix
    assert attempt_outcome(attempt, rows, failed) is None
    rows = [{"fname": "d/a.pickle", "job_id": "3", "is_done": False}]
    assert attempt_outcome(attempt, rows, failed) is None and attempt.job_id == "3"
    late = [*failed, {"fname": "d/a.pickle", "job_id": "2"}]  # the old attempt fails: ignored
    assert attempt_outcome(attempt, rows, late) is None
    done = attempt_outcome(
        attempt, [{"fname": "d/a.pickle", "job_id": None, "is_done": True}], late
    )
    assert done is not None and (done.state, done.job_id) == ("done", "3")
    failed_again = attempt_outcome(attempt, rows, [*late, {"fname": "d/a.pickle", "job_id": "3"}])
    assert failed_again is not None and (failed_again.state, failed_again.job_id) == ("failed", "3")
    assert Attempt.after_fix(RM, "404") is None


def test_jobs_provider_lists_failed_running_and_done_jobs(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.fail("boom", job_id="5")
    run.rows = [
        {"fname": "a", "job_id": "6", "is_done": False, "job_name": "chat-0", "output_logs": ["o"]},
        {"fname": "b", "job_id": None, "is_done": True},
        {"fname": "c", "job_id": None, "is_done": False, "is_pending": True},
    ]
    records = RunJobs(run, {}).jobs()
    assert [(r["job_id"], r["state"]) for r in records] == [
        ("5", "failed"),
        ("6", "running"),
        ("-", "done"),
        ("-", "pending"),
    ]
    assert records[1]["log"] == "o"
