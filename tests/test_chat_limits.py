"""The chat on hostile files and damaged state (issue 16, item 8).

``/read FILE:N`` on a 1 GiB single-line file reads a bounded window and says how long
the line is; the chat's SQLite files damaged, truncated, replaced by garbage, empty or
read-only give one line naming the file and what to do; a thread title is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adaptive_llm_local.agent.databases import DatabaseUnusableError
from adaptive_llm_local.agent.graph_store import thread_ids
from adaptive_llm_local.agent.journal import Journal

pytestmark = pytest.mark.hostile("chat limits and databases")

GIB = 1024**3
MAX_RSS_MB = 100


# --- /read on a 1 GiB single line ---------------------------------------------------------


@pytest.fixture
def one_line_gib(tmp_path: Path) -> Path:
    """A sparse 1 GiB file: 16 KiB of text, then holes (NUL bytes), no newline at all."""
    root = tmp_path / "run"
    root.mkdir()
    big = root / "big.txt"
    with big.open("wb") as fh:
        fh.write(b"x" * 16384)
    os.truncate(big, GIB)
    return root


def _read_in_child(root: Path, args: str) -> tuple[str, int]:
    """``read_file`` in a child capped at 1.5 GiB of address space: the header line, the
    length of the text shown; fails when the read grew the peak RSS or Python's own
    allocations by ``MAX_RSS_MB``."""
    code = textwrap.dedent(
        f"""
        import resource, sys, tracemalloc
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
        from adaptive_llm_local.agent.sandbox import Sandbox
        from adaptive_llm_local.agent.tools import render_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        text = Sandbox({str(root)!r}).read_text("big.txt", {args})
        content, label = render_file(text)
        peak = tracemalloc.get_traced_memory()[1]
        print(content.splitlines()[0])
        print(len(text.text))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, peak // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-1500:]
    header, length, memory = done.stdout.splitlines()[-3:]
    rss_kb, traced_kb = map(int, memory.split())
    assert rss_kb < MAX_RSS_MB * 1024, f"peak RSS grew by {rss_kb // 1024} MB"
    assert traced_kb < MAX_RSS_MB * 1024, f"Python allocated {traced_kb // 1024} MB at peak"
    return header, int(length)


def test_read_line_1_of_a_gib_single_line_file_is_bounded_and_says_so(one_line_gib: Path) -> None:
    """Fails on the original code: it read the whole line (MemoryError under the cap,
    2.5 GB without it) and then said the file had 1 line."""
    header, length = _read_in_child(one_line_gib, "1, 1")
    assert f"line 1 is {GIB} characters long; showing its first 262144" in header
    assert length == 262144


def test_read_without_a_range_and_the_tail_of_a_gib_line(one_line_gib: Path) -> None:
    header, length = _read_in_child(one_line_gib, "")
    assert f"line 1 is {GIB} characters long" in header and length == 262144
    header, length = _read_in_child(one_line_gib, "-5")
    assert "the last line is longer than" in header and 0 < length <= 262144


def test_a_line_past_the_scan_limit_says_so(one_line_gib: Path) -> None:
    from adaptive_llm_local.agent.errors import ToolError
    from adaptive_llm_local.agent.sandbox import Sandbox

    with pytest.raises(ToolError, match="line 2 is not within the first"):
        Sandbox(one_line_gib).read_text("big.txt", 2, 3)


def test_long_lines_among_short_ones(tmp_path: Path) -> None:
    from adaptive_llm_local.agent.sandbox import Limits, Sandbox

    (tmp_path / "mixed.txt").write_bytes(b"a\n" + b"y" * 5000 + b"\nc\nd")
    box = Sandbox(tmp_path, Limits(read_bytes=1000))
    long = box.read_text("mixed.txt", 2, 4)
    assert long.note == "line 2 is 5000 characters long; showing its first 1000"
    assert long.text == "y" * 1000 and long.truncated
    assert box.read_text("mixed.txt", 3, 4).text == "c\nd"
    assert box.read_text("mixed.txt", 1, 1).text == "a\n"
    tail = box.read_text("mixed.txt", -3)
    assert tail.text == "c\nd" and tail.truncated  # the cut line did not fit in the cap
    with pytest.raises(Exception, match=r"has no line 5 \(it has 4 lines\)"):
        box.read_text("mixed.txt", 5, 5)


