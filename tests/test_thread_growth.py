"""The threads file grows with what was added to the threads, not with its square.

40 ``/read`` of a large log in one thread once left ~1 GB on disk: every checkpoint held
every earlier result. Real files, real SQLite, the real compiled graph; no model.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from adaptive_llm_local.agent import Agent, SeedContext
from adaptive_llm_local.agent.thread_store import MIN_BODY, BodyStore

pytestmark = pytest.mark.hostile("thread database growth")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "threads" / "before-issue-16.db"
"""Made by the code before this change: thread "7" seeded from a TabError job, a
``/read notes.txt`` (5 KB), then ``/fix`` waiting (``threads/make_before_issue_16.py``)."""
TABS = "def f(x):\n    if x:\n        y = 1\n\treturn 1\n"
FIXED = "def f(x):\n    if x:\n        y = 1\n    return 1\n"


def on_disk(state: Path) -> int:
    """Bytes the threads file takes, with its write-ahead log and index."""
    base = state / "threads.sqlite3"
    return sum(p.stat().st_size for p in (base, *base.parent.glob(base.name + "-*")) if p.exists())


def checkpoints(state: Path, thread: str) -> int:
    conn = sqlite3.connect(state / "threads.sqlite3")
    try:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread,)
            ).fetchone()[0]
        )
    finally:
        conn.close()


def log_text(i: int, size: int = 280 * 1024) -> str:
    """A log of ``size`` bytes that differs from read to read (so nothing is shared)."""
    rng = random.Random(i)
    lines = []
    total = 0
    while total < size:
        line = f"step {len(lines)} loss={rng.random():.6f} id={rng.getrandbits(96):024x}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)


def test_forty_reads_of_a_big_log_grow_the_file_linearly(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    agent = Agent(None, root=run, state_dir=state)
    read = 0
    try:
        for i in range(40):
            (run / "job.log").write_text(log_text(i))  # the job keeps writing its log
            result = asyncio.run(agent.chat("/read job.log", "big"))
            (step,) = result.steps
            assert step.ok and len(step.content) > 200_000
            read += len(step.content.encode())
        history = agent.history("big")
    finally:
        agent.close()
    assert sum(1 for item in history if item.role == "tool") == 40
    assert log_text(39)[:200_000] in history[-1].text  # the texts read back whole
    assert log_text(0)[:200_000] in history[1].text
    size = on_disk(state)
    # the code before this change left ~100x the bytes read here (about 850 MB)
    assert size < 3 * read + 2_000_000, (size, read)
    assert checkpoints(state, "big") == 2  # its first and its latest


def test_the_same_log_read_forty_times_is_kept_once(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    (run / "job.log").write_text(log_text(0))
    agent = Agent(None, root=run, state_dir=state)
    try:
        for _ in range(40):
            asyncio.run(agent.chat("/read job.log", "same"))
        contents = {i.text for i in agent.history("same") if i.role == "tool"}
    finally:
        agent.close()
    assert len(contents) == 1
    assert on_disk(state) < 2 * 280 * 1024 + 2_000_000


def test_a_pending_approval_survives_pruning_in_a_new_agent(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    (run / "tabs.py").write_text(TABS)
    log = run / "job-7.out"
    log.write_text(
        log_text(1, 100_000)
        + f'  File "{run}/tabs.py", line 4\n    return 1\n'
        + "TabError: inconsistent use of tabs and spaces in indentation\n"
    )
    context = SeedContext(
        job_id="7", category="syntax_error", exception="TabError", log_path=str(log)
    )
    first = Agent(None, root=run, state_dir=state)
    asyncio.run(first.seed_thread("7", context))
    asyncio.run(first.chat("/read job-7.out", "7"))
    shown = asyncio.run(first.chat("/fix", "7")).pending
    first.close()
    assert shown is not None and checkpoints(state, "7") == 2
    second = Agent(None, root=run, state_dir=state)
    try:
        assert second.pending("7") == shown
        read = [i.text for i in second.history("7") if i.label and i.label.startswith("job-7.out")]
        assert read and log_text(1, 100_000) in read[-1]
        asyncio.run(second.decide("7", True, proposal=shown.id))
        assert (run / "tabs.py").read_text() == FIXED
    finally:
        second.close()


def test_a_threads_file_of_the_earlier_version_still_opens_and_resumes(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    state.mkdir()
    (run / "tabs.py").write_text(TABS)
    (run / "notes.txt").write_text("x" * 10)
    shutil.copy(LEGACY, state / "threads.sqlite3")
    before = checkpoints(state, "7")
    assert before > 3
    agent = Agent(None, root=run, state_dir=state)
    try:
        pending = agent.pending("7")
        assert pending is not None and "+    return 1" in pending.diff and pending.id
        roles = [i.role for i in agent.history("7")]
        assert roles[-2:] == ["user", "assistant"] and "tool" in roles
        notes = [i.text for i in agent.history("7") if i.label and "notes.txt" in i.label]
        assert notes and len(notes[0]) >= MIN_BODY  # an old inline text reads back
        result = asyncio.run(agent.decide("7", True, proposal=pending.id))
        assert result.text == "Edited tabs.py (/undo reverts it)."
        assert (run / "tabs.py").read_text() == FIXED
        assert checkpoints(state, "7") == 2  # pruned on its first turn here
        assert asyncio.run(agent.chat("/read notes.txt", "7")).steps[0].content.endswith("xxxx")
        assert agent.pending("7") is None
    finally:
        agent.close()


def test_an_old_bloated_threads_file_gets_its_space_back(tmp_path: Path) -> None:
    run, state = tmp_path / "run", tmp_path / "state"
    run.mkdir()
    state.mkdir()
    (run / "tabs.py").write_text(TABS)
    path = state / "threads.sqlite3"
    shutil.copy(LEGACY, path)
    conn = sqlite3.connect(path)
    with conn:  # the many old copies an earlier version kept, older than the thread's head
        for i in range(300):
            conn.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, type, "
                "checkpoint, metadata) VALUES ('7', '', ?, 'msgpack', ?, '{}')",
                (f"0000-{i:06d}", random.Random(i).randbytes(256 * 1024)),
            )
    conn.close()
    bloated = on_disk(state)
    assert bloated > 70_000_000
    agent = Agent(None, root=run, state_dir=state)
    try:
        pending = agent.pending("7")
        assert pending is not None
        asyncio.run(agent.decide("7", False, proposal=pending.id))
    finally:
        agent.close()
    assert on_disk(state) < 5_000_000, on_disk(state)


def test_body_references_round_trip_and_genuine_lookalikes_survive(tmp_path: Path) -> None:
    store = BodyStore(tmp_path / "t.sqlite3")
    try:
        big = "é" * MIN_BODY
        tricky = {"\x00alm-body": "not a hash", "\x00alm-escaped": {"k": big}}
        value = {"messages": [{"content": big}, {"content": "short"}, tricky], "n": (1, big)}
        stored, changed = store.externalize(value)
        assert changed and big not in repr(stored["messages"])
        assert store.resolve(stored) == value
        assert store.externalize({"a": ["short"]}) == ({"a": ["short"]}, False)
    finally:
        store.close()
