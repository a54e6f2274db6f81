"""``adaptive-llm-local chat`` in a subprocess, driven line by line through standard input."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive_llm_local.cli.chat import parse_decision
from adaptive_llm_local.config import Settings
from adaptive_llm_local.diagnose import Diagnoser
from adaptive_llm_local.manager import DiagnosisStore
from adaptive_llm_local.testing import ScriptedModel, good_answer
from adaptive_llm_local.triage import triage_file

TABS = "def f(x):\n    if x:\n        y = 1\n\treturn 1\n"
FIXED = "def f(x):\n    if x:\n        y = 1\n    return 1\n"


def failed_job(root: Path) -> Path:
    root.mkdir()
    (root / "tabs.py").write_text(TABS)
    log = root / "job-7.out"
    log.write_text(
        "Traceback (most recent call last):\n"
        f'  File "{root}/tabs.py", line 4\n'
        "    return 1\n"
        "TabError: inconsistent use of tabs and spaces in indentation\n"
    )
    return log


def chat(args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", "chat", "--no-index", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


def audit_events(home: Path) -> list[tuple[str, str]]:
    db = Settings.from_env().index_path / "agent" / "agent.sqlite3"
    assert str(db).startswith(str(home))
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT event, actor FROM audit ORDER BY id").fetchall()


def test_chat_from_a_stored_diagnosis_fix_approved_with_y(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    log = failed_job(root)
    diagnosis = Diagnoser(
        ScriptedModel([good_answer("Line 4 mixes tabs and spaces.", "Use spaces.")])
    ).diagnose(triage_file(log))
    store = DiagnosisStore(Settings.from_env().database_path)
    store.put_occurrence(
        "notebook-run", "7", job_id="7", job_name="fit-0", log_path=str(log),
        status="diagnosed", diagnosis=diagnosis,
    )  # fmt: skip

    done = chat(["--job", "7"], "/fix\ny\n/read tabs.py:4\n", cwd=root)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "thread 7" in out and "diagnosis of job 7" in out  # seeded from the stored one
    assert "TabError" in out and "tabs.py (lines 1-4)" in out  # the log, the failing code
    assert re.search(r"^-\s+return 1$", out, re.M) and "\n+    return 1\n" in out  # the diff
    assert "apply? [y/n/a] y" in out
    assert out.index("+    return 1") < out.index("apply?")
    assert (root / "tabs.py").read_text() == FIXED
    assert "Edited tabs.py" in out
    assert audit_events(home) == [
        ("proposed", "command"),
        ("approved", "user"),
        ("applied", "approved"),
    ]


def test_chat_diagnoses_a_log_and_a_denied_fix_writes_nothing(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    log = failed_job(root)
    done = chat(["--log", str(log), "--root", str(root)], "/fix\nmaybe\nn\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "thread job-7" in done.stdout and "diagnosis of job job-7" in done.stdout
    assert "y = apply, n = reject" in done.stdout  # "maybe" is asked again
    assert "Denied by the user" in done.stdout
    assert (root / "tabs.py").read_text() == TABS
    assert [e for e, _ in audit_events(home)] == ["proposed", "denied"]


def test_chat_refuses_a_job_without_a_stored_diagnosis(home: Path, tmp_path: Path) -> None:
    done = chat(["--job", "404"], "", cwd=tmp_path)
    assert done.returncode != 0
    assert "no stored diagnosis of job 404" in done.stderr and "--log" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("answer", "hunks", "decision"),
    [
        ("y", 1, {"approve": True}),
        (" No ", 1, {"approve": False}),
        ("a", 1, {"approve": True, "always": "path"}),
        ("1, 3", 3, {"approve": True, "hunks": [1, 3]}),
        ("3 1 3", 3, {"approve": True, "hunks": [1, 3]}),
        ("4", 3, None),
        ("1", 1, None),
        ("sure", 2, None),
    ],
)
def test_approval_answers(answer: str, hunks: int, decision: dict | None) -> None:
    assert parse_decision(answer, hunks) == decision
