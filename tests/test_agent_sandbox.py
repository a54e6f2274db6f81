"""The agent's sandbox: every way out of the run folder is refused with a clear error."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from adaptive_llm_local.agent import Limits, Sandbox, ToolError
from adaptive_llm_local.agent.journal import Journal
from adaptive_llm_local.agent.sandbox import sha256
from adaptive_llm_local.agent.tools import Toolbox

pytestmark = pytest.mark.hostile("sandbox")

SECRET = "outside secret\n"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder and, next to it, a folder with a file the agent must never see."""
    root = tmp_path / "run"
    outside = tmp_path / "outside"
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    (root / "src" / "train.py").write_text("x = 1\n")
    (root / "notes.txt").write_text("hello\n")
    (outside / "secret.txt").write_text(SECRET)
    return root, outside


@pytest.fixture
def box(tree: tuple[Path, Path]) -> Sandbox:
    return Sandbox(tree[0])


def test_reads_and_lists_inside(box: Sandbox) -> None:
    assert box.read_text("src/train.py").text == "x = 1\n"
    assert box.read_text(str(box.root / "notes.txt")).text == "hello\n"  # absolute, inside
    rel, entries, capped = box.list_dir(".")
    assert rel == "." and not capped
    assert [(e.name, e.kind) for e in entries] == [("src", "folder"), ("notes.txt", "file")]


def test_symlink_inside_the_root_is_followed(box: Sandbox) -> None:
    os.symlink("src/train.py", box.root / "link.py")
    assert box.read_text("link.py").text == "x = 1\n"
    assert box.relative("link.py") == "src/train.py"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside/secret.txt", "`..` leads outside"),
        ("src/../../outside/secret.txt", "`..` leads outside"),
        ("/etc/passwd", "absolute path outside"),
        ("~/.bashrc", "`~` is not expanded"),
        ("~root/.bashrc", "`~` is not expanded"),
        ("notes\x00.txt", "NUL byte"),
        ("a/" * 600 + "x", "too long"),
        ("n" * 300, "too long"),
    ],
)
def test_path_escapes_are_refused(box: Sandbox, path: str, message: str) -> None:
    for operation in (
        lambda: box.read_text(path),
        lambda: box.list_dir(path),
        lambda: box.write_text(path, "pwned", expected_sha256=None),
        lambda: box.move("notes.txt", path),
    ):
        with pytest.raises(ToolError, match=message):
            operation()
    assert (box.root / "notes.txt").read_text() == "hello\n"


def test_symlink_out_is_refused(tree: tuple[Path, Path], box: Sandbox) -> None:
    root, outside = tree
    os.symlink(outside / "secret.txt", root / "secret.txt")
    os.symlink(outside, root / "out")
    for path in ("secret.txt", "out/secret.txt", "out"):
        with pytest.raises(ToolError, match=r"symbolic link .* outside"):
            box.read_text(path)
    with pytest.raises(ToolError, match=r"symbolic link .* outside"):
        box.list_dir("out")
    with pytest.raises(ToolError, match=r"symbolic link .* outside"):
        box.write_text("secret.txt", "pwned", expected_sha256=sha256(SECRET))
    assert (outside / "secret.txt").read_text() == SECRET


def test_dev_zero_via_symlink_is_refused(box: Sandbox) -> None:
    os.symlink("/dev/zero", box.root / "zero")
    with pytest.raises(ToolError, match="outside the run folder"):
        box.read_text("zero")


def test_hard_link_to_an_outside_file_is_neither_read_nor_written(
    tree: tuple[Path, Path], box: Sandbox
) -> None:
    root, outside = tree
    os.link(outside / "secret.txt", root / "innocent.txt")
    with pytest.raises(ToolError, match="2 hard links"):
        box.read_text("innocent.txt")
    with pytest.raises(ToolError, match="2 hard links"):
        box.write_text("innocent.txt", "pwned", expected_sha256=sha256(SECRET))
    with pytest.raises(ToolError, match="2 hard links"):
        box.move("innocent.txt", "moved.txt")
    assert (outside / "secret.txt").read_text() == SECRET


@pytest.mark.timeout(20)
def test_fifo_is_never_opened(box: Sandbox) -> None:
    os.mkfifo(box.root / "pipe")
    with pytest.raises(ToolError, match="fifo, not a regular file; it is never opened"):
        box.read_text("pipe")
    with pytest.raises(ToolError, match="fifo"):
        box.write_text("pipe", "x", expected_sha256=None)
    _, entries, _ = box.list_dir(".")
    assert ("pipe", "fifo") in [(e.name, e.kind) for e in entries]


@pytest.mark.timeout(20)
def test_device_and_socket_are_never_opened(box: Sandbox) -> None:
    try:
        os.mknod(box.root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pass  # not root: the symlink case above covers devices
    else:
        with pytest.raises(ToolError, match="device, not a regular file"):
            box.read_text("null")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(box.root / "sock"))
        with pytest.raises(ToolError, match="socket, not a regular file"):
            box.read_text("sock")
    finally:
        server.close()


