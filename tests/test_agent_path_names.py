"""Path names that cannot spoof the approval prompt (issue 16, item 6).

A model chooses file names; a name with a newline, a carriage return, a bidi override or
a zero-width character would make the terminal (or the widget) show a harmless diff and a
misleading label while another file is written. Every path a tool takes is refused when
it holds such a character (the refusal names it by its escape), and every name that is
shown goes through :func:`visible` with ``name=True`` (one line, written out).

Real sandbox on real files, the real compiled graph, and the real ``adaptive-llm-local
chat`` in a subprocess with a scripted model.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adaptive_llm_local.agent import Agent, ToolError
from adaptive_llm_local.agent.journal import Journal
from adaptive_llm_local.agent.results import PendingApproval, ProposedAction
from adaptive_llm_local.agent.sandbox import Sandbox
from adaptive_llm_local.agent.tools import Toolbox, render_listing
from adaptive_llm_local.cli.chat import show_pending
from adaptive_llm_local.testing import ScriptedModel

pytestmark = pytest.mark.hostile("path names")

LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
CONTROLS = ["\x01", "\x07", "\x08", "\t", "\x1b", "\x7f", "\x80", "\x9b", "\x9f"]
BIDI = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u061c",
]  # fmt: skip
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\U000e0041"]
HOSTILE = LINE_BREAKS + CONTROLS + BIDI + INVISIBLE


def esc(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def names(char: str) -> list[str]:
    """The character at the end (where ``strip`` used to drop it), inside and leading."""
    return [f"notes.txt{char}", f"no{char}tes.txt", f"{char}notes.txt", f"sub/x{char}y.py"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text("hello\n")
    (root / "train.py").write_text("x = 1\n")
    return root


class Jobs:
    def jobs(self) -> list[dict[str, Any]]:
        return [{"job_id": "7", "job_name": "fit", "state": "failed"}]


@pytest.fixture
def toolbox(root: Path, tmp_path: Path) -> Toolbox:
    return Toolbox(Sandbox(root), Journal(tmp_path / "j.sqlite3"), jobs=Jobs())


def assert_refused_naming(message: str, char: str) -> None:
    assert esc(char) in message, message
    assert char not in message, f"the raw character reached the message: {message!r}"
    assert "refused" in message


def on_disk(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.hostile("path names", cases=24)
@pytest.mark.parametrize("char", HOSTILE, ids=[esc(c) for c in HOSTILE])
def test_every_path_argument_of_every_tool_refuses_the_character(
    toolbox: Toolbox, root: Path, char: str
) -> None:
    before = on_disk(root)
    for name in names(char):
        for tool, args in (
            ("read_file", {"file_path": name}),
            ("list_directory", {"dir_path": name}),
            ("job_status", {"job_id": f"7{char}"}),
        ):
            result = toolbox.run_read(tool, args)
            assert not result.ok, (tool, name)
            assert_refused_naming(result.content, char)
            assert char not in result.label and "\n" not in result.label
        for tool, args in (
            ("write_file", {"file_path": name, "old_text": "", "new_text": "payload\n"}),
            ("move_file", {"source_path": name, "destination_path": "moved.txt"}),
            ("move_file", {"source_path": "notes.txt", "destination_path": name}),
        ):
            with pytest.raises(ToolError) as caught:
                toolbox.plan("t", tool, args)
            assert_refused_naming(str(caught.value), char)
    assert on_disk(root) == before


def test_a_symbolic_link_to_a_hidden_name_is_refused(toolbox: Toolbox, root: Path) -> None:
    (root / "evil\u202etxt.py").write_text("x\n")
    (root / "ok.py").symlink_to("evil\u202etxt.py")
    result = toolbox.run_read("read_file", {"file_path": "ok.py"})
    assert not result.ok and "symbolic link" in result.content
    assert_refused_naming(result.content, "\u202e")


def test_a_listing_shows_names_on_disk_escaped_on_one_line(toolbox: Toolbox, root: Path) -> None:
    (root / "a\n  fake.py  (1 bytes)").write_text("x")
    (root / "b\u202eyp.txt").write_text("x")
    result = toolbox.run_read("list_directory", {"dir_path": "."})
    assert result.ok
    assert "  a\\n  fake.py  (1 bytes)  (1 bytes)" in result.content.splitlines()
    assert "  b\\u202eyp.txt  (1 bytes)" in result.content.splitlines()
    assert "\u202e" not in result.content
    assert len(result.content.splitlines()) == 1 + len(os.listdir(root))
    assert render_listing(".", [], False) == "./ (0 entries):"


# --- the model sees the refusal; slash commands refuse the same ----------------------


def hermes(name: str, **args: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


SPOOF = "notes.txt (1 hunk)\n--- a.txt\n+++ b.txt\n@@ -1 +1 @@\n-x = 1\n+x = 2"
"""A file name that, shown raw under "create", looks like a harmless one-line diff."""


def test_the_model_is_told_which_character_was_refused(root: Path, tmp_path: Path) -> None:
    model = ScriptedModel(
        [hermes("write_file", file_path=SPOOF, old_text="", new_text="rm -rf ~\n"), "sorry"]
    )
    agent = Agent(model, root=root, state_dir=tmp_path / "state", tool_format="hermes")
    before = on_disk(root)
    result = asyncio.run(agent.chat("tidy up", "7"))
    assert not result.needs_approval and on_disk(root) == before
    step = result.steps[0]
    assert not step.ok
    assert step.content.startswith("Error: the path notes.txt (1 hunk)\\n--- a.txt\\n+++ b.txt")
    assert "line break (\\n, character 19)" in step.content
    assert "\n" not in step.label and "\n" not in step.content
    # the model's next prompt carries that refusal, escaped
    assert any("line break (\\n, character 19)" in m["content"] for m in model.calls[-1])
    assert agent.audit("7") == []  # nothing was proposed
    agent.close()


@pytest.mark.parametrize("char", ["\u202e", "\x1b", "\u2028", "\u200b", "\r", "\x85"])
def test_slash_commands_refuse_the_same(root: Path, tmp_path: Path, char: str) -> None:
    agent = Agent(None, root=root, state_dir=tmp_path / "state", jobs=Jobs())
    for message in (f"/read no{char}tes.txt", f"/ls su{char}b", f"/read no{char}tes.txt:1-2"):
        result = asyncio.run(agent.chat(message, "7"))
        shown = " ".join(step.content + step.label for step in result.steps) + result.text
        assert_refused_naming(shown, char)
    agent.close()


# --- what is shown --------------------------------------------------------------------


def test_visible_names_stay_on_one_line() -> None:
    from adaptive_llm_local.visible import hidden_in_name, visible

    for char in HOSTILE:
        shown = visible(f"a{char}b", name=True)
        assert shown == f"a{esc(char)}b"
        assert shown.isprintable()
        assert hidden_in_name(f"a{char}b") == (1, esc(char), hidden_in_name(char)[2])  # type: ignore[index]
    assert visible("a\nb") == "a\nb"  # text (not a name) keeps its lines
    assert visible("x.py", name=True) == "x.py" and hidden_in_name("données/x.py") is None
    kinds = {hidden_in_name(c)[2] for c in HOSTILE}  # type: ignore[index]
    assert kinds == {
        "line break",
        "control character",
        "bidi control",
        "invisible format character",
    }
    for char in HOSTILE:
        assert unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def test_the_terminal_prompt_shows_a_name_and_content_line_by_line() -> None:
    """Defence in depth: even a pending action holding such a name (an older thread)
    prints its label on one line, and a ``\\r``/``\\u2028`` inside a diff line never
    starts a line of its own."""
    action = ProposedAction(
        call_id="c1",
        tool="write_file",
        kind="create",
        path=SPOOF,
        dest=None,
        summary=f"create {SPOOF} (1 hunk)",
        diff="--- /dev/null\n+++ b/ok.py\n@@ -0,0 +1 @@\n+a = 1\u2028--- fake\r+++ fake\n",
        hunks=("@@ -0,0 +1 @@\n+a = 1\n",),
    )
    out = io.StringIO()
    show_pending(Console(file=out, width=300, color_system=None), PendingApproval("7", (action,)))
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "create notes.txt (1 hunk)\\n--- a.txt\\n+++ b.txt\\n@@ -1 +1 @@\\n-x = 1\\n+x = 2 (1 hunk)"
    )
    assert lines[1:] == [
        "--- /dev/null",
        "+++ b/ok.py",
        "@@ -0,0 +1 @@",
        "+a = 1\\u2028--- fake\\r+++ fake",
    ]


# --- the real terminal chat -------------------------------------------------------------

DRIVER = """
import json, sys
from adaptive_llm_local import assistant
from adaptive_llm_local.testing import ScriptedModel

