"""Opening under the root without following links: the sandbox's second check.

Every folder on the way is opened relative to the previous one with ``O_NOFOLLOW``, so
a symbolic link swapped in after the path was checked (:mod:`.paths`) is refused instead
of followed; the file itself is ``lstat``-ed first and opened only when it is a regular
file with one link (a hard link may be a file outside the root; FIFOs, devices and
sockets are never opened), with ``O_NONBLOCK``, and ``fstat`` confirms it is the file
that was checked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ToolError

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
OPEN_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
OPEN_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def kind_of(mode: int) -> str:
    """``file``, ``folder``, ``symlink``, ``fifo``, ``socket`` or ``device``."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


@contextlib.contextmanager
def parent_dir(root: Path, rel: str) -> Iterator[tuple[int, str]]:
    """The open folder holding ``rel`` (checked, relative to ``root``) and the name inside
    it, no symbolic link followed on the way."""
    parts = [] if rel == "." else rel.split(os.sep)
    fd = os.open(root, OPEN_DIR)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, OPEN_DIR, dir_fd=fd)
            except FileNotFoundError:
                raise ToolError(f"{rel}: folder {part!r} does not exist") from None
            except OSError:
                raise ToolError(
                    f"{rel}: {part!r} is not a plain folder (a symbolic link or a file); refused"
                ) from None
            os.close(fd)
            fd = next_fd
        yield fd, parts[-1] if parts else "."
    finally:
        os.close(fd)


def lstat_at(dir_fd: int, name: str, rel: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise ToolError(f"no such file or folder: {rel}") from None
    except OSError as exc:
        raise ToolError(f"{rel}: {exc.strerror or exc}") from None


def exists_at(dir_fd: int, name: str) -> bool:
    """Whether ``name`` exists in the folder (a dangling link counts)."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def require_file(st: os.stat_result, rel: str) -> None:
    """Refuse anything but a regular file with one link."""
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(f"{rel} is a folder; list it with list_directory")
    if not stat.S_ISREG(st.st_mode):
        raise ToolError(f"{rel} is a {kind_of(st.st_mode)}, not a regular file; it is never opened")
    if st.st_nlink > 1:
        raise ToolError(
            f"{rel} has {st.st_nlink} hard links (it may be a file outside the run folder); refused"
        )


@contextlib.contextmanager
def open_file(dir_fd: int, name: str, rel: str) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """The checked regular file, opened for reading (never blocks, follows no link)."""
    st = lstat_at(dir_fd, name, rel)
    require_file(st, rel)
    try:
        fd = os.open(name, OPEN_READ, dir_fd=dir_fd)
    except OSError as exc:
        raise ToolError(f"{rel}: cannot open ({exc.strerror or exc})") from None
    with open(fd, "rb") as handle:
        opened = os.fstat(fd)
        require_file(opened, rel)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise ToolError(f"{rel} was replaced while it was being opened; refused")
        yield handle, opened


def write_atomically(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """Replace ``name`` in the folder: temporary file, fsync, rename (never a half file)."""
    temp = f".{name[:200]}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, OPEN_TEMP, 0o600, dir_fd=dir_fd)
    try:
        with open(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(fd, mode)
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)
