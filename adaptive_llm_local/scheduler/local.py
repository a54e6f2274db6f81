"""`LocalScheduler`: a complete adaptive-scheduler `BaseScheduler` that runs jobs as local processes.

The job scripts and adaptive-scheduler's interface live here; starting, reaping and
killing the processes is :mod:`.processes`' job.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import textwrap
import threading
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from adaptive_scheduler.scheduler import BaseScheduler

from .options import broadcast_per_job, expand_job_id, job_id_candidates
from .processes import ProcessTable

if TYPE_CHECKING:
    from collections.abc import Callable

    from adaptive_scheduler.utils import EXECUTOR_TYPES

JOB_ID_ENV = "JOB_ID"
JOB_NAME_ENV = "NAME"

# One counter per Python process: job ids stay unique across scheduler instances,
# which matters because the DatabaseManager refuses a job id it already knows.
_JOB_COUNTER = itertools.count(1)
_JOB_COUNTER_LOCK = threading.Lock()
_SCHEDULERS: weakref.WeakSet[LocalScheduler] = weakref.WeakSet()


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
        self._submit_cmd = self.shell
        self._processes = ProcessTable(history_size)
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
            "history_size": self._processes.history_size,
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
        self._processes.start(
            job_id,
            name,
            [self.shell, str(script)],
            output=output,
            fd=fd,
            cwd=self.cwd,
            env=self._job_env(job_id, name),
        )

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
        return {
            job.job_id: {
                "job_name": job.name,
                "state": "R",
                "pid": job.popen.pid,
                "start_time": job.start_time,
            }
            for job in self._processes.running()
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
        return self._processes.history()

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
        jobs = [job for job in self._processes.running() if job.name in wanted]
        left = self._processes.terminate(jobs, self.cancel_grace, max(max_tries, 1))
        if left:
            warnings.warn(f"Couldn't cancel jobs {left}.", UserWarning, stacklevel=2)

    def cancel_all(self, *, timeout: float | None = None) -> None:
        """Cancel every job this scheduler started.

        Parameters
        ----------
        timeout
            Grace period before ``SIGKILL``; ``cancel_grace`` when ``None``.

        """
        grace = self.cancel_grace if timeout is None else timeout
        self._processes.terminate(self._processes.running(), grace, 5.0)

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
        return self._processes.wait(timeout)


@atexit.register
def _kill_jobs_at_exit() -> None:
    for scheduler in list(_SCHEDULERS):
        # A forked child inherits the registry but must not kill its parent's jobs.
        if scheduler.kill_on_exit and scheduler._owner_pid == os.getpid():
            scheduler.cancel_all(timeout=1.0)
