"""Two chat sessions on one thread (the terminal and a notebook share the threads).

Real processes over one state folder hammer one thread with scripted models: each asks
for a new file, gets a proposal and decides it (approve or deny, at random), sometimes
sending a decision twice. Every proposal must end decided exactly once, as its own
session decided it, or still wait; no message may be lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.agent import Agent, AgentError, StaleDecisionError, ThreadBusyError
from adaptive_llm_local.agent.thread_lock import hold
from adaptive_llm_local.testing import ScriptedModel

pytestmark = pytest.mark.hostile("concurrent sessions")

REPO = Path(__file__).resolve().parent.parent
THREAD = "shared"

WORKER = textwrap.dedent(
    """
    import asyncio, inspect, json, random, re, sys, time
    from adaptive_llm_local.agent import Agent, AgentError
    from adaptive_llm_local.testing import ScriptedModel

    run, state, tag, rounds, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    rng = random.Random(tag)

    def reply(messages):
        asked = re.search(r"make (\\S+)\\s*$", str(messages[-1].get("content", "")))
        if asked is None:
            return "ok"
        name = asked.group(1)
        call = {"name": "write_file",
                "arguments": {"file_path": name + ".txt", "new_text": name + "\\n"}}
        return "<tool_call>\\n" + json.dumps(call) + "\\n</tool_call>"

    agent = Agent(ScriptedModel([reply], delay=0.02), root=run, state_dir=state,
                  tool_format="hermes")
    can_name = "proposal" in inspect.signature(agent.decide).parameters
    log = open(out, "a")

    def note(**record):
        log.write(json.dumps(record) + "\\n")
        log.flush()

    def decide(pending, approve):
        kwargs = {"proposal": pending.id} if can_name else {}
        return asyncio.run(agent.decide(THREAD, approve, **kwargs))

    THREAD = "shared"
    k = 0
    deadline = time.monotonic() + 90
    while k < rounds and time.monotonic() < deadline:
        name = f"{tag}-{k}"
        try:
            result = asyncio.run(agent.chat(f"make {name}", THREAD))
        except AgentError as exc:  # busy, or the other session's proposal waits
            note(event="refused", error=str(exc))
            time.sleep(rng.random() * 0.05)
            continue
        note(event="sent", name=name)
        k += 1
        pending = result.pending
        if pending is None:
            continue
        mine = [a for a in pending.actions if a.path == name + ".txt"]
        note(event="shown", name=name, calls=[a.call_id for a in pending.actions],
             paths=[a.path for a in pending.actions])
        approve = rng.random() < 0.5
        for attempt in range(400):
            try:
                decide(pending, approve)
                note(event="decided", name=name, approve=approve,
                     calls=[a.call_id for a in pending.actions])
                break
            except AgentError as exc:
                note(event="decide-refused", name=name, error=str(exc))
                if "busy" not in str(exc) and "already running" not in str(exc):
                    break
                time.sleep(0.01)
        if rng.random() < 0.3:  # the same answer again (a double click, a stale prompt)
            try:
                decide(pending, not approve)
                note(event="stale-applied", name=name)
            except AgentError as exc:
                note(event="stale-refused", name=name, error=str(exc))
    agent.close()
    """
)


def _worker(run: Path, state: Path, tag: str, rounds: int, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(run), str(state), tag, str(rounds), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_processes_on_one_thread_never_lose_or_swap_proposals(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    logs = {tag: tmp_path / f"{tag}.jsonl" for tag in ("A", "B")}
    workers = [_worker(run, state, tag, 8, log) for tag, log in logs.items()]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-3000:]

    records = {tag: _records(log) for tag, log in logs.items()}
    agent = Agent(None, root=run, state_dir=state)
    try:
        history = agent.history(THREAD)
        audit = agent.audit(THREAD)
        pending = agent.pending(THREAD)
    finally:
        agent.close()

    # no message lost: every message a session sent is in the thread, once
    sent = sorted(r["name"] for rs in records.values() for r in rs if r["event"] == "sent")
    asked = sorted(i.text.removeprefix("make ") for i in history if i.role == "user")
    assert asked == sent
    assert len(sent) == 16

    # each proposal names the file its own session asked for, and nobody else's
    proposals = [(r.call_id, r.path) for r in audit if r.event == "proposed"]
    proposed = dict(proposals)
    assert len(proposed) == len(proposals), "two proposals share a call id"
    assert len(set(proposed.values())) == len(proposals), "one file proposed twice"
    for rs in records.values():
        for r in rs:
            if r["event"] == "shown":
                assert r["paths"] == [r["name"] + ".txt"], r

    # every proposal decided exactly once, as the session that was shown it decided,
    # or it is the one still waiting
    decisions: dict[str, list[str]] = {}
    for record in audit:
        if record.event in ("approved", "denied"):
            decisions.setdefault(record.call_id, []).append(record.event)
    intended = {
        call: "approved" if r["approve"] else "denied"
        for rs in records.values()
        for r in rs
        if r["event"] == "decided"
        for call in r["calls"]
    }
    waiting = {a.call_id for a in pending.actions} if pending is not None else set()
    for call, path in proposed.items():
        if call in waiting:
            assert call not in decisions
            continue
        assert decisions.get(call) == [intended.get(call)], (call, path, decisions.get(call))
        assert (run / path).is_file() == (intended[call] == "approved"), path
    assert not [r for rs in records.values() for r in rs if r["event"] == "stale-applied"]
    assert len(waiting) <= 1


def test_a_busy_thread_names_the_other_session(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from adaptive_llm_local.agent.thread_lock import hold\n"
            "with hold(Path(sys.argv[1]), 'shared'):\n"
            "    print('held', flush=True); time.sleep(30)",
            str(state),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = rf"busy in another session \(pid {holder.pid} "
        with pytest.raises(ThreadBusyError, match=busy), hold(state, THREAD):
            pass
        run = tmp_path / "run"
        run.mkdir()
        agent = Agent(None, root=run, state_dir=state)
        with pytest.raises(ThreadBusyError, match="wait for it to finish or open another thread"):
            asyncio.run(agent.chat("/ls", THREAD))
        assert asyncio.run(agent.chat("/ls", "other")).steps  # other threads stay free
        agent.close()
    finally:
        holder.kill()
        holder.wait()
    with hold(state, THREAD):  # a dead holder leaves the thread free
        pass


def test_a_decision_lands_only_on_the_proposal_it_was_shown(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()

    def propose(messages: Any) -> str:
        text = str(messages[-1].get("content", ""))
        name = text.rsplit(" ", 1)[-1]
        if not text.startswith("make "):
            return "ok"
        call = {"name": "write_file", "arguments": {"file_path": name, "new_text": "x\n"}}
        return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"

    terminal = Agent(ScriptedModel([propose]), root=run, state_dir=state, tool_format="hermes")
    notebook = Agent(ScriptedModel([propose]), root=run, state_dir=state, tool_format="hermes")
    try:
        shown = asyncio.run(terminal.chat("make first.txt", THREAD)).pending
        assert shown is not None and shown.id
        # the notebook decides it, then asks for another change
        asyncio.run(notebook.decide(THREAD, False, proposal=shown.id))
        later = asyncio.run(notebook.chat("make second.txt", THREAD)).pending
        assert later is not None and later.id != shown.id
        # the terminal's answer to what it was shown must not approve the notebook's change
        with pytest.raises(StaleDecisionError, match="another change than the one you answered"):
            asyncio.run(terminal.decide(THREAD, True, proposal=shown.id))
        assert not (run / "second.txt").exists()
        assert terminal.pending(THREAD) == later
        asyncio.run(notebook.decide(THREAD, True, proposal=later.id))
        with pytest.raises(StaleDecisionError, match="no longer waits"):
            asyncio.run(terminal.decide(THREAD, True, proposal=later.id))
        assert (run / "second.txt").read_text() == "x\n" and not (run / "first.txt").exists()
        events = [(r.path, r.event) for r in terminal.audit(THREAD) if r.event != "proposed"]
        assert events == [
            ("first.txt", "denied"),
            ("second.txt", "approved"),
            ("second.txt", "applied"),
        ]
    finally:
        terminal.close()
        notebook.close()


def test_two_managers_over_one_home_refuse_a_stale_decision(tmp_path: Path) -> None:
    """The notebook's ``llm`` and a second one (the terminal's) over the same home."""
    from adaptive_llm_local.assistant import Assistant
    from adaptive_llm_local.config import Settings
    from adaptive_llm_local.manager import DiagnosisStore, LLMManager
    from adaptive_llm_local.testing import ReplayRun

    root = tmp_path / "run"
    root.mkdir()
    (root / "tabs.py").write_text("def f(x):\n    if x:\n        y = 1\n\treturn 1\n")
    run = ReplayRun(root, job_name="chat")
    run.fail(
        f'  File "{root}/tabs.py", line 4\n    return 1\n'
        "TabError: inconsistent use of tabs and spaces in indentation\n",
        job_id="7",
    )
    settings = Settings(home=tmp_path / "home")

    def manager() -> LLMManager:
        assistant = Assistant(settings, ScriptedModel(["{}"]), None)
        store = DiagnosisStore(settings.database_path)
        return LLMManager(run, assistant=assistant, store=store, interval=0.05, freeze_gc=False)

    async def main() -> None:
        notebook, terminal = manager(), manager()
        try:
            shown = (await notebook.chat("/fix", thread_id="7")).pending
            assert shown is not None
            with pytest.raises(AgentError, match="waits for your decision"):
                await terminal.chat("/ls", thread_id="7")
            assert await terminal.pending("7") == shown
            await terminal.decide("7", approve=False, proposal=shown.id)
            with pytest.raises(StaleDecisionError, match="no longer waits"):
                await notebook.decide("7", approve=True, proposal=shown.id)
            assert "\treturn 1" in (root / "tabs.py").read_text()  # the denial stands
            events = [r.event for r in notebook.agent.audit("7")]
            assert events == ["proposed", "denied"]
        finally:
            notebook.conversations.close()
            terminal.conversations.close()

    asyncio.run(main())
