"""The agent's tools through langchain's tool interface: names kept, extra tools handed in.

Extra tools are real langchain-core tools (``@tool``) run by the real compiled graph; the
model is scripted so that it calls them. The names and argument names of the standard
file tools are checked against langchain-community's ``FileManagementToolkit`` itself.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

from adaptive_llm_local.agent import Agent, AgentError, ChatResult
from adaptive_llm_local.agent.tools import READ, WRITE
from adaptive_llm_local.agent.tools.langchain_tools import access_of, from_langchain
from adaptive_llm_local.testing import ScriptedModel

CALLS: list[str] = []


@tool
def word_count(text: str) -> int:
    """Count the words of a text."""
    CALLS.append(f"count {text}")
    return len(text.split())


@tool(description="Resubmit a failed job to the scheduler.")
def resubmit(job_id: str) -> str:
    CALLS.append(f"resubmit {job_id}")
    return f"job {job_id} resubmitted"


resubmit.metadata = {"access": "write"}


def hermes(name: str, **args: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()


@pytest.fixture
def run(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    root.mkdir()
    (root / "train.py").write_text("x = 1\n")
    return root


def agent(run: Path, tmp_path: Path, replies: list[Any], **kwargs: Any) -> Agent:
    model = ScriptedModel(replies)
    return Agent(model, root=run, state_dir=tmp_path / "state", tool_format="hermes", **kwargs)


def say(chat: Agent, message: str) -> ChatResult:
    return asyncio.run(chat.chat(message, "t"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_file_tools_keep_langchain_communitys_names_and_arguments(
    run: Path, tmp_path: Path
) -> None:
    from langchain_community.agent_toolkits import FileManagementToolkit

    theirs = {t.name: set(t.args) for t in FileManagementToolkit(root_dir=str(run)).get_tools()}
    with agent(run, tmp_path, ["ok"]) as chat:
        ours = {t.name: set(t.args) for t in chat.toolbox.langchain_tools()}
    for name in ("read_file", "list_directory", "move_file"):
        assert theirs[name] <= ours[name], name  # every argument they take, we take
    assert theirs["write_file"] >= {"file_path", "text"} and "file_path" in ours["write_file"]
    assert set(ours) & set(theirs) == {"read_file", "list_directory", "write_file", "move_file"}


def test_an_extra_read_tool_runs_when_the_model_calls_it(run: Path, tmp_path: Path) -> None:
    replies = [hermes("word_count", text="one two three"), "It has 3 words [1]."]
    with agent(run, tmp_path, replies, extra_tools=[word_count]) as chat:
        assert "word_count" in [s.name for s in chat.toolbox.specs()]
        result = say(chat, "how many words?")
        assert not result.needs_approval
        (step,) = result.steps
        assert (step.tool, step.ok, step.content) == ("word_count", True, "3")
        assert CALLS == ["count one two three"]
        prompt = chat.model.calls[0][0]["content"]  # type: ignore[union-attr]
        assert '"name": "word_count"' in prompt and "Count the words of a text." in prompt
        assert chat.audit("t") == []  # a read leaves no audit record


def test_an_extra_write_tool_waits_for_approval_and_is_journaled(run: Path, tmp_path: Path) -> None:
    replies = [hermes("resubmit", job_id="7"), "Done."]
    with agent(run, tmp_path, replies, extra_tools=[resubmit]) as chat:
        assert "resubmit" in chat.write_tools
        result = say(chat, "resubmit job 7")
        assert result.needs_approval and CALLS == []
        (action,) = result.pending.actions  # type: ignore[union-attr]
        assert (action.tool, action.kind, action.summary) == ("resubmit", "call", "call resubmit 7")
        assert '"job_id": "7"' in action.diff
        done = asyncio.run(chat.decide("t", True, proposal=result.pending.id))  # type: ignore[union-attr]
        assert CALLS == ["resubmit 7"]
        assert [s.content for s in done.steps] == ["job 7 resubmitted"]
        events = [r.event for r in chat.audit("t")]
        assert events == ["proposed", "approved", "applied"]


def test_a_denied_extra_write_tool_never_runs(run: Path, tmp_path: Path) -> None:
    replies = [hermes("resubmit", job_id="7"), "Not resubmitted."]
    with agent(run, tmp_path, replies, extra_tools=[resubmit]) as chat:
        result = say(chat, "resubmit job 7")
        denied = asyncio.run(chat.decide("t", False, proposal=result.pending.id))  # type: ignore[union-attr]
        assert CALLS == []
        assert not denied.steps[0].ok and "Denied by the user" in denied.steps[0].content
        assert [r.event for r in chat.audit("t")] == ["proposed", "denied"]


def test_a_failing_extra_tool_is_a_refused_step_not_a_crash(run: Path, tmp_path: Path) -> None:
    replies = [hermes("word_count", wrong=1), "Sorry."]
    with agent(run, tmp_path, replies, extra_tools=[word_count]) as chat:
        result = say(chat, "count")
        (step,) = result.steps
        assert not step.ok and step.content.startswith("Error: word_count failed: ValidationError")


def test_the_standard_names_are_kept(run: Path, tmp_path: Path) -> None:
    @tool
    def read_file(file_path: str) -> str:
        """Read anything."""
        return open(file_path).read()

    with pytest.raises(AgentError, match="two tools are named 'read_file'"):
        agent(run, tmp_path, ["ok"], extra_tools=[read_file])


def test_access_is_read_unless_declared() -> None:
    assert access_of(word_count) == READ and access_of(resubmit) == WRITE

    @tool
    def mcp_read(q: str) -> str:
        """An MCP tool that says it only reads."""
        return q

    @tool
    def mcp_write(q: str) -> str:
        """An MCP tool without the read-only hint."""
        return q

    mcp_read.metadata = {"readOnlyHint": True}
    mcp_write.metadata = {"readOnlyHint": False, "destructiveHint": True}
    assert access_of(mcp_read) == READ and access_of(mcp_write) == WRITE
    mcp_write.metadata = {"access": "admin"}
    with pytest.raises(AgentError, match="declares access 'admin'"):
        from_langchain(mcp_write)


def test_the_standard_tools_as_langchain_tools_never_write(run: Path, tmp_path: Path) -> None:
    with agent(run, tmp_path, ["ok"]) as chat:
        tools = {t.name: t for t in chat.toolbox.langchain_tools()}
        assert "undo_edit" not in tools  # only the agent itself calls it
        assert tools["read_file"].invoke({"file_path": "train.py"}).endswith("x = 1\n")
        assert tools["read_file"].invoke({"file_path": "../x"}).startswith("Error: ../x")
        planned = tools["write_file"].invoke(
            {"file_path": "train.py", "old_text": "x = 1", "new_text": "x = 2"}
        )
        assert planned.startswith("Not applied: edit train.py") and "+x = 2" in planned
        assert (run / "train.py").read_text() == "x = 1\n"
        assert tools["move_file"].metadata == {"access": "write"}
