"""`LocalScheduler`: run adaptive-scheduler jobs as processes on this machine.

adaptive-scheduler's own ``LocalMockScheduler`` cannot be driven by a ``RunManager``
(it raises ``NotImplementedError`` when ``start_job`` receives ``index``, which the
``JobManager`` always passes). `LocalScheduler` is a complete `BaseScheduler`: every
job is a real OS process in its own session, its stdout and stderr go to the
``.out`` file adaptive-scheduler records in ``output_logs``, and `LocalScheduler.queue`
reports a job until its process has exited, so the ``RunManager`` notices dead jobs,
records them in ``database_manager.failed`` and restarts them as it would on SLURM.

When a job ends abnormally the scheduler appends one line to its ``.out`` file, in
the spirit of ``slurmstepd: error: *** JOB 123 ON node CANCELLED AT ... ***``::

    localscheduler: error: *** JOB 7 (adaptive-scheduler-2) KILLED BY SIGNAL 9 (SIGKILL) AT 2025-01-01T12:00:00 ***
    localscheduler: error: *** JOB 8 (adaptive-scheduler-3) EXITED WITH CODE 1 AT 2025-01-01T12:00:01 ***
    localscheduler: error: *** JOB 9 (adaptive-scheduler-4) CANCELLED AT 2025-01-01T12:00:02 ***

The module keeps pure logic (exit-status decoding, epilogue lines, file-name
expansion) apart from process handling (`LocalScheduler`).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as _dt
import itertools
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
import warnings
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from adaptive_scheduler.scheduler import BaseScheduler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from adaptive_scheduler.utils import EXECUTOR_TYPES

__all__ = [
    "EPILOGUE_PREFIX",
    "LocalScheduler",
    "broadcast_per_job",
    "describe_returncode",
    "expand_job_id",
    "format_epilogue",
    "job_id_candidates",
    "loopback_url",
    "returncode_from_waitid",
]

EPILOGUE_PREFIX = "localscheduler: error:"
"""Start of every line the scheduler itself writes into a job's ``.out`` file."""

JOB_ID_ENV = "JOB_ID"
JOB_NAME_ENV = "NAME"


# --------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------


