"""Settings and the files they point at (issue 10, item 9).

A bad ``ADAPTIVE_LLM_*`` value is one clear line in every front end (the CLI, the demo,
``info()``, ``attach`` in a notebook); numbers out of range name the setting, not the
model file; more threads than cores are capped (said once); ``MAX_TOKENS`` bounds every
answer; a model path that is a folder, a device or a FIFO says so without opening it; an
empty or garbage ``chroma.sqlite3`` is an error naming the file, never a silently empty index.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_llm_local import config
from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings, usable_cores
from adaptive_llm_local.errors import ConfigError, IndexUnavailableError, ModelCorruptError
from adaptive_llm_local.gguf import read_shape
from adaptive_llm_local.models import ModelFile, check_header, resolve_chat_model
from adaptive_llm_local.retrieval import Index
from adaptive_llm_local.runtime import LocalModel
from adaptive_llm_local.runtime.context_check import check_context_fits
from adaptive_llm_local.runtime.preflight_plan import LoadPlan
from adaptive_llm_local.triage import triage_text

pytestmark = pytest.mark.hostile("settings and model files")

LOG = (
    "Traceback (most recent call last):\n"
    '  File "/scratch/run/learner.py", line 3, in <module>\n'
    "    import numpy as np\n"
    "ModuleNotFoundError: No module named 'numpy'\n"
)
NUMERIC = (
    "N_CTX",
    "MAX_TOKENS",
    "THREADS",
    "N_GPU_LAYERS",
    "SEED",
    "INDEX_LOCK_TIMEOUT",
    "PREFLIGHT_TIMEOUT",
    "INDEX_MAX_DISTANCE",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in [n for n in os.environ if n.startswith("ADAPTIVE_LLM_")]:
        if name != "ADAPTIVE_LLM_CACHE_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ADAPTIVE_LLM_HOME", str(tmp_path / "home"))
    yield


def run(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400", **env},
        timeout=timeout,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The process failed with exit code 2 and exactly one line on stderr that says it."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    # On a CPU whose llama.cpp faults (AMX), the start-up check's own note may come first.
    lines = [
        line
        for line in done.stderr.strip().splitlines()
        if "in a start-up check; using safe settings instead" not in line
    ]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- values that are not numbers, or out of range ---------------------------------------


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("name", NUMERIC)
def test_a_value_that_is_not_a_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(f"ADAPTIVE_LLM_{name}", "abc")
    with pytest.raises(ConfigError, match=f"ADAPTIVE_LLM_{name} must be"):
        Settings.from_env()


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("N_CTX", "-1"),
        ("N_CTX", "0"),
        ("N_CTX", "99999999999"),
        ("MAX_TOKENS", "0"),
        ("MAX_TOKENS", "-5"),
        ("MAX_TOKENS", "5000"),  # more than the default context window
        ("THREADS", "0"),
        ("THREADS", "-4"),
        ("N_GPU_LAYERS", "-2"),
        ("SEED", "-7"),
        ("INDEX_LOCK_TIMEOUT", "nan"),
        ("INDEX_LOCK_TIMEOUT", "-1"),
        ("PREFLIGHT_TIMEOUT", "0"),
        ("PREFLIGHT_TIMEOUT", "inf"),
        ("INDEX_MAX_DISTANCE", "1,2,3,4"),
    ],
)
def test_a_number_out_of_range_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ADAPTIVE_LLM_{name}", value)
    with pytest.raises(ConfigError, match=f"ADAPTIVE_LLM_{name}") as info:
        Settings.from_env()
    assert "model" not in str(info.value).lower() or name == "MAX_TOKENS"


@pytest.mark.usefixtures("clean_env")
def test_an_option_given_wins_over_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_N_CTX", "-1")
    assert Settings.from_env(n_ctx=2048).n_ctx == 2048
    with pytest.raises(ConfigError, match="--n-ctx"):
        Settings.from_env(n_ctx=0)


@pytest.mark.parametrize("name", ["N_CTX", "MAX_TOKENS", "THREADS"])
@pytest.mark.parametrize("value", ["abc", "-1"])
def test_the_cli_says_it_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    log = tmp_path / "job.log"
    log.write_text(LOG)
    done = run(
        ["-m", "adaptive_llm_local.cli", "diagnose", str(log)],
        {"ADAPTIVE_LLM_HOME": str(tmp_path), f"ADAPTIVE_LLM_{name}": value},
    )
    one_error_line(done, f"ADAPTIVE_LLM_{name}")


def test_the_demo_says_it_in_one_line(tmp_path: Path) -> None:
    done = run(
        ["-m", "adaptive_llm_local.demo", "--no-isolation", "--workdir", str(tmp_path / "run")],
        {"ADAPTIVE_LLM_HOME": str(tmp_path), "ADAPTIVE_LLM_N_CTX": "abc"},
    )
    one_error_line(done, "ADAPTIVE_LLM_N_CTX must be an integer")


def test_info_reports_it_as_its_one_problem(tmp_path: Path) -> None:
    done = run(
        ["-c", "import adaptive_llm_local as a; print(a.info())"],
        {"ADAPTIVE_LLM_HOME": str(tmp_path), "ADAPTIVE_LLM_MAX_TOKENS": "lots"},
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == (
        "{'ok': False, 'problems': [\"ADAPTIVE_LLM_MAX_TOKENS must be an integer, got 'lots'\"]}"
    )


def test_attach_in_a_notebook_says_it_in_one_line(tmp_path: Path) -> None:
    """IPython (a notebook kernel) shows an AssistantError as one line, not a traceback."""
    ipython = Path(sys.executable).parent / "ipython"
    done = subprocess.run(
        [
            str(ipython),
            "--colors=nocolor",
            "-c",
            "from adaptive_llm_local import attach; attach(object())",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ADAPTIVE_LLM_HOME": str(tmp_path), "ADAPTIVE_LLM_THREADS": "many"},
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert output == "ConfigError: ADAPTIVE_LLM_THREADS must be an integer, got 'many'", output


# --- threads -----------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_too_many_threads_are_capped_and_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(config, "_said", set())
    monkeypatch.setenv("ADAPTIVE_LLM_THREADS", "1000")
    with caplog.at_level(logging.WARNING, logger="adaptive_llm_local.config"):
        first, second = Settings.from_env(), Settings.from_env()
    assert first.n_threads == second.n_threads == usable_cores()
    notes = [r.getMessage() for r in caplog.records]
    assert notes == [
        f"ADAPTIVE_LLM_THREADS (--threads) asks for 1000 threads, more than the {usable_cores()} "
        f"CPU core(s) this process may use: using {usable_cores()}."
    ]
    assert Settings.from_env(n_threads=1).n_threads == 1


def test_too_many_threads_reach_the_model_capped(tmp_path: Path, model_path: Path) -> None:
    done = run(
        ["-m", "adaptive_llm_local.cli", "doctor", "--json"],
        {
            "ADAPTIVE_LLM_HOME": str(tmp_path),
            "ADAPTIVE_LLM_MODEL": str(model_path),
            "ADAPTIVE_LLM_THREADS": "1000",
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"ADAPTIVE_LLM_THREADS (--threads) asks for 1000 threads, more than the {usable_cores()} "
        f"CPU core(s) this process may use: using {usable_cores()}."
    ]
    rows = dict(json.loads(done.stdout)["rows"])
    assert rows["threads"] == usable_cores()


# --- MAX_TOKENS bounds every answer ------------------------------------------------------


@pytest.mark.parametrize("limit", [6, 40])
def test_max_tokens_bounds_diagnoses_and_answers(
    monkeypatch: pytest.MonkeyPatch, home: Path, limit: int
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_MAX_TOKENS", str(limit))
    assistant = Assistant.from_settings(Settings.from_env(), index="off")
    pieces: list[str] = []
    assistant.diagnose(triage_text(LOG), on_token=pieces.append)
    assert 0 < len(pieces) <= limit
    pieces.clear()
    assistant.ask(
        "Explain in detail, step by step, how SLURM schedules jobs.", on_token=pieces.append
    )
    assert 0 < len(pieces) <= limit
    if limit > 6:
        assert len(pieces) > 6  # the bound, not the model, stopped the short answers


# --- the context window: a setting, not a broken model ------------------------------------


def test_a_context_larger_than_memory_names_the_setting(model_path: Path) -> None:
    shape = read_shape(model_path)
    assert shape is not None and shape.n_ctx_train == 8192
    with pytest.raises(
        ConfigError, match=r"ADAPTIVE_LLM_N_CTX \(--n-ctx\) = 1000000 tokens"
    ) as info:
        check_context_fits(ModelFile(model_path), 1_000_000, available=2**30)
    assert "trained for 8192 tokens" in str(info.value)
    check_context_fits(ModelFile(model_path), 4096, available=2**30)


@pytest.mark.hostile("settings and model files", cases=80)
@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=4000), st.binary(max_size=64))
def test_a_cut_or_damaged_header_is_no_shape(model_path: Path, cut: int, junk: bytes) -> None:
    head = model_path.read_bytes()[:4000]
    with tempfile.NamedTemporaryFile(suffix=".gguf") as fh:
        fh.write(head[:cut] + junk)
        fh.flush()
        shape = read_shape(fh.name)
    assert shape is None or shape.n_layer > 0


def test_loading_with_a_huge_context_names_the_setting(tmp_path: Path, model_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text(LOG)
    done = run(
        ["-m", "adaptive_llm_local.cli", "diagnose", str(log), "--no-index"],
        {
            "ADAPTIVE_LLM_HOME": str(tmp_path),
            "ADAPTIVE_LLM_MODEL": str(model_path),
            "ADAPTIVE_LLM_N_CTX": str(16_000_000),
            "ADAPTIVE_LLM_N_GPU_LAYERS": "0",
        },
    )
    line = one_error_line(done, "ADAPTIVE_LLM_N_CTX (--n-ctx) = 16000000 tokens", "Lower it")
    assert "truncated" not in line and "make models" not in line


def test_a_context_llama_cpp_cannot_create_names_the_setting(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp loaded the weights but failed on the context (e.g. GPU memory)."""
    import llama_cpp

    def no_context(**kwargs: Any) -> None:
        raise ValueError("Failed to create llama_context")

    monkeypatch.setattr(llama_cpp, "Llama", no_context)
    model = LocalModel(ModelFile(model_path), n_ctx=8192, n_gpu_layers=0, plan=LoadPlan())
    with pytest.raises(ConfigError, match=r"context of 8192 tokens \(ADAPTIVE_LLM_N_CTX"):
        model.load()


