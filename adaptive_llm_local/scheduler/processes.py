"""Jobs as OS processes: each in its own session, reaped by a thread, its group killed at the end.

:class:`ProcessTable` is the process side of :class:`~.local.LocalScheduler`: it starts
a job's leader in a new session with its output going to the job's ``.out`` file, and a
reaper thread waits for the leader, kills whatever is left of its process group (as a
cluster does at the end of a job), appends the epilogue line on failure
(:mod:`.epilogue`), reaps the leader and moves the job to the history.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .epilogue import format_epilogue, returncode_from_waitid


@dataclass
class JobProcess:
    """One started job: its leader process, its output file and how it ended."""

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


class ProcessTable:
    """The running jobs of one scheduler and the last ``history_size`` ended ones (thread-safe)."""

    def __init__(self, history_size: int) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, JobProcess] = {}
        self._history: deque[JobProcess] = deque(maxlen=history_size)

    @property
    def history_size(self) -> int | None:
        return self._history.maxlen

    def start(
        self,
        job_id: str,
        name: str,
        argv: list[str],
        *,
        output: Path,
        fd: int,
        cwd: str | Path | None,
        env: dict[str, str],
    ) -> None:
        """Run ``argv`` in a new session, stdout and stderr to ``fd`` (closed here)."""
        try:
            with self._lock:
                popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=fd,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
                job = JobProcess(job_id, name, popen, output, time.time())
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

    def _reap(self, job: JobProcess) -> None:
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
                append_line(job.output, line)
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

    def _wait_and_kill_group(self, job: JobProcess) -> int | None:
        """Wait until the leader exits, then SIGKILL what is left of its process group."""
        pid = job.popen.pid
        if not hasattr(os, "waitid"):  # pragma: no cover - macOS
            returncode = job.popen.wait()
            with self._lock:
                killpg(pid, signal.SIGKILL)
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
            killpg(pid, signal.SIGKILL)
        return returncode_from_waitid(result.si_code, result.si_status)

    def running(self) -> list[JobProcess]:
        with self._lock:
            return list(self._jobs.values())

    def history(self) -> list[dict[str, Any]]:
        with self._lock:
            return [job.record() for job in self._history]

    def signal(self, jobs: Iterable[JobProcess], signum: int) -> None:
        """Send ``signum`` to the process groups of ``jobs`` that are not reaped yet."""
        with self._lock:
            for job in jobs:
                if not job.reaped:
                    job.cancelled = True
                    killpg(job.popen.pid, signum)

    def terminate(self, jobs: list[JobProcess], grace: float, kill_wait: float) -> list[str]:
        """``SIGTERM``, ``grace`` seconds, then ``SIGKILL``; ids of jobs still not reaped."""
        if not jobs:
            return []
        self.signal(jobs, signal.SIGTERM)
        if not wait_all(jobs, grace):
            self.signal([job for job in jobs if not job.done.is_set()], signal.SIGKILL)
            wait_all(jobs, kill_wait)
        return sorted(job.job_id for job in jobs if not job.done.is_set())

    def wait(self, timeout: float | None) -> bool:
        """Block until no job is running (``False`` after ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            jobs = self.running()
            if not jobs:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            jobs[0].done.wait(left if left is None else min(left, 1.0))


def killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to an existing file (it may have been moved away meanwhile)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def wait_all(jobs: Iterable[JobProcess], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(job.done.wait(max(0.0, deadline - time.monotonic())) for job in jobs)