# --- the chat's databases -----------------------------------------------------------------


def _damaged(path: Path, kind: str) -> None:
    """Make ``path`` a damaged SQLite file of the given kind."""
    if kind == "garbage":
        path.write_bytes(os.urandom(8192))
    elif kind == "text":
        path.write_text("this is not a database\n" * 100)
    elif kind in ("truncated", "corrupt-pages"):
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("z" * 500,) for _ in range(400)])
        db.commit()
        db.close()
        data = bytearray(path.read_bytes())
        if kind == "truncated":
            path.write_bytes(data[: len(data) // 3])
        else:
            for offset in range(4096 * 2, len(data), 4096):
                data[offset : offset + 64] = os.urandom(64)
            path.write_bytes(bytes(data))
    elif kind == "header-only":
        path.write_bytes(b"SQLite format 3\x00" + os.urandom(84))


DAMAGES = ("garbage", "text", "truncated", "corrupt-pages", "header-only")


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_journal_is_one_line_naming_the_file(tmp_path: Path, kind: str) -> None:
    """Fails on the original code: sqlite3.DatabaseError escaped as a traceback."""
    path = tmp_path / "agent.sqlite3"
    _damaged(path, kind)
    before = path.read_bytes()
    with pytest.raises(DatabaseUnusableError) as caught:
        Journal(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "Move it aside" in message
    assert "undo backups" in message
    assert path.read_bytes() == before  # nothing was written to it


@pytest.mark.parametrize("kind", ("garbage", "text", "header-only"))
def test_listing_threads_of_a_damaged_checkpoint_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "threads.sqlite3"
    _damaged(path, kind)
    with pytest.raises(DatabaseUnusableError, match="Move it aside"):
        thread_ids(path)


def test_an_empty_journal_file_is_a_new_journal(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite3"
    path.write_bytes(b"")
    Journal(path).close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM audit").fetchone() == (0,)


def test_a_read_only_journal_says_so(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files; the read-only folder case below covers it")
    path = tmp_path / "agent.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o400)
    with pytest.raises(DatabaseUnusableError, match="read-only"):
        Journal(path)


def test_a_journal_on_a_read_only_mount_says_so(tmp_path: Path) -> None:
    """A read-only file system: refused for root too (``mount -o ro``)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k,ro", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        with pytest.raises(DatabaseUnusableError) as caught:
            Journal(folder / "agent.sqlite3")
        assert "\n" not in str(caught.value)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(path: Path) -> None:
    """Write to ``path`` until the file system is full, to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def test_a_full_disk_says_so_and_touches_nothing(tmp_path: Path) -> None:
    """A 300 KiB tmpfs filled to the last byte, then the journal is created on it."""
    folder = tmp_path / "full"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        keep = folder / "notes.txt"
        keep.write_text("the user's notes\n")
        _fill(folder / "filler")
        with pytest.raises(DatabaseUnusableError) as caught:
            Journal(folder / "agent" / "agent.sqlite3")
        assert "disk is full" in str(caught.value) and "\n" not in str(caught.value)
        assert keep.read_text() == "the user's notes\n"
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# --- the widget's thread title ------------------------------------------------------------


def test_the_thread_title_is_escaped() -> None:
    """Fails on the original code: the job id went into the title's HTML as it was."""
    pytest.importorskip("ipywidgets")
    from test_widget_logic import ScriptedChat

    from adaptive_llm_local.widget import chat_widget

    chat = chat_widget(ScriptedChat(), refresh_interval=0)
    hostile = '<img src=x onerror="alert(1)">\u202e'
    chat.open_thread(hostile)
    assert "<img" not in chat.title.value
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;\\u202e" in chat.title.value
