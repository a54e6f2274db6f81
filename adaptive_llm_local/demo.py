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
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .diagnose import Diagnosis

FAILURES = ("python_exception", "missing_module", "out_of_memory", "segfault", "killed")
_NETNS_FLAG = "ADAPTIVE_LLM_DEMO_IN_NETNS"


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


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
    from rich.markup import escape

    style = "green" if diagnosis.category == "none" else "bold red"
    console.print(
        f"[bold]job {escape(job_key)}[/] ({escape(diagnosis.job_name or '?')}) → "
        f"[{style}]{diagnosis.category}[/]  [dim]{escape(diagnosis.summary)}[/]"
    )
    if diagnosis.key_line:
        console.print(
            f"   key line {diagnosis.key_line_number}: [yellow]{escape(diagnosis.key_line[:160])}[/]"
        )
    console.print(f"   cause: {escape(diagnosis.root_cause)}")
    console.print(f"   fix:   {escape(diagnosis.suggested_fix)}")
    console.print(
        f"   [dim]explained by {diagnosis.explained_by}, confidence {diagnosis.confidence:.2f}[/]"
    )


async def run_demo(workdir: Path, *, timeout: float = 300.0) -> Any:
    """Run the demo RunManager in ``workdir`` with the assistant attached; return the manager."""
    from .demo_learners import build_demo_run
    from .manager import attach

    console = _console()
    rm = build_demo_run(workdir, n_good=2, failures=FAILURES)
    llm = attach(rm, interval=1.0, on_diagnosis=lambda key, d: _print_diagnosis(console, key, d))
    console.print(
        f"[bold]RunManager[/] with {len(rm.learners)} learners "
        f"({len(rm.learners) - len(FAILURES)} healthy, {len(FAILURES)} failing) on LocalScheduler, "
        f"database at {rm.url}"
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
    console.print(llm.summary_text(), markup=False)
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
    args = parser.parse_args(argv)
    console = _console()

    if not args.no_isolation and not os.environ.get(_NETNS_FLAG):
        wrapped = isolated_command(
            [sys.executable, "-m", "adaptive_llm_local.demo", *(argv or sys.argv[1:])]
        )
        if wrapped is not None:
            console.print(
                "[dim]Running inside a network namespace with only loopback (unshare -rn): "
                "no network at all.[/]"
            )
            return subprocess.call(wrapped, env={**os.environ, _NETNS_FLAG: "1"})
        console.print(
            "[yellow]unshare is not available here; running with the network present "
            "(nothing uses it).[/]"
        )

    from .errors import AssistantError
    from .runtime import get_chat_model

    settings = Settings.from_env()
    try:
        model = get_chat_model(settings)
        with console.status(f"Loading {model.name}…"):
            model.load()
    except AssistantError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    info = model.describe()
    console.print(
        f"Model {model.name} · GPU offload {'on' if info['gpu_offload_used'] else 'off'} · "
        f"n_ctx {info['n_ctx']} · index {settings.chroma_path}"
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="adaptive-llm-demo-"))
    console.print(f"Run folder: {workdir}")
    llm = asyncio.run(run_demo(workdir, timeout=args.timeout))
    return 0 if llm.diagnoses else 1


if __name__ == "__main__":
    sys.exit(main())