# --- model paths that are not files -------------------------------------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if (
        _opened is not None
        and event == "open"
        and args
        and isinstance(args[0], str | bytes | os.PathLike)
    ):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def _special(kind: str, tmp_path: Path) -> tuple[Path, str]:
    if kind == "folder":
        folder = tmp_path / "models-folder"
        folder.mkdir()
        (folder / "inside.gguf").write_bytes(b"GGUF")
        return folder, "is a folder, not a GGUF file: not opened"
    if kind == "fifo":
        fifo = tmp_path / "model.gguf"
        os.mkfifo(fifo)
        return fifo, "is a named pipe (FIFO), not a GGUF file: not opened"
    return Path("/dev/zero"), "is a character device, not a GGUF file: not opened"


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_a_model_path_that_is_not_a_file_says_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    global _opened
    path, message = _special(kind, tmp_path)
    monkeypatch.setenv("ADAPTIVE_LLM_MODEL", str(path))
    seen: list[str] = []
    outcome: list[BaseException] = []

    def resolve() -> None:
        try:
            check_header(resolve_chat_model(Settings.from_env()))
        except BaseException as exc:
            outcome.append(exc)

    _opened = seen
    try:
        worker = threading.Thread(target=resolve, daemon=True)
        worker.start()
        worker.join(10)
    finally:
        _opened = None
    assert not worker.is_alive(), "blocked opening a FIFO"
    assert isinstance(outcome[0], ModelCorruptError), outcome
    assert message in str(outcome[0]) and "ADAPTIVE_LLM_MODEL" in str(outcome[0])
    if kind == "folder":
        assert "inside.gguf" in str(outcome[0])
    assert str(path) not in seen


