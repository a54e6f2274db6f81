"""One session at a time in a thread, across processes: a lock file per thread.

The terminal chat and a notebook share the threads of one home folder. A turn or a
decision reads the thread, runs the graph and writes new checkpoints; two of them at
once on one thread would both start from the same checkpoint and the later one would
hide the other's messages and proposals. So each holds the thread's lock for as long
as it runs: ``flock`` on ``locks/<hash>.lock`` next to the checkpoints (released by the
kernel when a process dies, so a crash never leaves a thread locked), plus a lock per
file within this process (``flock`` on two descriptors of one process also excludes,
but the in-process lock gives the clearer message and costs no system call).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import AgentError

LOCK_DIR = "locks"
_POLL = 0.05

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


class ThreadBusyError(AgentError):
    """Another turn or decision runs in this thread (here or in another session)."""


def lock_path(folder: Path, thread_id: str) -> Path:
    """The lock file of a thread (its id hashed: ids may hold any character)."""
    digest = hashlib.sha256(thread_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return folder / LOCK_DIR / f"{digest}.lock"


def _local(path: Path) -> threading.Lock:
    with _local_guard:
        return _local_locks.setdefault(str(path), threading.Lock())


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text:
            return text
    return "unknown pid"


@contextlib.contextmanager
def hold(folder: Path, thread_id: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold ``thread_id``'s lock for the ``with`` block.

    Parameters
    ----------
    folder
        Where the threads live (the lock files go to ``folder/locks``).
    wait
        Seconds to wait for a busy thread before giving up.

    Raises
    ------
    ThreadBusyError
        The thread stayed busy for ``wait`` seconds; the message names the holder.
    """
    path = lock_path(folder, thread_id)
    deadline = time.monotonic() + wait
    local = _local(path)
    if not (local.acquire(timeout=wait) if wait > 0 else local.acquire(blocking=False)):
        raise ThreadBusyError(
            f"a turn is already running in thread {thread_id!r} in this session; wait for it"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ThreadBusyError(
                            f"thread {thread_id!r} is busy in another session "
                            f"({_holder(fd)}); wait for it to finish or open another thread"
                        ) from None
                    time.sleep(_POLL)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        local.release()
