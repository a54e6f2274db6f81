"""One owner per persisted index: an exclusive ``fcntl`` lock on a file next to it.

Chroma corrupts a persisted directory that two processes write at once, so a process
takes this lock before it opens the directory and keeps it until it closes it. Other
processes wait a bounded time, then get :class:`~adaptive_llm_local.errors.IndexLockedError`
naming the owner. The kernel drops the lock when the owner dies, even by ``kill -9``.
Inside one process the lock is shared (reference counted) by every user of the folder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import IndexLockedError, IndexUnavailableError

LOCK_NAME = "chroma.lock"
DEFAULT_TIMEOUT = 10.0
"""Seconds a second process waits for the owner before giving up."""
_POLL = 0.1


def read_only_error(directory: Path, exc: OSError) -> IndexUnavailableError:
    """The message for an index folder this process cannot write."""
    return IndexUnavailableError(
        f"The index folder {directory} is not writable ({exc.strerror or exc}). Chroma writes "
        "even to search, so fix its permissions, or copy it to a writable place and point "
        "ADAPTIVE_LLM_INDEX_DIR (or --index) there."
    )


def _owner(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _Held:
    """The lock file of one folder, held by this process, with a use count."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.count = 0


_HELD: dict[Path, _Held] = {}
_HELD_LOCK = threading.Lock()


class IndexLock:
    """Exclusive ownership of an index folder by this process.

    Parameters
    ----------
    directory
        The index folder (the lock file is created inside it).
    timeout
        Seconds to wait for another process to let go; ``0`` fails at once.
    """

    def __init__(self, directory: Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.timeout = timeout
        self._acquired = False

    @property
    def held(self) -> bool:
        return self._acquired

    def acquire(self) -> None:
        """Take the lock (waiting up to ``timeout``); re-entrant within a process.

        Raises
        ------
        IndexLockedError
            Another process still owns the folder after ``timeout`` seconds.
        IndexUnavailableError
            The folder cannot be created or written.
        """
        if self._acquired:
            return
        key = Path(os.path.realpath(self.path))
        with _HELD_LOCK:
            held = _HELD.get(key)
            if held is None:
                held = _Held(self._take())
                _HELD[key] = held
            held.count += 1
        self._key = key
        self._acquired = True

    def release(self) -> None:
        if not self._acquired:
            return
        with _HELD_LOCK:
            held = _HELD.get(self._key)
            if held is not None:
                held.count -= 1
                if held.count <= 0:
                    del _HELD[self._key]
                    fcntl.flock(held.fd, fcntl.LOCK_UN)
                    os.close(held.fd)
        self._acquired = False

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take(self) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise read_only_error(self.directory, exc) from None
            raise IndexUnavailableError(
                f"Cannot create the index folder {self.directory}: {exc.strerror or exc}."
            ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._locked_error() from None
                time.sleep(_POLL)
            except OSError as exc:  # e.g. ENOLCK on a network file system without locking
                os.close(fd)
                raise IndexUnavailableError(
                    f"Cannot lock the index folder {self.directory} ({exc.strerror or exc}). Keep the "
                    "index on a local disk, or share one Chroma server (ADAPTIVE_LLM_CHROMA_URL)."
                ) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv)[:300],
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(owner).encode(), 0)
        except OSError:
            pass  # the owner note is a courtesy; the lock itself is held
        return fd

    def _locked_error(self) -> IndexLockedError:
        owner = _owner(self.path)
        who = (
            f"process {owner.get('pid')} on {owner.get('host')} ({owner.get('command', '?')!s}, "
            f"since {owner.get('since', '?')})"
            if owner
            else "another process"
        )
        return IndexLockedError(
            f"The index {self.directory} is locked by {who}; waited {self.timeout:g} s. Only one "
            "process may own a persisted index: wait for it to finish, stop it, or share the index "
            "through a Chroma server (ADAPTIVE_LLM_CHROMA_URL)."
        )