def loopback_url(host: str = "127.0.0.1") -> str:
    """Return a ZeroMQ URL on a currently free TCP port of the loopback interface.

    Pass it as ``RunManager(url=...)``: by default adaptive-scheduler calls
    ``get_allowed_url()``, which binds the database manager to the address that the
    host name resolves to. That address is reachable from the network, and it does not
    exist at all inside a network namespace that only has loopback.

    Parameters
    ----------
    host
        Loopback address to bind, ``127.0.0.1`` by default.

    Returns
    -------
    str
        A URL such as ``tcp://127.0.0.1:45123``.

    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"tcp://{host}:{port}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_returncode(returncode: int | None) -> str:
    """Describe how a job's leading process ended.

    Parameters
    ----------
    returncode
        ``subprocess.Popen.returncode`` convention: the exit code, ``-N`` when killed
        by signal ``N``, ``None`` when unknown.

    Returns
    -------
    str
        For example ``"EXITED WITH CODE 0"``, ``"KILLED BY SIGNAL 9 (SIGKILL)"`` or
        ``"EXITED WITH CODE 137 (128+SIGKILL)"`` (a shell whose child was killed).

    """
    if returncode is None:
        return "ENDED WITH UNKNOWN STATUS"
    if returncode < 0:
        return f"KILLED BY SIGNAL {-returncode} ({_signal_name(-returncode)})"
    text = f"EXITED WITH CODE {returncode}"
    if 128 < returncode < 128 + 65:
        text += f" (128+{_signal_name(returncode - 128)})"
    return text


def format_epilogue(
    job_id: str,
    job_name: str,
    returncode: int | None,
    *,
    cancelled: bool,
    when: _dt.datetime,
) -> str | None:
    """Line the scheduler appends to a job's output when the job did not succeed.

    Parameters
    ----------
    job_id, job_name
        Identify the job.
    returncode
        See `describe_returncode`.
    cancelled
        Whether the job ended because `LocalScheduler.cancel` was called.
    when
        Time of the end of the job.

    Returns
    -------
    str or None
        The line (without newline), or ``None`` for a job that exited with code 0
        and was not cancelled.

    """
    if cancelled:
        what = "CANCELLED"
    elif returncode == 0:
        return None
    else:
        what = describe_returncode(returncode)
    stamp = when.isoformat(timespec="seconds")
    return f"{EPILOGUE_PREFIX} *** JOB {job_id} ({job_name}) {what} AT {stamp} ***"


def returncode_from_waitid(si_code: int, si_status: int) -> int:
    """Convert an ``os.waitid`` result to the ``Popen.returncode`` convention."""
    if si_code == os.CLD_EXITED:
        return si_status
    return -si_status  # CLD_KILLED or CLD_DUMPED: si_status is the signal


def expand_job_id(template: str | Path, variable: str, job_id: str) -> Path:
    """Replace the job-id placeholder in a log-file name, as adaptive-scheduler does.

    Parameters
    ----------
    template
        A name from ``scheduler.log_fname(name)`` or ``scheduler.output_fnames(name)``.
    variable
        The scheduler's ``_JOB_ID_VARIABLE``, e.g. ``"${JOB_ID}"``.
    job_id
        The concrete job id.

    """
    path = Path(template)
    return path.with_name(path.name.replace(variable, job_id))


def broadcast_per_job(values: dict[str, Any]) -> dict[str, Any]:
    """Make every per-job setting a tuple when any of them is one.

    adaptive-scheduler's `BaseScheduler` indexes ``cores``, ``executor_type``,
    ``num_threads`` and the ``extra_*`` settings by job as soon as ``cores`` is a tuple;
    its ``SLURM`` broadcasts single values the same way.

    Parameters
    ----------
    values
        Setting name to a single value or a tuple (one entry per learner);
        ``None`` stands for "not set".

    Returns
    -------
    dict
        The same keys; unchanged when no value is a tuple, otherwise every value is a
        tuple of the common length.

    Raises
    ------
    ValueError
        When tuples of different lengths are given.

    """
    lengths = {len(v) for v in values.values() if isinstance(v, tuple)}
    if not lengths:
        return dict(values)
    if len(lengths) > 1:
        msg = f"All per-job tuples must have the same length, got lengths {sorted(lengths)}."
        raise ValueError(msg)
    (n,) = lengths
    return {
        k: v if isinstance(v, tuple) else tuple(copy.deepcopy(v) for _ in range(n))
        for k, v in values.items()
    }


def job_id_candidates(counter: Iterator[int]) -> Iterator[str]:
    """Job ids to try, in order: decimal strings like the ids of SLURM."""
    return (str(n) for n in counter)


# --------------------------------------------------------------------------------------
# Process handling
# --------------------------------------------------------------------------------------

# One counter per Python process: job ids stay unique across scheduler instances,
# which matters because the DatabaseManager refuses a job id it already knows.
_JOB_COUNTER = itertools.count(1)
_JOB_COUNTER_LOCK = threading.Lock()
_SCHEDULERS: weakref.WeakSet[LocalScheduler] = weakref.WeakSet()


@dataclass
class _Job:
    job_id: str
    name: str
    popen: subprocess.Popen[bytes]
    output: Path
    start_time: float
    cancelled: bool = False
    reaped: bool = False
    returncode: int | None = None
    end_time: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def record(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_name": self.name,
            "pid": self.popen.pid,
            "output": str(self.output),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "returncode": self.returncode,
            "cancelled": self.cancelled,
        }


class LocalScheduler(BaseScheduler):
    """Run adaptive-scheduler jobs as local processes; no cluster needed.

    Use it wherever adaptive-scheduler takes a scheduler, e.g.
    ``RunManager(scheduler=LocalScheduler(log_folder="logs"), url=loopback_url(), ...)``.

    Each job is ``bash JOB_SCRIPT`` in a new session (its own process group) with
    ``JOB_ID`` and ``NAME`` set. It writes ``{log_folder}/{name}-{job_id}.out``
    (stdout and stderr) and, through the adaptive-scheduler launcher,
    ``{log_folder}/{name}-{job_id}.log``. When the leading process exits, whatever is
    left of its process group is killed (as a cluster does at the end of a job), an
    epilogue line is appended on failure (see the module docstring), the process is
    reaped and the job leaves `queue`. Jobs start immediately; limit concurrency with
    ``RunManager(max_simultaneous_jobs=...)``.

    Parameters
    ----------
    cores
        Cores per job (``--n`` of the launcher's executor), or a tuple with one entry
        per learner, as for adaptive-scheduler's ``SLURM``.
    python_executable, log_folder, mpiexec_executable, executor_type, num_threads,
    extra_scheduler, extra_env_vars, extra_script, batch_folder
        As for `adaptive_scheduler.scheduler.BaseScheduler`. ``extra_scheduler``
        entries are written to the job script as ``#LOCAL`` comments only.
    shell
        Program that runs the job script; ``bash`` when available, else ``sh``.
    cwd
        Working directory of the jobs; ``None`` inherits the caller's, which keeps
        relative ``fnames`` valid.
    cancel_grace
        Seconds between ``SIGTERM`` and ``SIGKILL`` in `cancel`.
    unbuffered
        Set ``PYTHONUNBUFFERED=1`` in the jobs (unless already set) so that output
        printed just before a crash still reaches the ``.out`` file.
    kill_on_exit
        Kill this scheduler's jobs when the Python process that started them exits.
    history_size
        How many ended jobs `history` remembers.

    """

    _ext: ClassVar[str] = ".sh"
    _JOB_ID_VARIABLE: ClassVar[str] = "${JOB_ID}"
    _options_flag: ClassVar[str] = "LOCAL"
    _cancel_cmd: ClassVar[str] = "kill -TERM --"

    def __init__(
        self,
        cores: int | tuple[int | Callable[[], int], ...] = 1,
        *,
        python_executable: str | None = None,
        log_folder: str | Path = "",
        mpiexec_executable: str | None = None,
        executor_type: EXECUTOR_TYPES
        | tuple[EXECUTOR_TYPES | Callable[[], EXECUTOR_TYPES], ...] = "process-pool",
        num_threads: int | tuple[int | Callable[[], int], ...] = 1,
        extra_scheduler: list[str] | tuple[list[str] | Callable[[], list[str]], ...] | None = None,
        extra_env_vars: list[str] | tuple[list[str] | Callable[[], list[str]], ...] | None = None,
        extra_script: str | tuple[str | Callable[[], str], ...] | None = None,
        batch_folder: str | Path = "",
        shell: str | None = None,
        cwd: str | Path | None = None,
        cancel_grace: float = 3.0,
        unbuffered: bool = True,
        kill_on_exit: bool = True,
        history_size: int = 1000,
    ) -> None:
        self._given = {
            "cores": cores,
            "executor_type": executor_type,
            "num_threads": num_threads,
            "extra_scheduler": extra_scheduler,
            "extra_env_vars": extra_env_vars,
            "extra_script": extra_script,
        }
        per_job = self._given
        if any(isinstance(v, tuple) for v in per_job.values()):
            per_job = broadcast_per_job(
                {
                    **per_job,
                    "extra_scheduler": extra_scheduler or [],
                    "extra_env_vars": extra_env_vars or [],
                    "extra_script": extra_script or "",
                }
            )
        super().__init__(
            per_job["cores"],
            python_executable=python_executable,
            log_folder=log_folder,
            mpiexec_executable=mpiexec_executable,
            batch_folder=batch_folder,
            **{k: v for k, v in per_job.items() if k != "cores"},
        )
        self.shell = shell or shutil.which("bash") or "/bin/sh"
        self.cwd = cwd
        self.cancel_grace = cancel_grace
        self.unbuffered = unbuffered
        self.kill_on_exit = kill_on_exit
        self._submit_cmd = self.shell  # type: ignore[misc]
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._history: deque[_Job] = deque(maxlen=history_size)
        self._owner_pid = os.getpid()
        _SCHEDULERS.add(self)

    # ---------------------------------------------------------------- configuration

    def __getstate__(self) -> dict[str, Any]:
        """Return the constructor arguments (running jobs are not part of the state)."""
        return {
            **super().__getstate__(),
            **self._given,
            "batch_folder": self.batch_folder,
            "shell": self.shell,
            "cwd": self.cwd,
            "cancel_grace": self.cancel_grace,
            "unbuffered": self.unbuffered,
            "kill_on_exit": self.kill_on_exit,
            "history_size": self._history.maxlen,
        }

    def log_fname(self, name: str) -> Path:
        """Name of the launcher's log file, with ``${JOB_ID}`` in it.

        Same as the base class, but creates missing parent folders.
        """
        folder = Path(self.log_folder) if self.log_folder else Path.cwd()
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}-{self._JOB_ID_VARIABLE}.log"

    def job_script(self, options: dict[str, Any], *, index: int | None = None) -> str:
        """Return the job script: a shell script that expects ``JOB_ID`` and ``NAME``.

        Parameters
        ----------
        options
            Launcher command-line options (set by adaptive-scheduler's ``JobManager``).
        index
            Index of the learner; selects the resources when ``cores`` etc. are tuples.

        Returns
        -------
        str
            The script.

        """
        template = textwrap.dedent(
            """\
            #!/usr/bin/env bash
            # adaptive_llm_local.LocalScheduler job; run with {job_id_env} and {name_env} set.
            {extra_scheduler}

            {extra_env_vars}

            {extra_script}

            {executor_specific}
            """,
        )
        return template.format(
            job_id_env=JOB_ID_ENV,
            name_env=JOB_NAME_ENV,
            extra_scheduler=self.extra_scheduler(index=index),
            extra_env_vars=self.extra_env_vars(index=index),
            extra_script=self.extra_script(index=index),
            executor_specific=self._executor_specific(f"${{{JOB_NAME_ENV}}}", options, index=index),
        )

    def _script_for(self, name: str, index: int | None) -> Path:
        if self.single_job_script:
            # JobManager._setup wrote one script for all jobs, named after the prefix.
            script = self.batch_fname(name.rsplit("-", 1)[0])
            if not script.exists():
                if self._command_line_options is None:
                    msg = (
                        f"No job script {script}: start jobs through a RunManager "
                        "(its JobManager writes the script) or call write_job_script first."
                    )
                    raise FileNotFoundError(msg)
                self.write_job_script(name.rsplit("-", 1)[0], self._command_line_options)
            return script
        if index is None:
            msg = "`index` is required when cores/executor_type/... are tuples."
            raise ValueError(msg)
        options = self._multi_job_script_options(index)
        self.write_job_script(name, options, index=index)
        return self.batch_fname(name)

    # ---------------------------------------------------------------- jobs

    def _reserve_output(self, name: str) -> tuple[str, Path, int]:
        """Pick a job id and create its ``.out`` file exclusively (never overwrite logs)."""
        (out_template,) = self.output_fnames(name)
        log_template = self.log_fname(name)
        with _JOB_COUNTER_LOCK:
            for job_id in job_id_candidates(_JOB_COUNTER):
                out = expand_job_id(out_template, self._JOB_ID_VARIABLE, job_id)
                if expand_job_id(log_template, self._JOB_ID_VARIABLE, job_id).exists():
                    continue
                try:
                    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                except FileExistsError:
                    continue
                return job_id, out, fd
        raise AssertionError("unreachable")  # pragma: no cover

    def _job_env(self, job_id: str, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env[JOB_ID_ENV] = job_id
        env[JOB_NAME_ENV] = name
        if self.unbuffered:
            env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start_job(self, name: str, *, index: int | None = None) -> None:
        """Start job ``name`` now, as a process in a new session.

        Parameters
        ----------
        name
            Job name, e.g. ``"adaptive-scheduler-3"``.
        index
            Index of the learner in the database, passed by adaptive-scheduler's
            ``JobManager``; it selects the resources when they are given as tuples.

        """
        script = self._script_for(name, index)
        job_id, output, fd = self._reserve_output(name)
        try:
            with self._lock:
                popen = subprocess.Popen(
                    [self.shell, str(script)],
                    stdin=subprocess.DEVNULL,
                    stdout=fd,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=self._job_env(job_id, name),
                    start_new_session=True,
                    close_fds=True,
                )
                job = _Job(job_id, name, popen, output, time.time())
                self._jobs[job_id] = job
        except BaseException:
            output.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        threading.Thread(
            target=self._reap,
            args=(job,),
            name=f"LocalScheduler-reaper-{job_id}",
            daemon=True,
        ).start()

    def _reap(self, job: _Job) -> None:
        """Wait for the job's leader, clean up its process group, log, reap, forget."""
        returncode: int | None = None
        try:
            returncode = self._wait_and_kill_group(job)
            line = format_epilogue(
                job.job_id,
                job.name,
                returncode,
                cancelled=job.cancelled,
                when=_dt.datetime.now(),
            )
            if line is not None:
                _append_line(job.output, line)
        finally:
            # Whatever happened above, the job must leave the queue, or the RunManager
            # would wait for it forever.
            with self._lock:
                with contextlib.suppress(ChildProcessError):
                    job.popen.wait()
                job.reaped = True
                job.returncode = returncode if returncode is not None else job.popen.returncode
                job.end_time = time.time()
                self._jobs.pop(job.job_id, None)
                self._history.append(job)
            job.done.set()

    def _wait_and_kill_group(self, job: _Job) -> int | None:
        """Wait until the leader exits, then SIGKILL what is left of its process group."""
        pid = job.popen.pid
        if not hasattr(os, "waitid"):  # pragma: no cover - macOS
            returncode = job.popen.wait()
            with self._lock:
                _killpg(pid, signal.SIGKILL)
            return returncode
        try:
            # WNOWAIT leaves the leader a zombie: its pid, which is also the process
            # group id, cannot be reused until we reap it, so killpg stays safe.
            result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            # Somebody else reaped it (a foreign SIGCHLD handler); the group id may
            # already belong to another process, so leave the group alone.
            return None
        assert result is not None
        with self._lock:
            _killpg(pid, signal.SIGKILL)
        return returncode_from_waitid(result.si_code, result.si_status)

    def queue(self, *, me_only: bool = True) -> dict[str, dict[str, Any]]:
        """Return the jobs whose process has not ended yet.

        Parameters
        ----------
        me_only
            Ignored: this scheduler only knows its own jobs.

        Returns
        -------
        dict
            ``{job_id: {"job_name", "state": "R", "pid", "start_time"}}``.

        """
        del me_only
        with self._lock:
            return {
                job.job_id: {
                    "job_name": job.name,
                    "state": "R",
                    "pid": job.popen.pid,
                    "start_time": job.start_time,
                }
                for job in self._jobs.values()
            }

    def history(self) -> list[dict[str, Any]]:
        """Return the jobs that ended, oldest first.

        Returns
        -------
        list of dict
            ``job_id``, ``job_name``, ``pid``, ``output`` (the ``.out`` file),
            ``start_time``, ``end_time``, ``returncode`` (``-N``: killed by signal
            ``N``) and ``cancelled``.

        """
        with self._lock:
            return [job.record() for job in self._history]

    def _signal_jobs(self, jobs: Iterable[_Job], signum: int) -> None:
        with self._lock:
            for job in jobs:
                if not job.reaped:
                    job.cancelled = True
                    _killpg(job.popen.pid, signum)

    def cancel(
        self,
        job_names: list[str],
        *,
        with_progress_bar: bool = True,
        max_tries: int = 5,
    ) -> None:
        """Cancel the running jobs called ``job_names``: their whole process groups.

        Sends ``SIGTERM``, waits up to ``cancel_grace`` seconds, then ``SIGKILL``; returns
        once the jobs have been reaped (or warns after ``max_tries`` more seconds).

        Parameters
        ----------
        job_names
            Names of the jobs to cancel; unknown or finished names are ignored.
        with_progress_bar
            Ignored (kept for signature compatibility).
        max_tries
            Seconds to wait for the jobs to disappear after ``SIGKILL``.

        """
        del with_progress_bar
        wanted = set(job_names)
        with self._lock:
            jobs = [job for job in self._jobs.values() if job.name in wanted]
        if not jobs:
            return
        self._signal_jobs(jobs, signal.SIGTERM)
        if not _wait_all(jobs, self.cancel_grace):
            self._signal_jobs([job for job in jobs if not job.done.is_set()], signal.SIGKILL)
            if not _wait_all(jobs, max(max_tries, 1)):
                left = sorted(job.job_id for job in jobs if not job.done.is_set())
                warnings.warn(f"Couldn't cancel jobs {left}.", UserWarning, stacklevel=2)

    def cancel_all(self, *, timeout: float | None = None) -> None:
        """Cancel every job this scheduler started.

        Parameters
        ----------
        timeout
            Grace period before ``SIGKILL``; ``cancel_grace`` when ``None``.

        """
        with self._lock:
            jobs = list(self._jobs.values())
        if not jobs:
            return
        self._signal_jobs(jobs, signal.SIGTERM)
        grace = self.cancel_grace if timeout is None else timeout
        if not _wait_all(jobs, grace):
            self._signal_jobs(jobs, signal.SIGKILL)
            _wait_all(jobs, 5.0)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job of this scheduler is running.

        Parameters
        ----------
        timeout
            Maximum seconds to wait; ``None`` waits forever.

        Returns
        -------
        bool
            ``True`` when all jobs ended.

        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                jobs = list(self._jobs.values())
            if not jobs:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            jobs[0].done.wait(left if left is None else min(left, 1.0))


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` to an existing file (it may have been moved away meanwhile)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _wait_all(jobs: Iterable[_Job], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(job.done.wait(max(0.0, deadline - time.monotonic())) for job in jobs)


@atexit.register
def _kill_jobs_at_exit() -> None:
    for scheduler in list(_SCHEDULERS):
        # A forked child inherits the registry but must not kill its parent's jobs.
        if scheduler.kill_on_exit and scheduler._owner_pid == os.getpid():
            scheduler.cancel_all(timeout=1.0)
