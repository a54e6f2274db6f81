"""Open only regular files: never wait on a named pipe, never read a device.

A path checked with ``stat`` can be swapped for a FIFO before it is opened, and a plain
``open`` of a FIFO waits for a writer forever. :func:`open_regular` refuses what is not
a regular file before opening it, opens without blocking, and checks the opened file
itself again.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

_FILE_TYPES = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegularFileError(OSError):
    """The path is a folder, a FIFO, a socket or a device; :attr:`kind` says which."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        super().__init__(f"{os.fspath(path)!s} is {kind}, not a regular file")
        self.kind = kind
        self.is_folder = kind == "a folder"


def file_kind(mode: int) -> str | None:
    """``"a named pipe (FIFO)"``, ``"a folder"``, ... for ``mode``; ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _FILE_TYPES if test(mode)), "a special file")


def check_regular(path: str | os.PathLike[str], info: os.stat_result) -> None:
    """Raise :class:`NotRegularFileError` unless ``info`` is a regular file's."""
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise NotRegularFileError(path, kind)


def open_regular(path: str | os.PathLike[str], *, follow_links: bool = True) -> BinaryIO:
    """``path`` opened for reading in binary mode, if it is a regular file.

    Raises
    ------
    NotRegularFileError
        Before opening when ``stat`` already shows something else, or after the
        non-blocking open when the file was swapped in the meantime.
    OSError
        As ``os.open`` raises it (missing, permission denied, a link with
        ``follow_links=False``).
    """
    info = os.stat(path, follow_symlinks=follow_links)
    if not stat.S_ISLNK(info.st_mode):  # a link not to follow fails to open (ELOOP)
        check_regular(path, info)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        check_regular(path, os.fstat(fd))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def opened_path(fd: int) -> str | None:
    """The real path of the open file ``fd`` as the kernel knows it, or ``None`` if unknown.

    A name is checked before it is opened; any folder on the way can be swapped for a
    link in between. What the kernel says the descriptor is tells whether the file that
    was opened is the one that was checked, wherever the links pointed meanwhile.
    """
    if sys.platform.startswith("linux"):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
    return None
