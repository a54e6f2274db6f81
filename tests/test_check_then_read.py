"""What is checked is what is read (issue 16, item 3).

``index add`` checks a log without following links and must then read that same open
file: a name swapped for a link to a private file outside the roots, between the check
and the read, is never followed. The swaps here are real: a thread flips the name
between a regular file and a link in a tight loop, and hooks swap it at the worst moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.retrieval import files
from adaptive_llm_local.retrieval.files import iter_candidates
from adaptive_llm_local.retrieval.ingest import IngestReport, NullProgress, plan_files
from adaptive_llm_local.triage import triage_file

pytestmark = pytest.mark.hostile("check-then-read swaps")

SECRET = "PRIVATE-KEY-OF-ANOTHER-USER-51c9"
SECRET_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/home/other/secret.py", line 1, in <module>\n'
    f"RuntimeError: {SECRET}\n"
)
PLAIN_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/scratch/run/learner.py", line 3, in <module>\n'
    "ModuleNotFoundError: No module named 'numpy'\n"
)
RACE_ROUNDS = 300


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A root with one log, and outside it a ``0600`` failing log holding the secret."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "job.log"
    secret.write_text(SECRET_LOG)
    secret.chmod(0o600)
    log = root / "job.log"
    log.write_text(PLAIN_LOG)
    return {"root": root, "outside": outside, "secret": secret, "log": log}


def _planned_text(paths: list[Path]) -> str:
    report = IngestReport()
    plans = plan_files(iter_candidates(paths), triage_file, report, NullProgress())
    entries = [e for plan in plans.values() for e in plan.entries]
    return json.dumps([[e.document, e.metadata, e.embed_text] for e in entries], default=str)


def _swap_for_link(path: Path, target: Path) -> None:
    link = path.with_name(path.name + ".swap")
    link.symlink_to(target)
    os.replace(link, path)


# --- deterministic: the swap happens right after the check --------------------------------


def test_a_log_swapped_for_a_link_after_the_check_is_read_from_the_checked_file(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sniff of the opened file is the last check; right after it the name becomes a
    link to the private file. Fails on the original code (triage reopened the name)."""
    real = files.looks_binary
    swapped: list[bool] = []

    def check_then_swap(sample: bytes) -> bool:
        verdict = real(sample)
        if not swapped:
            _swap_for_link(layout["log"], layout["secret"])
            swapped.append(True)
        return verdict

    monkeypatch.setattr(files, "looks_binary", check_then_swap)
    text = _planned_text([layout["root"]])
    assert swapped, "the hook did not run: the test no longer swaps between check and read"
    assert SECRET not in text
    assert "numpy" in text  # the checked file itself was triaged


def test_a_folder_swapped_for_a_link_during_the_walk_is_not_read(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder found as a folder becomes a link to the outside folder just before it is
    listed: its files are not the ones inside the root and are refused when opened."""
    sub = layout["root"] / "sub"
    sub.mkdir()
    (sub / "job.log").write_text(PLAIN_LOG)
    real = os.scandir
    swapped: list[bool] = []

    def swap_then_scan(path: Any = ".") -> Any:
        if isinstance(path, str) and path == str(sub) and not swapped:
            moved = sub.with_name("sub.real")
            os.rename(sub, moved)
            sub.symlink_to(layout["outside"], target_is_directory=True)
            swapped.append(True)
        return real(path)

    monkeypatch.setattr(files.os, "scandir", swap_then_scan)
    text = _planned_text([layout["root"]])
    assert swapped
    assert SECRET not in text


# --- a real race: a thread flips the name in a tight loop ---------------------------------


_FLIP = """
import os, sys
log, secret, counter = sys.argv[1:4]
plain, link = log + ".plain", log + ".link"
body = open(log).read()
flips = 0
while True:
    with open(plain, "w") as fh:
        fh.write(body)
    os.replace(plain, log)
    os.symlink(secret, link)
    os.replace(link, log)
    flips += 1
    if flips % 8 == 0:
        with open(counter + ".tmp", "w") as fh:
            fh.write(str(flips))
        os.replace(counter + ".tmp", counter)
"""


@pytest.fixture
def flipper(layout: dict[str, Path], tmp_path: Path) -> Iterator[Path]:
    """A child process flipping ``root/job.log`` between a regular file and a link to the
    secret as fast as it can (a process, so it runs beside the test, not between its steps)."""
    counter = tmp_path / "flips"
    child = subprocess.Popen(
        [sys.executable, "-c", _FLIP, str(layout["log"]), str(layout["secret"]), str(counter)]
    )
    try:
        while not counter.exists():
            assert child.poll() is None, "the flipper died"
            time.sleep(0.01)
        yield counter
    finally:
        child.kill()
        child.wait(10)


def _flips(counter: Path) -> int:
    return int(counter.read_text() or 0)


def test_a_racing_flip_never_plans_the_secret(layout: dict[str, Path], flipper: Path) -> None:
    """Hundreds of plans (two seconds at least) while the name flips: some find the plain
    log, none the secret. Fails on the original code within a few rounds."""
    indexed = rounds = 0
    began, first = time.monotonic(), _flips(flipper)
    while rounds < RACE_ROUNDS or time.monotonic() - began < 2:
        text = _planned_text([layout["root"]])
        assert SECRET not in text, f"the secret was planned in round {rounds}"
        indexed += "numpy" in text
        rounds += 1
    assert _flips(flipper) > first, "the flipper did not race"
    assert indexed > 0, "no round indexed the plain log: the race was not exercised"


def test_a_racing_flip_never_stores_the_secret_in_the_index(
    home: Path, layout: dict[str, Path], flipper: Path, tmp_path: Path
) -> None:
    """``index add`` on a real index in subprocesses while the name flips; then every
    stored record is read back."""
    pytest.importorskip("chromadb")
    env = {**os.environ, "ADAPTIVE_LLM_INDEX_DIR": str(tmp_path / "index")}
    code = (
        "import sys\n"
        "from adaptive_llm_local.config import Settings\n"
        "from adaptive_llm_local.retrieval import Index\n"
        "index = Index(Settings.from_env())\n"
        "try:\n"
        "    for _ in range(int(sys.argv[2])):\n"
        "        index.add_paths([sys.argv[1]])\n"
        "    with index.session():\n"
        "        rows = []\n"
        "        for kind in ('failures', 'docs'):\n"
        "            table = index._table(kind, create=False)\n"
        "            if table is not None:\n"
        "                rows += [[r.document, r.metadata] for p in table.iter_all() for r in p]\n"
        "    print(repr(rows))\n"
        "finally:\n"
        "    index.close()\n"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code, str(layout["root"]), "200"],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert SECRET not in done.stdout and SECRET not in done.stderr
    assert "numpy" in done.stdout, "the plain log never made it into the index"
    assert _flips(flipper) > 8
    for path in (tmp_path / "index").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
