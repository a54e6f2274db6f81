"""Fixtures for the retrieval tests: a real Chroma server on loopback, both backends, sample files.

Imported by ``tests/test_retrieval*.py`` and ``tests/test_index_cli.py`` (``conftest.py``
belongs to the whole suite and already provides ``home`` and the network guard).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings

# the fixtures: test modules take them with ``from retrieval_fixtures import *``
__all__ = ["backend", "chroma_server", "sample_files", "settings"]

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOGS = REPO / "tests" / "fixtures" / "logs"

OOM_LOG = """\
starting job 4711 on node cn042
allocating arrays
slurmstepd: error: Detected 1 oom-kill event(s) in StepId=4711.batch. Some of your processes may have been killed by the cgroup out-of-memory handler.
"""
NUMPY_LOG = """\
python 3.11 in /scratch/run-{n}
Traceback (most recent call last):
  File "/scratch/run-{n}/learner.py", line 3, in <module>
    import numpy as np
ModuleNotFoundError: No module named 'numpy'
"""
GUIDE_MD = """\
# Cluster guide

Welcome to the cluster. Read this guide before you submit your first batch jobs: it
explains the partitions, the modules and the file systems that every user shares.

## GPUs

To use GPUs, request them with `--gres=gpu:1` and load the CUDA module first:
`module load cuda/12.1`. Jobs that do not load it fail with CUDA driver errors
because the default environment has no CUDA libraries at all.

## Storage

Write large outputs to /scratch, never to your home folder: the home quota is 10 GB
and jobs that exceed it fail with `Disk quota exceeded`. Scratch is purged monthly.
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("chroma server did not start in time")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``chroma run`` bound to 127.0.0.1, telemetry off; yields its URL."""
    chroma = VENV_BIN / "chroma"
    if not chroma.exists():
        pytest.fail(f"{chroma} is missing: chromadb's CLI is needed for the server tests")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    env = {**os.environ, "CHROMA_ANONYMIZED_TELEMETRY": "FALSE", "ANONYMIZED_TELEMETRY": "FALSE"}
    log = (path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _clear_server(url: str) -> None:
    from adaptive_llm_local.retrieval.connection import COLLECTIONS, REBUILD_SUFFIX
    from adaptive_llm_local.retrieval.store import Store

    store = Store.remote(url)
    try:
        for name in COLLECTIONS.values():
            store.drop(name)
            store.drop(name + REBUILD_SUFFIX)
    finally:
        store.close()


@pytest.fixture(params=["local", "server"])
def backend(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for the persisted local index, then for a real Chroma server (same tests)."""
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        _clear_server(url)
        monkeypatch.setenv("ADAPTIVE_LLM_CHROMA_URL", url)
        yield Settings.from_env()
        _clear_server(url)
    else:
        yield Settings.from_env()


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings of the isolated home (local backend only)."""
    return Settings.from_env()


@pytest.fixture
def sample_files(tmp_path: Path) -> dict[str, Path]:
    """Two failure logs of one kind, one of another kind, and a Markdown guide."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    files = {
        "numpy_a": folder / "numpy-101.log",
        "numpy_b": folder / "numpy-102.log",
        "oom": folder / "oom-4711.out",
        "guide": folder / "guide.md",
    }
    files["numpy_a"].write_text(NUMPY_LOG.format(n=101))
    files["numpy_b"].write_text(NUMPY_LOG.format(n=102))
    files["oom"].write_text(OOM_LOG)
    files["guide"].write_text(GUIDE_MD)
    return files


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter of this virtualenv."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=REPO,
    )
