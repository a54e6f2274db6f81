"""Allow rules scoped to (root, thread, tool, path) and an audit log that never drops events.

Driven through the real compiled langgraph graph with its SQLite checkpoints and the
agent's real SQLite journal; models are scripted (test_agent_graph.py shows the pattern).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.agent import Agent, ChatResult, ToolError
from adaptive_llm_local.agent.agent import CHECKPOINTS_FILE, JOURNAL_FILE
from adaptive_llm_local.agent.journal import Journal
from adaptive_llm_local.testing import ScriptedModel

pytestmark = pytest.mark.hostile("approval rules and audit")


def hermes(name: str, **args: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def edit(path: str, old: str, new: str) -> str:
    return hermes("write_file", file_path=path, old_text=old, new_text=new)


def move(src: str, dst: str) -> str:
    return hermes("move_file", source_path=src, destination_path=dst)


class Chat:
    def __init__(self, root: Path, state: Path, replies: list[Any] | None = None, **kw: Any):
        model = ScriptedModel(list(replies)) if replies is not None else None
        fmt = "hermes" if replies is not None else None
        self.agent = Agent(model, root=root, state_dir=state, tool_format=fmt, **kw)

    def say(self, message: str, thread: str = "run") -> ChatResult:
        return asyncio.run(self.agent.chat(message, thread))

    def decide(self, thread: str = "run", approve: bool = True, **kw: Any) -> ChatResult:
        return asyncio.run(self.agent.decide(thread, approve, **kw))


def project(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "train.py").write_text("x = 1\n")
    (path / "other.py").write_text("z = 1\n")
    return path


def assert_each_write_has_its_own_trail(records: list[Any]) -> None:
    """Every applied record follows a proposed and an approved/automatic record of the
    same proposal, and every proposal has at most one record of each event."""
    seen: dict[str, list[str]] = {}
    for record in records:
        events = seen.setdefault(record.proposal_id, [])
        assert record.event not in events, record
        if record.event == "applied":
            assert events[:1] == ["proposed"] and {"approved", "automatic"} & set(events), record
        events.append(record.event)


# --- item 4: rules cover exactly what the prompt showed -----------------------------


def test_a_rule_in_one_project_never_allows_the_same_thread_of_another(tmp_path: Path) -> None:
    state = tmp_path / "state"  # one state folder, as ~/.adaptive-llm-local holds for all
    one, two = project(tmp_path / "one"), project(tmp_path / "two")
    first = Chat(one, state, [edit("train.py", "x = 1", "x = 2"), "ok"])
    first.say("change it")
    first.decide(always="path")
    first.agent.close()

    second = Chat(two, state, [edit("train.py", "x = 1", "x = 5"), "ok"])
    asked = second.say("change it")
    assert asked.needs_approval, "the rule of project one allowed a write in project two"
    assert (two / "train.py").read_text() == "x = 1\n"
    assert second.agent.allowed("run") == []
    assert second.say("/allow").text.startswith('No "allow always" rules')
    assert second.say("/revoke 1").text == "This thread has no rule #1."  # not project one's
    second.decide(approve=False)
    second.agent.close()
    again = Chat(one, state)  # project one's rule is still there, and names its scope
    assert [r.describe() for r in again.agent.allowed("run")] == [
        f"#1: always allow write_file on train.py (in {one}, thread run)"
    ]
    again.agent.close()


def test_a_path_rule_never_covers_a_move_into_or_out_of_that_path(tmp_path: Path) -> None:
    root = project(tmp_path / "run")
    (root / "evil.py").write_text("import os\n")
    chat = Chat(
        root,
        tmp_path / "state",
        [
            edit("train.py", "x = 1", "x = 2"),
            "ok",
            move("train.py", "gone.py"),  # out of the allowed path
            "ok",
            move("evil.py", "train.py"),  # into the allowed path (after it was removed)
            "ok",
        ],
    )
    chat.say("edit")
    chat.decide(always="path")
    out = chat.say("move it away")
    assert out.needs_approval, "a write_file rule on train.py let train.py be moved away"
    chat.decide(approve=False)
    assert (root / "train.py").exists() and not (root / "gone.py").exists()
    (root / "train.py").unlink()
    into = chat.say("put evil there")
    assert into.needs_approval, "a write_file rule on train.py let another file replace it"
    chat.decide(approve=False)
    assert (root / "evil.py").exists() and not (root / "train.py").exists()
    automatic = [r for r in chat.agent.audit("run") if r.event == "automatic"]
    assert automatic == []


def test_always_on_a_move_covers_that_source_and_destination_only(tmp_path: Path) -> None:
    root = project(tmp_path / "run")
    chat = Chat(
        root,
        tmp_path / "state",
        [
            move("train.py", "old.py"),
            "ok",
            move("old.py", "train.py"),  # the way back: another destination
            "ok",
            move("other.py", "old2.py"),  # same tool, another source
            "ok",
            edit("old.py", "x = 1", "x = 2"),  # another tool on the moved file
            "ok",
        ],
    )
    chat.say("1")
    chat.decide(always="path")
    assert chat.say("2").needs_approval
    chat.decide(approve=False)
    assert chat.say("3").needs_approval
    chat.decide(approve=False)
    assert chat.say("4").needs_approval
    chat.decide(approve=False)
    assert (root / "old.py").read_text() == "x = 1\n" and (root / "other.py").exists()
    assert [r.describe() for r in chat.agent.allowed("run")] == [
        f"#1: always allow move_file train.py -> old.py (in {root}, thread run)"
    ]


def test_a_rule_still_allows_the_same_tool_on_the_same_path(tmp_path: Path) -> None:
    root = project(tmp_path / "run")
    replies = [edit("train.py", "x = 1", "x = 2"), "ok", edit("train.py", "x = 2", "x = 3"), "ok"]
    chat = Chat(root, tmp_path / "state", replies)
    chat.say("1")
    chat.decide(always="path")
    assert not chat.say("2").needs_approval
    assert (root / "train.py").read_text() == "x = 3\n"
    assert [r.actor for r in chat.agent.audit("run") if r.event == "automatic"] == ["allow rule #1"]
    listing = chat.say("/allow").text
    assert "write_file on train.py" in listing and str(root) in listing and "thread run" in listing


# --- item 5: the audit log never drops an event --------------------------------------


def lose_threads(state: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (state / f"{CHECKPOINTS_FILE}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["approved", "yolo", "rule"])
def test_writes_after_the_threads_database_is_lost_keep_all_their_records(
    tmp_path: Path, how: str
) -> None:
    root, state = project(tmp_path / "run"), tmp_path / "state"
    rounds = []
    for n in range(3):  # the same conversation, three times, the threads lost in between
        chat = Chat(
            root,
            state,
            [edit("train.py", f"x = {n + 1}", f"x = {n + 2}"), "done"],
            yolo=how == "yolo",
        )
        result = chat.say("bump x")
        if result.needs_approval:
            rounds.append(result.pending.actions[0].call_id)
            chat.decide(always="path" if how == "rule" else None)
        assert (root / "train.py").read_text() == f"x = {n + 2}\n"
        chat.agent.close()
        lose_threads(state)
    if how != "yolo":
        assert len(set(rounds)) == 1 or how == "rule"  # the call ids did restart
    records = Journal(state / JOURNAL_FILE).events("run")
    kinds = [r.event for r in records]
    assert kinds.count("proposed") == 3 and kinds.count("applied") == 3, kinds
    assert kinds.count("approved") + kinds.count("automatic") == 3, kinds
    assert len({r.proposal_id for r in records}) == 3
    assert len({r.call_id for r in records}) == 1  # same call id every time
    assert_each_write_has_its_own_trail(records)


def test_an_old_approval_never_authorizes_a_new_proposal_with_the_same_call_id(
    tmp_path: Path,
) -> None:
    root, state = project(tmp_path / "run"), tmp_path / "state"
    first = Chat(root, state, [edit("train.py", "x = 1", "x = 2"), "ok"])
    first.say("1")
    first.decide()
    call_id = first.agent.audit("run")[0].call_id
    first.agent.close()
    lose_threads(state)

    second = Chat(root, state)
    toolbox = second.agent.toolbox
    call = {
        "id": call_id,  # the id the approved call had
        "name": "write_file",
        "args": {"file_path": "train.py", "old_text": "x = 2", "new_text": "x = 666"},
    }
    plan = toolbox.plan("run", call["name"], call["args"])
    with pytest.raises(ToolError, match="no approval is recorded"):
        toolbox.apply("run", call, plan)
    assert (root / "train.py").read_text() == "x = 2\n"


def test_undo_never_reaches_into_another_projects_backups(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    one, two = project(tmp_path / "one"), project(tmp_path / "two")
    a = Chat(one, state, [move("other.py", "moved.py"), "ok"], yolo=True)
    a.say("move")
    a.agent.close()
    lose_threads(state)
    (two / "other.py").rename(two / "moved.py")  # project two looks like the moved one
    b = Chat(two, state)
    undo = b.say("/undo")  # project one's move is not project two's to undo
    assert not undo.needs_approval and "nothing to undo" in undo.text
    assert (one / "moved.py").exists() and (two / "moved.py").exists()
    b.agent.close()


# --- migration of an agent.sqlite3 written by an earlier version --------------------

_V1 = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, thread_id TEXT NOT NULL, call_id TEXT NOT NULL,
    event TEXT NOT NULL, tool TEXT NOT NULL, path TEXT, actor TEXT NOT NULL, diff TEXT,
    detail TEXT, UNIQUE (thread_id, call_id, event)
);
CREATE TABLE allow_rules (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, thread_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('tool', 'path')), value TEXT NOT NULL,
    UNIQUE (thread_id, kind, value)
);
CREATE TABLE backups (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, thread_id TEXT NOT NULL, call_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'move')), path TEXT NOT NULL, dest TEXT,
    before BLOB, after_sha TEXT, undone INTEGER NOT NULL DEFAULT 0, UNIQUE (thread_id, call_id)
);
PRAGMA user_version = 1;
"""


