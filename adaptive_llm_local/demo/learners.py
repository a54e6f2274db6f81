"""Learner functions for demos and tests: one healthy, several that fail for real.

adaptive-scheduler cloudpickles the learners; a function defined at module level in
an importable module is pickled *by reference*, so the job process imports this
module and runs the function there. Every failure below therefore happens inside the
job, at run time, and leaves the real evidence (traceback, ``Killed``, segfault
report) in the job's ``.out`` file, as it would on a cluster.

The functions that kill or crash their process refuse to run outside an
adaptive-scheduler job (they check ``ADAPTIVE_SCHEDULER_JOB_ID``, which the launcher
exports), so calling one by accident in a notebook does not take the kernel down.
"""

from __future__ import annotations

import functools
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import adaptive
    from adaptive_scheduler import RunManager
    from adaptive_scheduler.scheduler import BaseScheduler

__all__ = [
    "FAILURES",
    "DemoFailure",
    "build_demo_run",
    "demo_run_kwargs",
    "killed",
    "local_scheduler",
    "missing_module",
    "out_of_memory",
    "peak",
    "raises_value_error",
    "segfault",
]

JOB_ENV = "ADAPTIVE_SCHEDULER_JOB_ID"
"""Set by adaptive-scheduler's launcher in the job process and its workers."""


def _require_job_process(what: str) -> None:
    if not os.environ.get(JOB_ENV):
        msg = f"refusing to {what} outside an adaptive-scheduler job ({JOB_ENV} is not set)"
        raise RuntimeError(msg)


def peak(x: float, offset: float = 0.0, width: float = 0.05) -> float:
    """Healthy function: a smooth Lorentzian peak on a linear background."""
    return x + width**2 / (width**2 + (x - offset) ** 2)


def raises_value_error(x: float) -> float:
    """Raise ``ValueError`` with a message that depends on the data."""
    pressure = -(1.0 + x * x)
    if pressure < 0:
        msg = f"unphysical negative pressure p={pressure:.4g} bar at x={x:.4g}"
        raise ValueError(msg)
    return pressure  # pragma: no cover


def missing_module(x: float) -> float:
    """Import a module that is not installed, at run time inside the job."""
    import fancy_solver_does_not_exist  # type: ignore[import-not-found]

    return fancy_solver_does_not_exist.solve(x)  # pragma: no cover


