"""Odd inputs: missing, unreadable, empty, binary, huge, truncated, noisy logs."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.errors import LogNotReadableError
from adaptive_llm_local.triage import CATEGORIES, TriageResult, triage_file, triage_text

pytestmark = pytest.mark.hostile("garbage logs")

LOGS = Path(__file__).parent / "fixtures" / "logs"

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/scratch/u1/run_7/train.py", line 12, in <module>\n'
    "    import numpyx\n"
    "ModuleNotFoundError: No module named 'numpyx'\n"
)


def _valid(result: TriageResult) -> None:
    assert result.category in CATEGORIES
    json.dumps(result.to_json())
    if result.key_line is not None:
        assert result.key_line_number is not None
        assert result.has_line(result.key_line_number)
        assert len(result.key_line) <= 2100


# -- unreadable paths -------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "slurm-123.out"
    with pytest.raises(LogNotReadableError, match="not found") as info:
        triage_file(path)
    assert str(path) in str(info.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(LogNotReadableError, match="directory") as info:
        triage_file(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(LogNotReadableError, match="not a regular file"):
        triage_file(fifo)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "job.log"
    path.write_text("hello\n")

    real_open = os.open

    def denied(name: Any, *args: Any, **kwargs: Any) -> int:
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    # Root reads any file, so simulate the permission error at os.open (logs are opened
    # with os.open and O_NONBLOCK, see test_a_fifo_swapped_in_after_the_check_never_blocks).
    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(LogNotReadableError, match="permission denied") as info:
        triage_file(path)
    assert str(path) in str(info.value)


def test_a_fifo_swapped_in_after_the_check_never_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is a regular file when it is checked and a FIFO when it is opened."""
    path = tmp_path / "job.log"
    path.write_text("hello\n")
    real_stat = os.stat
    swapped: list[bool] = []

    def stat_then_swap(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(name, *args, **kwargs)
        if os.fspath(name) == str(path) and not swapped:
            swapped.append(True)
            path.unlink()
            os.mkfifo(path)
        return info

    monkeypatch.setattr(os, "stat", stat_then_swap)
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(triage_file(path))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # blocked in open(): be the writer it waits for, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail("triage blocked on a FIFO swapped in between stat and open")
    assert isinstance(outcome[0], LogNotReadableError), outcome
    assert "named pipe (FIFO), not a regular file" in str(outcome[0])


# -- odd content ------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    result = triage_file(path)
    assert result.category == "none"
    assert result.key_line is None
    assert "empty log" in result.notes
    assert result.size_bytes == 0
    _valid(result)


def test_binary_executable(tmp_path: Path) -> None:
    path = tmp_path / "ls.log"
    path.write_bytes(Path("/bin/ls").read_bytes())
    result = triage_file(path)
    _valid(result)
    assert any("binary" in note for note in result.notes)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.log"
    path.write_bytes(random.Random(1).randbytes(300_000))
    result = triage_file(path)
    _valid(result)
    assert result.category == "unknown"
    assert result.key_line is None
    assert any("binary" in note for note in result.notes)


def test_latin1_log(tmp_path: Path) -> None:
    path = tmp_path / "latin1.log"
    text = (
        "Démarrage du calcul à 10h\n"
        "Traceback (most recent call last):\n"
        '  File "/home/élève/données.py", line 3, in <module>\n'
        "    open('données.txt')\n"
        "FileNotFoundError: [Errno 2] No such file or directory: 'données.txt'\n"
    )
    path.write_bytes(text.encode("latin-1"))
    result = triage_file(path)
    assert result.category == "file_error"
    assert (
        result.key_line == "FileNotFoundError: [Errno 2] No such file or directory: 'données.txt'"
    )
    assert not any("binary" in note for note in result.notes)


def test_single_huge_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "oneline.log"
    path.write_bytes(b"x" * (5 * 1024 * 1024))
    start = time.perf_counter()
    result = triage_file(path)
    assert time.perf_counter() - start < 2
    _valid(result)
    assert result.category == "none"
    assert result.truncated
    assert all(len(ev.text) <= 2100 for ev in result.context)


def test_huge_line_then_traceback(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(b"y" * 300_000 + b"\n" + TRACEBACK.encode())
    result = triage_file(path)
    assert result.category == "missing_module"
    assert result.key_line == "ModuleNotFoundError: No module named 'numpyx'"
    assert result.key_line_number == 5


def test_truncated_mid_traceback_fixture() -> None:
    result = triage_file(LOGS / "unknown/truncated_traceback.log")
    assert result.category == "unknown"
    assert result.key_line is not None and result.key_line.startswith('  File "')
    assert any("cut" in note for note in result.notes)


def test_cut_mid_traceback_text() -> None:
    text = "step 1\n" + TRACEBACK.rsplit("\n", 3)[0] + "\n    imp"
    result = triage_text(text)
    assert result.category == "unknown"
    assert result.exception is None
    _valid(result)


def test_warnings_and_printed_traceback_word_are_not_failures() -> None:
    text = (
        "/home/u/fit.py:6: DeprecationWarning: the 'tol' argument is deprecated\n"
        "  warnings.warn(\n"
        "/home/u/fit.py:7: UserWarning: only 3 of 5 workers started\n"
        "RuntimeWarning: divide by zero encountered in log\n"
        "tip: 'Traceback (most recent call last):' means the program crashed\n"
        "relative error: 1e-5\n"
        "errors: 0\n"
        "done\n"
    )
    result = triage_text(text)
    assert result.category == "none", result.to_json()


def test_header_alone_without_frames_is_not_a_traceback() -> None:
    text = "print example:\nTraceback (most recent call last):\nthat was an example\nok\n"
    assert triage_text(text).category == "none"


def test_warnings_before_and_epilogue_after_error() -> None:
    text = (
        "/a/b.py:1: FutureWarning: something changes\n"
        + TRACEBACK
        + "cleanup: removing scratch\n"
        + "Job 123 epilogue: exit code 1\n"
        + "slurmstepd: error: *** some other message ***\n"
    )
    result = triage_text(text)
    assert result.category == "missing_module"
    assert result.key_line == "ModuleNotFoundError: No module named 'numpyx'"


def test_ansi_and_carriage_returns() -> None:
    text = (
        "\x1b[32mINFO\x1b[0m starting\n"
        "\r 10%|#   |\r 50%|##  |\r 90%|### |Traceback (most recent call last):\n"
        '  File "/w/x.py", line 2, in <module>\n'
        "    f()\n"
        "\x1b[31mValueError: bad \x1b[1mvalue\x1b[0m\r\n"
    )
    result = triage_text(text)
    assert result.category == "python_exception"
    assert result.key_line == "ValueError: bad value"
    assert "\x1b" not in json.dumps(result.to_json())


def test_interleaved_stdout_inside_traceback() -> None:
    text = (
        "Traceback (most recent call last):\n"
        "heartbeat 3\n"
        '  File "/w/grad.py", line 23, in <module>\n'
        "    gradient(5)\n"
        "heartbeat 4\n"
        '  File "/w/grad.py", line 20, in gradient\n'
        '    heartbeat 5raise FloatingPointError("NaN")\n'
        "FloatingPointError\n"
        ": NaN in gradient\n"
    )
    result = triage_text(text)
    assert result.category == "python_exception"
    assert result.exception == "FloatingPointError"


def test_srun_label_and_rank_prefixes() -> None:
    text = (
        "0: Traceback (most recent call last):\n"
        '0:   File "/w/x.py", line 1, in <module>\n'
        "0:     import foo\n"
        "0: ModuleNotFoundError: No module named 'foo'\n"
        "srun: error: node12: task 0: Exited with exit code 1\n"
    )
    result = triage_text(text)
    assert result.category == "missing_module"
    assert result.key_line == "0: ModuleNotFoundError: No module named 'foo'"


def test_key_line_for_chained_exceptions_is_the_root() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/w/a.py", line 3, in read\n'
        "    return d[k]\n"
        "KeyError: 'temperature'\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "/w/a.py", line 9, in <module>\n'
        "    read(d, 'temperature')\n"
        "RuntimeError: parameter 'temperature' missing\n"
    )
    result = triage_text(text)
    assert (result.category, result.exception) == ("python_exception", "KeyError")
    assert result.key_line_number == 4
    assert any("root cause" in note for note in result.notes)


def test_slurm_line_wins_over_later_traceback() -> None:
    text = (
        "step 1\n"
        "slurmstepd: error: *** JOB 77 ON nid0001 CANCELLED AT 2025-01-01T00:00:00 "
        "DUE TO TIME LIMIT ***\n"
        "Traceback (most recent call last):\n"
        '  File "/w/a.py", line 3, in <module>\n'
        "    time.sleep(1)\n"
        "KeyboardInterrupt\n"
    )
    result = triage_text(text)
    assert result.category == "time_limit"
    assert result.key_line_number == 2
    assert any(ev.text == "KeyboardInterrupt" for ev in result.evidence)


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("slurmstepd: error: *** JOB 5 ON n1 CANCELLED AT 2025-01-01T00:00:00 ***", "cancelled"),
        ("srun: error: Node failure on node042", "node_failure"),
        ("Killed", "out_of_memory"),
        ("/var/spool/slurmd/job01/slurm_script: line 9: 123 Killed  python x.py", "out_of_memory"),
        ("srun: error: c12: task 0: Out Of Memory", "out_of_memory"),
        ("RuntimeError: CUDA error: no CUDA-capable device is detected", "gpu_error"),
        ("bash: line 1: 12 Segmentation fault (core dumped) ./a.out", "segfault"),
        ("*** MPI_ERR_COMM: invalid communicator", "mpi_error"),
        ("OSError: [Errno 122] Disk quota exceeded", "file_error"),
        ("cp: error writing 'out.h5': No space left on device", "file_error"),
        ("srun: error: n1: task 3: Exited with exit code 2", "unknown"),
        (
            "Lmod has detected the following error: The following module(s) are unknown: x",
            "missing_module",
        ),
        ("all good", "none"),
    ],
)
def test_single_lines(line: str, category: str) -> None:
    result = triage_text(f"starting\n{line}\n")
    assert result.category == category, result.to_json()
    if category != "none":
        assert result.key_line == line
        assert result.key_line_number == 2


