"""Shared fixtures: the real default model, an isolated home, and a network guard.

Every test runs under :func:`network_guard`: a connection to anything but loopback
fails loudly and is recorded, so "offline" is asserted by the whole suite. A test that
uses the real model asks for :func:`model_path` (directly or through :func:`home`) and
is marked ``model`` for it, so ``make test-fast`` (``-m "not model"``) leaves it out.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import hostile_tally
import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "model_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        hostile_tally.record(item, report.passed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in hostile_tally.summary_lines():
        terminalreporter.write_line(line)


class NetworkAccessError(AssertionError):
    """A test tried to reach a non-loopback address."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Refuses and records every non-loopback connect/resolve from this process."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def check(self, family: int, address: object) -> None:
        if family == getattr(socket, "AF_UNIX", None):
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if not _is_loopback(host):
            self.attempts.append(repr(address))
            raise NetworkAccessError(f"test tried to open a non-loopback connection to {address!r}")


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        guard.check(self.family, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        guard.check(self.family, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host is not None and not _is_loopback(
            host if not isinstance(host, bytes) else host.decode()
        ):
            guard.attempts.append(f"resolve {host!r}")
            raise NetworkAccessError(f"test tried to resolve non-loopback host {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard
    assert not guard.attempts, f"non-loopback network access: {guard.attempts}"


@pytest.fixture(autouse=True, scope="session")
def shared_check_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache of llama.cpp start-up checks for the session and its subprocesses.

    Tests get a fresh ``ADAPTIVE_LLM_HOME`` each, so without this every CLI subprocess
    would run the check again; ``tests/test_preflight.py`` uses caches of its own.
    """
    path = tmp_path_factory.mktemp("check-cache")
    before = os.environ.get("ADAPTIVE_LLM_CACHE_DIR")
    os.environ["ADAPTIVE_LLM_CACHE_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("ADAPTIVE_LLM_CACHE_DIR", None)
    else:
        os.environ["ADAPTIVE_LLM_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The real default GGUF (``make test`` fetches it first)."""
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL} is missing: run `make models` (make test does it for you)")
    return DEFAULT_MODEL


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path) -> Path:
    """An empty ADAPTIVE_LLM_HOME with the real default model configured by path."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("ADAPTIVE_LLM_HOME", str(home))
    monkeypatch.setenv("ADAPTIVE_LLM_MODEL", str(model_path))
    for name in ("ADAPTIVE_LLM_INDEX_DIR", "ADAPTIVE_LLM_CHROMA_URL", "ADAPTIVE_LLM_EMBED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return home
