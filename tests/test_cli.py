"""The command line as a user runs it (subprocesses, real model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from adaptive_llm_local.runtime import gpu_offload_supported

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=300,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    done = cli("--help")
    assert done.returncode == 0
    for command in ("triage", "diagnose", "doctor", "ask"):
        assert command in done.stdout


def test_triage_json_has_the_documented_shape() -> None:
    done = cli("triage", str(FIXTURES / "time_limit" / "batch_sleep_loop.log"), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"category", "key_line", "exception", "signature", "evidence"} <= set(data)
    assert data["category"] == "time_limit"
    assert all(set(e) == {"line", "text"} for e in data["evidence"])


def test_triage_human_output(home: Path) -> None:
    done = cli("triage", str(FIXTURES / "missing_module" / "numpyx.log"))
    assert done.returncode == 0
    assert "missing_module" in done.stdout and "numpyx" in done.stdout


def test_doctor_reports_model_checksum_offload_and_index(home: Path, model_path: Path) -> None:
    done = cli("doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    rows = dict(report["rows"])
    assert rows["model"] == str(model_path)
    assert rows["sha256"].startswith("b179c952") and "matches" in rows["sha256"]
    assert rows["GPU offload available"] is gpu_offload_supported()
    assert rows["GPU offload active"] is (
        gpu_offload_supported() and rows["GPU layers used"] != "0"
    )
    assert rows["context size (n_ctx)"] == 4096
    assert str(home / "index") in rows["index"]
    assert report["model"]["loaded"] is True


def test_doctor_with_a_missing_model_fails_clearly(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ADAPTIVE_LLM_MODEL": str(tmp_path / "missing.gguf")}
    done = cli("doctor", env=env)
    assert done.returncode == 1
    assert "missing.gguf" in done.stdout and "make models" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_ask_without_index_answers_from_the_model(home: Path) -> None:
    done = cli("ask", "What does SLURM's --time option do?", "--no-index", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"].strip() and answer["sources"] == [] and answer["cited"] == []