# -- size does not matter -------------------------------------------------------------


def _write_log(path: Path, size: int) -> None:
    """A log of ``size`` bytes: real lines at both ends, sparse zeros in between."""
    head = "".join(f"iteration {i}: loss {1 / (i + 1):.5f}\n" for i in range(20_000)).encode()
    tail = head + TRACEBACK.encode()
    with open(path, "wb") as fh:
        fh.write(head[: size // 2])
        if size > len(head) + len(tail):
            fh.truncate(size - len(tail))
            fh.seek(size - len(tail))
        fh.write(tail[-(size - size // 2) :] if size < len(head) + len(tail) else tail)


def _timed(path: Path) -> tuple[float, TriageResult]:
    best = float("inf")
    result = None
    for _ in range(3):
        start = time.perf_counter()
        result = triage_file(path)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def test_gigabyte_log_is_as_fast_as_a_megabyte_log(tmp_path: Path) -> None:
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    _write_log(small, 1024 * 1024)
    _write_log(big, 1536 * 1024 * 1024)
    assert big.stat().st_size == 1536 * 1024 * 1024

    t_small, r_small = _timed(small)
    t_big, r_big = _timed(big)
    for result in (r_small, r_big):
        assert result.category == "missing_module"
        assert result.key_line == "ModuleNotFoundError: No module named 'numpyx'"
        assert result.truncated
        assert result.key_line_number == -1
    assert r_big.signature == r_small.signature
    assert any("middle" in note for note in r_big.notes)
    assert t_big < 2 * t_small + 0.05, (t_small, t_big)

    tracemalloc.start()
    triage_file(big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, peak
    print(
        f"\ntriage 1 MB: {t_small * 1000:.1f} ms, 1.5 GB: {t_big * 1000:.1f} ms, "
        f"peak {peak / 2**20:.1f} MiB"
    )


def test_tail_numbers_are_negative_and_head_positive(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_text("".join(f"line {i}\n" for i in range(1, 200_001)) + TRACEBACK)
    result = triage_file(path, head_bytes=1024, tail_bytes=4096)
    assert result.truncated
    assert result.key_line_number == -1
    assert result.has_line(1) and result.has_line(-1)
    assert not result.has_line(100_000)
    assert result.context[0].line < 0


# -- never crash --------------------------------------------------------------------------


def _fixture_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(LOGS.rglob("*.log")):
        lines += path.read_text(errors="replace").splitlines()
    return lines


def test_fuzz_random_mixtures_of_real_lines() -> None:
    rng = random.Random(42)
    lines = _fixture_lines()
    noise = ["", "\x1b[31m", "\r", "\x00", "\t", "Traceback (most recent call last):", "  File"]
    for _ in range(300):
        picked = rng.choices(lines, k=rng.randint(0, 60))
        picked = [p + rng.choice(noise) if rng.random() < 0.2 else p for p in picked]
        result = triage_text("\n".join(picked))
        _valid(result)
        if result.key_line is not None:
            assert result.key_line in {ev.text for ev in result.context} | {result.key_line}


def test_fuzz_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = [line.encode() for line in _fixture_lines()]
    for i in range(60):
        chunks = [
            rng.randbytes(rng.randint(0, 300)) if rng.random() < 0.5 else rng.choice(lines) + b"\n"
            for _ in range(rng.randint(0, 40))
        ]
        path = tmp_path / f"fuzz{i}.log"
        path.write_bytes(b"".join(chunks))
        _valid(triage_file(path, head_bytes=rng.randint(1, 4096), tail_bytes=rng.randint(1, 4096)))


def test_exception_ignored_at_shutdown_is_not_the_failure() -> None:
    text = (
        "result written\n"
        "Exception ignored in: <function Pool.__del__ at 0x7f00>\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/multiprocessing/pool.py", line 268, in __del__\n'
        "ValueError: I/O operation on closed file\n"
    )
    assert triage_text(text).category == "none"


def test_adaptive_scheduler_json_log_runner_failed() -> None:
    text = (
        '{"event": "current status", "npoints": 10, "timestamp": "2025-01-01 10:00.00"}\n'
        '{"event": "runner status changed", "status": "failed", "timestamp": "2025-01-01 10:01.00"}\n'
    )
    result = triage_text(text)
    assert result.category == "unknown"
    assert result.key_line_number == 2


def test_exception_group_root_is_first_leaf(tmp_path: Path) -> None:
    script = tmp_path / "group.py"
    script.write_text(
        "def f():\n"
        "    raise ExceptionGroup('several', [ValueError('bad sample 3'), KeyError('lr')])\n"
        "f()\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ).stdout
    result = triage_text(out)
    assert (result.category, result.exception) == ("python_exception", "ValueError")
    assert result.key_line is not None and result.key_line.endswith("ValueError: bad sample 3")