def test_a_model_path_that_is_a_fifo_in_the_cli(tmp_path: Path) -> None:
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    log = tmp_path / "job.log"
    log.write_text(LOG)
    done = run(
        ["-m", "adaptive_llm_local.cli", "diagnose", str(log)],
        {"ADAPTIVE_LLM_HOME": str(tmp_path), "ADAPTIVE_LLM_MODEL": str(fifo)},
        timeout=60,
    )
    one_error_line(done, "is a named pipe (FIFO), not a GGUF file")


# --- the index database -------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty (0 bytes)"), (b"PK\x03\x04 garbage" * 100, "is not an SQLite database")],
    ids=["empty", "garbage"],
)
def test_a_damaged_index_database_is_an_error_naming_the_file(
    model_path: Path, content: bytes, message: str
) -> None:
    settings = Settings.from_env()
    database = settings.chroma_path / "chroma.sqlite3"
    database.parent.mkdir(parents=True)
    database.write_bytes(content)
    with pytest.raises(IndexUnavailableError, match=re.escape(message)) as info:
        Index(settings, create=True, embedder=object()).open()  # type: ignore[arg-type]
    assert str(database) in str(info.value) and "index add" in str(info.value)
    assert database.read_bytes() == content  # never silently replaced by a new, empty index
    for command in (["index", "stats"], ["index", "search", "gpu"]):
        done = run(
            ["-m", "adaptive_llm_local.cli", *command],
            {"ADAPTIVE_LLM_HOME": str(settings.home), "ADAPTIVE_LLM_MODEL": str(model_path)},
            timeout=120,
        )
        one_error_line(done, str(database), message)
    assert database.read_bytes() == content