def test_a_symlink_swapped_in_after_the_check_is_not_followed(
    tree: tuple[Path, Path], box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tree
    os.symlink(outside, root / "late")
    # the race: the path was checked while "late" was a plain folder
    monkeypatch.setattr(Sandbox, "relative", lambda self, path: "late/secret.txt")
    with pytest.raises(ToolError, match="not a plain folder"):
        box.read_text("late/secret.txt")


def test_notebooks_are_never_written_raw(box: Sandbox) -> None:
    (box.root / "analysis.ipynb").write_text('{"cells": []}')
    with pytest.raises(ToolError, match="notebook"):
        box.write_text("analysis.ipynb", "{}", expected_sha256=sha256('{"cells": []}'))
    with pytest.raises(ToolError, match="notebook"):
        box.write_text("new.ipynb", "{}", expected_sha256=None)
    with pytest.raises(ToolError, match="notebook"):
        box.move("notes.txt", "notes.ipynb")
    assert box.read_text("analysis.ipynb").text == '{"cells": []}'


def test_read_caps_ranges_and_tails(box: Sandbox) -> None:
    big = "".join(f"line {i}\n" for i in range(1, 20001))
    (box.root / "big.log").write_text(big)
    small = Sandbox(box.root, Limits(read_bytes=1000))
    head = small.read_text("big.log")
    assert head.truncated and len(head.text) <= 1000 and head.text.endswith("\n")
    middle = small.read_text("big.log", 100, 102)
    assert middle.text == "line 100\nline 101\nline 102\n"
    assert (middle.first_line, middle.last_line) == (100, 102)
    tail = small.read_text("big.log", -2)
    assert tail.text == "line 19999\nline 20000\n" and (tail.first_line, tail.last_line) == (
        19999,
        20000,
    )
    with pytest.raises(ToolError, match="no line 30000"):
        small.read_text("big.log", 30000, 30001)


def test_binary_and_non_utf8_files(box: Sandbox) -> None:
    (box.root / "model.bin").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(ToolError, match="binary file"):
        box.read_text("model.bin")
    (box.root / "latin.txt").write_bytes("café\n".encode("latin-1"))
    assert "caf" in box.read_text("latin.txt").text
    with pytest.raises(ToolError, match="not UTF-8"):
        box.read_for_edit("latin.txt")


def test_atomic_write_keeps_mode_and_refuses_a_changed_file(box: Sandbox) -> None:
    script = box.root / "run.sh"
    script.write_text("echo 1\n")
    script.chmod(0o755)
    box.write_text("run.sh", "echo 2\n", expected_sha256=sha256("echo 1\n"))
    assert script.read_text() == "echo 2\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    with pytest.raises(ToolError, match="changed since"):
        box.write_text("run.sh", "echo 3\n", expected_sha256=sha256("echo 1\n"))
    assert script.read_text() == "echo 2\n"
    assert sorted(p.name for p in box.root.iterdir()) == [
        "notes.txt",
        "run.sh",
        "src",
    ]  # no temp left


def test_move_never_overwrites_or_moves_folders(box: Sandbox) -> None:
    with pytest.raises(ToolError, match="already exists"):
        box.move("notes.txt", "src/train.py")
    with pytest.raises(ToolError, match="is a folder"):
        box.move("src", "src2")
    assert box.move("notes.txt", "src/notes.txt") == ("notes.txt", "src/notes.txt")
    assert (box.root / "src" / "notes.txt").read_text() == "hello\n"


def test_tool_errors_are_results_not_crashes(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = tree
    toolbox = Toolbox(Sandbox(root), Journal(tmp_path / "j.sqlite3"))
    result = toolbox.run_read("read_file", {"file_path": "../outside/secret.txt"})
    assert not result.ok
    assert result.content.startswith("Error: ../outside/secret.txt: `..` leads outside")
    assert result.label == "read_file ../outside/secret.txt (refused)"
    assert not toolbox.run_read("read_file", {}).ok
    with pytest.raises(ToolError, match="move_file"):
        toolbox.access("delete_everything")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_stricter_than_langchain_community(tree: tuple[Path, Path]) -> None:
    """What FileManagementToolkit refuses we refuse; what it lets through we refuse too."""
    from langchain_community.agent_toolkits import FileManagementToolkit

    root, outside = tree
    tools = {t.name: t for t in FileManagementToolkit(root_dir=str(root)).get_tools()}
    box = Sandbox(root)
    for path in ("../outside/secret.txt", "/etc/hostname"):
        assert tools["read_file"].invoke({"file_path": path}).startswith("Error: Access denied")
        with pytest.raises(ToolError):
            box.read_text(path)
    os.link(outside / "secret.txt", root / "innocent.txt")
    assert tools["read_file"].invoke({"file_path": "innocent.txt"}) == SECRET  # it leaks
    with pytest.raises(ToolError, match="hard links"):
        box.read_text("innocent.txt")
