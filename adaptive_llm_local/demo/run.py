"""``make demo``: a real RunManager whose failing jobs are diagnosed by the local model, offline.

Healthy and failing learners run as local processes (:class:`LocalScheduler`); the
assistant is attached with :func:`attach`, prints each diagnosis as it arrives and a
summary grouped by failure signature at the end. When the machine allows it, the demo
re-runs itself inside a network namespace that has only loopback (``unshare -rn``),
which proves that nothing needs the network.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..cli.console import console as make_console
from ..cli.console import escape, print_error, visible
from ..cli.render import category_markup, print_diagnosis
from ..config import Settings
from ..diagnose import Diagnosis
from ..errors import AssistantError
from ..runtime import LocalModel

FAILURES = ("python_exception", "missing_module", "out_of_memory", "segfault", "killed")
_IN_NETNS = "--in-netns"
"""Hidden option of the re-run inside the network namespace (so it does not re-run again)."""


def isolated_command(argv: list[str]) -> list[str] | None:
    """``argv`` wrapped to run in a fresh network namespace with only loopback, if possible."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip:
        return None
    probe = subprocess.run(
        [unshare, "-rn", ip, "link", "set", "lo", "up"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return None
    script = f'{ip} link set lo up && exec "$@"'
    return [unshare, "-rn", "sh", "-c", script, "sh", *argv]


def _print_diagnosis(console: Any, job_key: str, diagnosis: Diagnosis) -> None:
    title = (
        f"job {escape(job_key)} ({escape(diagnosis.job_name or '?')}) → "
        f"{category_markup(diagnosis.category)} · {escape(diagnosis.summary)}"
    )
    print_diagnosis(console, diagnosis, title=title, key_line=True)


async def run_demo(workdir: Path, assistant: Assistant, *, timeout: float = 300.0) -> Any:
    """Run the demo RunManager in ``workdir`` with the assistant attached; return the manager."""
    from ..manager import attach
    from .learners import build_demo_run

    console = make_console()
    rm = build_demo_run(workdir, n_good=2, failures=FAILURES)
    llm = attach(
        rm,
        assistant=assistant,
        interval=1.0,
        on_diagnosis=lambda key, d: _print_diagnosis(console, key, d),
    )
    console.print(
        f"[bold]RunManager[/] with {len(rm.learners)} learners "
        f"({len(rm.learners) - len(FAILURES)} healthy, {len(FAILURES)} failing) on LocalScheduler, "
        f"database at {escape(rm.url)}"
    )
    start = time.monotonic()
    rm.start()
    try:
        await asyncio.wait_for(asyncio.shield(llm.task), timeout)
    except TimeoutError:
        console.print(f"[yellow]stopping after {timeout:.0f} s[/]")
    finally:
        n_done = rm.database_manager.n_done()
        rm.cancel()
        rm.scheduler.cancel_all(timeout=10)
        llm.cancel()
    console.print(
        f"\n[bold]Run finished[/] in {time.monotonic() - start:.0f} s: {n_done} learner(s) done, "
        f"{len(rm.database_manager.failed)} failed job(s), {len(llm.diagnoses)} diagnosed with "
        f"{llm.model_calls} model call(s)."
    )
    reused = len(llm.summary()) - llm.model_calls
    if reused > 0:
        console.print(
            f"[dim]{reused} failure signature(s) were already diagnosed in an earlier run and "
            "were reused without a model call (`make clean-index` starts afresh).[/]"
        )
    console.print("[bold]Failures grouped by signature[/]")
    console.print(visible(llm.summary_text()), markup=False)
    return llm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptive_llm_local.demo", description=__doc__)
    parser.add_argument(
        "--workdir", type=Path, help="where the run's data and logs go (default: a temp dir)"
    )
    parser.add_argument(
        "--no-isolation", action="store_true", help="do not re-run in a loopback-only netns"
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(_IN_NETNS, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    console = make_console()

    if not args.no_isolation and not args.in_netns:
        wrapped = isolated_command(
            [sys.executable, "-m", "adaptive_llm_local.demo", *(argv or sys.argv[1:]), _IN_NETNS]
        )
        if wrapped is not None:
            console.print(
                "[dim]Running inside a network namespace with only loopback (unshare -rn): "
                "no network at all.[/]"
            )
            return subprocess.call(wrapped)
        console.print(
            "[yellow]unshare is not available here; running with the network present "
            "(nothing uses it).[/]"
        )

    try:
        settings = Settings.from_env()
        assistant = Assistant.from_settings(settings, index="create")
        with console.status(f"Loading {escape(assistant.model.name)}…"):
            assistant.load()
    except AssistantError as exc:
        print_error(exc)
        return exc.exit_code
    offload = (
        isinstance(assistant.model, LocalModel) and assistant.model.describe()["gpu_offload_used"]
    )
    console.print(
        f"Model {escape(assistant.model.name)} · GPU offload {'on' if offload else 'off'} · "
        f"n_ctx {settings.n_ctx} · index {escape(settings.chroma_path)}"
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="adaptive-llm-demo-"))
    console.print(f"Run folder: {escape(workdir)}")
    llm = asyncio.run(run_demo(workdir, assistant, timeout=args.timeout))
    return 0 if llm.diagnoses else 1
