"""``adaptive-llm-local chat`` with damaged or unwritable state (issue 16, item 8).

A damaged ``threads.sqlite3`` or ``agent.sqlite3`` and a full disk under
``ADAPTIVE_LLM_HOME`` end the session with one line naming the file and what to do,
exit code 2, no traceback, and the user's files untouched.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings

pytestmark = pytest.mark.hostile("chat limits and databases")


def chat(stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", "chat", "--no-index"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        timeout=600,
        check=False,
    )


def _one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout[-800:], done.stderr[-1500:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-1500:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    hits = [line for line in lines if all(n in line for n in needles)]
    assert hits, (needles, done.stderr[-1500:])


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    root.mkdir()
    (root / "train.py").write_text("x = 1\n")
    return root


@pytest.mark.parametrize("name", ["threads.sqlite3", "agent.sqlite3"])
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_chat_database_is_one_line_and_exit_2(
    home: Path, run_folder: Path, name: str, damage: str
) -> None:
    """Fails on the original code (a sqlite3.DatabaseError traceback)."""
    state = Settings.from_env().index_path / "agent"
    state.mkdir(parents=True, exist_ok=True)
    path = state / name
    if damage == "garbage":
        path.write_bytes(os.urandom(16384))
    else:
        import sqlite3

        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("z" * 500,) for _ in range(400)])
        db.commit()
        db.close()
        path.write_bytes(path.read_bytes()[:20000])
    before = path.read_bytes()
    done = chat("hello\n", run_folder)
    _one_line_refusal(done, str(path), "Move it aside")
    assert path.read_bytes() == before
    assert (run_folder / "train.py").read_text() == "x = 1\n"


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[None]:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def test_chat_on_a_full_disk_says_so(
    home: Path, run_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADAPTIVE_LLM_HOME on a 300 KiB tmpfs filled to the last byte: one line, exit 2."""
    full = tmp_path / "full"
    with _tmpfs(full, "300k"):
        mine = full / "notes.txt"
        mine.write_text("the user's notes\n")
        _fill(full / "filler")
        monkeypatch.setenv("ADAPTIVE_LLM_HOME", str(full))
        done = chat("hello\n", run_folder)
        _one_line_refusal(done, "disk is full")
        assert mine.read_text() == "the user's notes\n"
        assert (run_folder / "train.py").read_text() == "x = 1\n"