def killed(x: float) -> float:
    """Die by ``SIGKILL``, as under the kernel's OOM killer.

    Kills the process that started this worker (adaptive-scheduler's launcher, so the
    job script's shell reports ``Killed``) and then itself, so no Python traceback is
    left: the only evidence is the shell's and the scheduler's report.
    """
    _require_job_process("SIGKILL a process")
    parent = os.getppid()
    if parent > 1:
        os.kill(parent, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
    return x  # pragma: no cover


def out_of_memory(x: float, limit_mb: int = 512) -> float:
    """Exhaust an address-space limit set with ``resource.setrlimit``: ``MemoryError``."""
    import resource

    _require_job_process("lower the address-space limit of the process")
    import psutil

    limit = psutil.Process().memory_info().vms + limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    buffers = [bytearray(64 * 2**20) for _ in range(limit_mb // 64 + 2)]
    return x + len(buffers)  # pragma: no cover


def segfault(x: float) -> float:
    """Dereference a NULL pointer with ``faulthandler`` on: ``Segmentation fault``."""
    import ctypes
    import faulthandler
    import sys

    _require_job_process("crash the process with a segmentation fault")
    faulthandler.enable(file=sys.stderr, all_threads=True)
    return float(len(ctypes.string_at(0)) + x)  # pragma: no cover


@dataclass(frozen=True)
class DemoFailure:
    """A failing demo learner and what its job leaves behind.

    Attributes
    ----------
    name
        Key in `FAILURES`, also used in the data file name.
    function
        The learner function.
    log_text
        Text the job's ``.out`` file (``output_logs``) contains after the failure.
    category
        The failure category (``triage.CATEGORIES``) a diagnosis should arrive at, or
        ``None`` where the log alone cannot tell (a bare ``SIGKILL``).
    """

    name: str
    function: Callable[[float], float]
    log_text: str
    category: str | None


FAILURES: dict[str, DemoFailure] = {
    f.name: f
    for f in (
        DemoFailure(
            "python_exception",
            raises_value_error,
            "ValueError: unphysical negative pressure",
            "python_exception",
        ),
        DemoFailure(
            "missing_module",
            missing_module,
            "ModuleNotFoundError: No module named 'fancy_solver_does_not_exist'",
            "missing_module",
        ),
        DemoFailure("killed", killed, "Killed", None),
        DemoFailure("out_of_memory", out_of_memory, "MemoryError", "out_of_memory"),
        DemoFailure("segfault", segfault, "Segmentation fault", "segfault"),
    )
}
"""The failing demo learners by name."""

DEFAULT_FAILURES = ("python_exception", "missing_module", "killed")


def _demo_learners(
    workdir: Path,
    n_good: int,
    failures: Sequence[str],
) -> tuple[list[adaptive.Learner1D], list[Path]]:
    import adaptive

    unknown = [name for name in failures if name not in FAILURES]
    if unknown:
        msg = f"unknown demo failures {unknown}; choose from {sorted(FAILURES)}"
        raise ValueError(msg)
    functions: list[tuple[str, Callable[[float], float]]] = [
        (f"good-{i}", functools.partial(peak, offset=0.3 * i - 0.2)) for i in range(n_good)
    ]
    functions += [(name, FAILURES[name].function) for name in failures]
    data = workdir / "data"
    learners = [adaptive.Learner1D(f, bounds=(-1.0, 1.0)) for _, f in functions]
    fnames = [data / f"{label}.pickle" for label, _ in functions]
    return learners, fnames


def local_scheduler(workdir: Path, *, extra_paths: Sequence[Path] = ()) -> BaseScheduler:
    """A ``LocalScheduler`` with one core per job and its folders in ``workdir``.

    Jobs must import this package (the learners are pickled by reference); the
    ``PYTHONPATH`` keeps that true without an installed package, with ``extra_paths``
    (e.g. the folder of the user's own learner module) in front.
    """
    from ..scheduler import LocalScheduler

    package_parent = Path(__file__).resolve().parents[2]
    path = ":".join(str(p) for p in (*extra_paths, package_parent))
    return LocalScheduler(
        cores=1,
        log_folder=workdir / "logs",
        batch_folder=workdir / "batch",
        extra_env_vars=[f'PYTHONPATH="{path}${{PYTHONPATH:+:$PYTHONPATH}}"'],
    )


def demo_run_kwargs(
    workdir: str | Path,
    *,
    scheduler: BaseScheduler | None = None,
    n_good: int = 2,
    failures: Sequence[str] = DEFAULT_FAILURES,
    goal: int = 20,
    job_name: str = "demo",
    url: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for an ``adaptive_scheduler.RunManager`` demo run in ``workdir``.

    The defaults keep a run short and self-limiting on a small machine:

    - ``url=loopback_url()``: the database listens on 127.0.0.1 only (works offline
      and in a network namespace with only loopback).
    - ``goal=20``: each healthy learner stops after 20 points (a few seconds).
    - ``job_manager_interval=1``, ``kill_interval=1``: dead jobs are noticed and
      recorded in ``database_manager.failed`` within about a second (defaults: 60 s).
      The ``KillManager`` also refreshes the database, which keeps recording
      failures after the ``JobManager`` has given up.
    - ``max_fails_per_job=1``: adaptive-scheduler restarts failed jobs until
      ``n_started > max_fails_per_job * n_jobs``; with 1, each failing learner runs
      once or twice and then the ``JobManager`` stops with ``MaxRestartsReachedError``
      (logged; the database manager and the healthy jobs carry on).
    - ``save_interval=5``, ``log_interval=5``: the launcher writes data and status
      lines often enough to see progress in a short run.
    - ``db_fname`` and ``move_old_logs_to`` inside ``workdir`` (defaults are
      relative to the current directory), ``quiet=True`` (no progress bars).

    Parameters
    ----------
    workdir
        Folder for data (``data/``), logs (``logs/``), job scripts (``batch/``), the
        database and old logs; created if missing.
    scheduler
        Scheduler to use; a `adaptive_llm_local.scheduler.LocalScheduler` with one
        core per job and its folders in ``workdir`` when ``None``.
    n_good
        Number of healthy learners (`peak` with different offsets).
    failures
        Names from `FAILURES`, one failing learner each.
    goal
        Number of points after which a learner is done.
    job_name
        Prefix of the job names (``{job_name}-{i}``) and of the database file.
    url
        Database URL; a fresh `loopback_url` when ``None``.
    **overrides
        Any other ``RunManager`` argument, or a replacement of the ones above.

    Returns
    -------
    dict
        ``RunManager(**kwargs)`` arguments. Learners are ordered healthy first, then
        ``failures`` in the order given.

    """
    from ..scheduler import loopback_url

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    learners, fnames = _demo_learners(workdir, n_good, failures)
    if scheduler is None:
        scheduler = local_scheduler(workdir)
    kwargs: dict[str, Any] = {
        "scheduler": scheduler,
        "learners": learners,
        "fnames": fnames,
        "goal": goal,
        "url": url or loopback_url(),
        "job_name": job_name,
        "db_fname": workdir / f"{job_name}-database.json",
        "move_old_logs_to": workdir / "old_logs",
        "job_manager_interval": 1.0,
        "kill_interval": 1.0,
        "max_fails_per_job": 1,
        "save_interval": 5.0,
        "log_interval": 5.0,
        "quiet": True,
    }
    kwargs.update(overrides)
    return kwargs


def build_demo_run(
    workdir: str | Path,
    *,
    scheduler: BaseScheduler | None = None,
    n_good: int = 2,
    failures: Sequence[str] = DEFAULT_FAILURES,
    goal: int = 20,
    job_name: str = "demo",
    url: str | None = None,
    **overrides: Any,
) -> RunManager:
    """Create (but do not start) a ``RunManager`` for the demo; see `demo_run_kwargs`.

    Start it with ``run_manager.start()`` while an event loop runs (a notebook, or
    inside ``asyncio.run``). The failing learners never finish, so the run does not
    end by itself: stop it with ``run_manager.cancel()``.

    Returns
    -------
    adaptive_scheduler.RunManager
        The run manager; ``run_manager.learners``/``fnames`` list healthy learners
        first, then the failures in the order given.

    """
    from adaptive_scheduler import RunManager

    return RunManager(
        **demo_run_kwargs(
            workdir,
            scheduler=scheduler,
            n_good=n_good,
            failures=failures,
            goal=goal,
            job_name=job_name,
            url=url,
            **overrides,
        )
    )
