"""A real JupyterLab 4 on loopback and Debian's Chromium driven by Playwright (for browser tests).

Nothing is downloaded: Chromium comes from Debian's package (``.ci/run`` installs it;
never ``playwright install``), JupyterLab and its widget extension from the virtual
environment. The server listens on 127.0.0.1 with a token, its settings, runtime files
and temporary folders live in the test's folder, and it is stopped on SIGTERM too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
# Chromium's own connections (updates, sync, field trials) are refused on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}
SERVER_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    }
}


def chromium() -> str | None:
    """Debian's Chromium binary, or ``None`` when it is not installed."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    runtime: Path
    process: subprocess.Popen[bytes]
    log: Path

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"

    def kernel_connection_files(self) -> list[Path]:
        return sorted(self.runtime.glob("kernel-*.json"))


def _write_settings(settings: Path) -> None:
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))


@contextlib.contextmanager
def jupyterlab(root: Path, work: Path, env: dict[str, str], timeout: float = 120) -> Iterator[Lab]:
    """Start ``jupyter lab`` serving ``root``; stop it (and its kernels) afterwards."""
    token = secrets.token_hex(16)
    port = _free_port()
    settings, runtime, config, tmp = (work / n for n in ("settings", "runtime", "config", "tmp"))
    for folder in (settings, runtime, config, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    _write_settings(settings)
    (config / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
    full_env = {
        **os.environ,
        **env,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(config),
        "TMPDIR": str(tmp),
    }
    log = work / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, runtime, process, log)

    def on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        _wait_ready(lab, timeout)
        yield lab
    finally:
        _stop(process)
        signal.signal(signal.SIGTERM, previous)


def _wait_ready(lab: Lab, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited: {lab.log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=5),
        ):
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"jupyter lab did not answer in {timeout:.0f} s: {lab.log.read_text()[-3000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def run_in_kernel(connection_file: Path, code: str, timeout: float = 60) -> None:
    """Execute ``code`` in a running kernel (cleanup after the browser is done)."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    try:
        client.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
    finally:
        client.stop_channels()