def test_a_journal_of_schema_1_is_migrated_and_keeps_working(tmp_path: Path) -> None:
    import hashlib

    root, state = project(tmp_path / "run"), tmp_path / "state"
    state.mkdir()
    (root / "train.py").write_text("x = 2\n")
    with sqlite3.connect(state / JOURNAL_FILE) as conn:
        conn.executescript(_V1)
        for event in ("proposed", "approved", "applied"):
            conn.execute(
                "INSERT INTO audit (at, thread_id, call_id, event, tool, path, actor)"
                " VALUES (1.0, 'run', 'c1-0', ?, 'write_file', 'train.py', 'user')",
                (event,),
            )
        conn.execute(
            "INSERT INTO allow_rules (at, thread_id, kind, value) VALUES (1.0, 'run', 'tool', 'write_file')"
        )
        conn.execute(
            "INSERT INTO backups (at, thread_id, call_id, kind, path, before, after_sha)"
            " VALUES (1.0, 'run', 'c1-0', 'edit', 'train.py', 'x = 1\n', ?)",
            (hashlib.sha256(b"x = 2\n").hexdigest(),),
        )
    conn.close()

    chat = Chat(root, state, [edit("train.py", "x = 2", "x = 3"), "ok"])
    assert [r.event for r in chat.agent.audit("run")] == ["proposed", "approved", "applied"]
    assert chat.agent.allowed("run") == []  # the unscoped rule of schema 1 is dropped
    asked = chat.say("bump")
    assert asked.needs_approval  # the dropped tool rule no longer applies
    chat.decide()
    assert (root / "train.py").read_text() == "x = 3\n"
    chat.say("/undo")  # the new write's backup
    chat.decide()
    assert (root / "train.py").read_text() == "x = 2\n"
    chat.say("/undo")  # the backup written by schema 1 still undoes its edit
    chat.decide()
    assert (root / "train.py").read_text() == "x = 1\n"
    records = chat.agent.audit("run")
    assert [r.event for r in records].count("applied") == 4
    assert_each_write_has_its_own_trail(records)
    chat.agent.close()
    from adaptive_llm_local.agent.journal import SCHEMA_VERSION

    with sqlite3.connect(state / JOURNAL_FILE) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    conn.close()