model = ScriptedModel(json.load(open(sys.argv[1])))
model.tool_format = "hermes"
build = assistant.Assistant.from_settings.__func__
assistant.Assistant.from_settings = classmethod(
    lambda cls, settings, **kw: build(cls, settings, **{**kw, "model": model})
)
from adaptive_llm_local.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    "name",
    [SPOOF, "notes.txt\r+++ b.txt", "harmless\u202eyp.txt", "notes.txt\u2028+++ x.py"],
    ids=["newline", "carriage-return", "bidi", "line-separator"],
)
def test_the_terminal_chat_refuses_a_spoofing_name(root: Path, tmp_path: Path, name: str) -> None:
    replies = tmp_path / "replies.json"
    replies.write_text(
        json.dumps(
            [hermes("write_file", file_path=name, old_text="", new_text="payload\n"), "done"]
        )
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "COLUMNS": "200", "ADAPTIVE_LLM_HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent.parent), env.get("PYTHONPATH", "")]
    )
    for key in ("ADAPTIVE_LLM_INDEX_DIR", "ADAPTIVE_LLM_CHROMA_URL", "ADAPTIVE_LLM_MODEL"):
        env.pop(key, None)
    before = on_disk(root)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(replies), "chat", "--no-index", "--root", str(root)],
        input="write the notes\ny\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert on_disk(root) == before  # nothing written
    assert "apply?" not in out  # never reached the prompt
    char = next(c for c in name if c in HOSTILE)
    assert "holds a" in out and esc(char) in out, out
    assert char == "\n" or char not in out
    for line in out.splitlines():  # no label split into a fake diff line
        shown = line.lstrip("✗· ")
        assert not shown.startswith(("--- a.txt", "+++ ", "@@ ", "-x = 1", "+x = 2")), line
