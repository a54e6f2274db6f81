"""Find and read the files a user points ``index add`` at, skipping what cannot be indexed.

Every problem with one file (missing, vanished, unreadable, binary, too large, an
unsupported type, a link out of the given folders, a FIFO) becomes a :class:`Skipped`
with a sentence saying why; it never stops the other files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .. import regular_files
from ..regular_files import NotRegularFileError, file_kind
from .chunking import CHUNKERS

LOG_SUFFIXES = frozenset({".log", ".out", ".err"})
"""Job logs: triaged and stored as failures."""
DOC_SUFFIXES = frozenset(CHUNKERS)
"""Documents: chunked and stored as docs."""
MAX_DOC_BYTES = 4 * 1024 * 1024
"""Larger documents are skipped (logs of any size are fine: triage reads them bounded)."""
_SNIFF_BYTES = 8192
_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox"}
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0c\x08\x1b")


class SkipFile(Exception):
    """A file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """A path left out of the index and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    """A file to index: ``kind`` is ``"log"`` or ``"doc"``; ``identity`` its device and inode."""

    path: Path
    kind: str
    identity: tuple[int, int] | None = None


def kind_of(path: Path) -> str | None:
    """``"log"``, ``"doc"``, or ``None`` for a file type the index does not take."""
    suffix = path.suffix.lower()
    if suffix in LOG_SUFFIXES:
        return "log"
    if suffix in DOC_SUFFIXES:
        return "doc"
    return None


def looks_binary(sample: bytes) -> bool:
    """Whether the first bytes of a file look like binary data rather than text.

    A few NUL bytes occur in real logs (a crash pads the file), so the test is the share
    of control bytes, not their presence.
    """
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in _TEXT_CONTROLS)
    if controls / len(sample) > 0.10:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        return exc.start < len(sample) - 4
    return False


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as text that can be printed and stored: bytes that are not UTF-8 as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def not_regular(mode: int) -> str | None:
    """Why a file of ``mode`` is not read (``None`` for a regular file)."""
    kind = file_kind(mode)
    return None if kind is None else f"is {kind}, not a regular file: not opened"


def _inside(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Walk:
    """The files under the given roots; links are followed only to places inside them."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self.seen: set[str] = set()
        self.folders: set[tuple[int, int]] = set()

    def file(self, path: str, info: os.stat_result, kind: str) -> Iterator[Candidate | Skipped]:
        reason = not_regular(info.st_mode)
        if reason:
            yield Skipped(display_path(path), reason)
        elif path not in self.seen:
            self.seen.add(path)
            yield Candidate(Path(path), kind, (info.st_dev, info.st_ino))

    def link(
        self, entry: os.DirEntry[str], folders: list[tuple[str, os.stat_result]]
    ) -> Iterator[Candidate | Skipped]:
        """A link found in a folder: followed only when it stays inside the roots."""
        kind = kind_of(Path(entry.name))
        target = os.path.realpath(entry.path)
        try:
            info = os.stat(entry.path)
        except OSError as exc:
            if kind is not None:
                loop = exc.errno == errno.ELOOP
                yield Skipped(
                    display_path(entry.path),
                    "is a symbolic link loop" if loop else "is a broken symbolic link",
                )
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        if not _inside(target, self.roots):
            if is_dir or kind is not None:
                what = "folder" if is_dir else "file"
                yield Skipped(
                    display_path(entry.path),
                    f"is a link to the {what} {display_path(target)}, outside the given "
                    "folders: not followed",
                )
        elif is_dir:
            folders.append((target, info))
        elif kind is not None:
            yield from self.file(target, info, kind)

    def folder(self, path: str, info: os.stat_result) -> Iterator[Candidate | Skipped]:
        """Walk a folder depth first; each folder once, so links cannot loop; hidden entries skipped."""
        stack = [(path, info)]
        while stack:
            path, info = stack.pop()
            if (info.st_dev, info.st_ino) in self.folders:
                continue
            self.folders.add((info.st_dev, info.st_ino))
            try:
                with os.scandir(path) as scan:
                    entries = sorted(scan, key=lambda e: e.name)
            except OSError as exc:
                yield Skipped(display_path(path), f"folder cannot be read ({exc.strerror or exc})")
                continue
            folders: list[tuple[str, os.stat_result]] = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_symlink():
                        yield from self.link(entry, folders)
                    elif entry.is_dir(follow_symlinks=False):
                        if entry.name not in _SKIP_DIRS:
                            folders.append((entry.path, entry.stat(follow_symlinks=False)))
                    elif (kind := kind_of(Path(entry.name))) is not None:
                        yield from self.file(entry.path, entry.stat(follow_symlinks=False), kind)
                except OSError as exc:
                    yield Skipped(
                        display_path(entry.path), f"cannot be accessed ({exc.strerror or exc})"
                    )
            stack.extend(reversed(folders))


def _named(path: Path, walk: _Walk) -> Iterator[Candidate | Skipped]:
    """One path given by the user: a folder (a link to one is fine) or a file (not a link)."""
    shown = display_path(path)
    try:
        link = path.is_symlink()
        info = os.stat(path)
    except FileNotFoundError:
        yield Skipped(shown, "is a broken symbolic link" if link else "does not exist")
        return
    except OSError as exc:
        loop = exc.errno == errno.ELOOP
        yield Skipped(
            shown,
            "is a symbolic link loop" if loop else f"cannot be accessed ({exc.strerror or exc})",
        )
        return
    real = os.path.realpath(path)
    if stat.S_ISDIR(info.st_mode):
        yield from walk.folder(real, info)
        return
    kind = kind_of(path)
    if kind is None:
        yield Skipped(
            shown,
            f"unsupported file type {path.suffix or '(no suffix)'}: logs are "
            f"{', '.join(sorted(LOG_SUFFIXES))}; docs are {', '.join(sorted(DOC_SUFFIXES))}",
        )
    elif link and not _inside(real, [r for r in walk.roots if r != real]):
        yield Skipped(
            shown,
            f"is a link to {display_path(real)}, outside the given folders: not followed "
            "(name the file itself to index it)",
        )
    else:
        yield from walk.file(real, info, kind)


def iter_candidates(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Candidate | Skipped]:
    """Expand files and folders (recursively, hidden entries skipped) into candidates.

    Nothing outside the given paths is read: a link in a folder is followed only when its
    target lies inside one of the given folders, and a link named directly only when it
    points into one; every link not followed, link loop, and file that is not a regular
    file (FIFO, socket, device) is reported as skipped, and never opened. A file named
    explicitly with an unsupported suffix is reported as skipped; inside a folder such
    files are ignored silently.
    """
    given = [Path(raw).expanduser() for raw in paths]
    roots = []
    for path in given:
        with contextlib.suppress(OSError):
            if os.path.isdir(path) or not path.is_symlink():
                roots.append(os.path.realpath(path))
    walk = _Walk(roots)
    for path in given:
        yield from _named(path, walk)


def open_regular(path: Path, identity: tuple[int, int] | None = None) -> BinaryIO:
    """Open a file for reading only if it is (still) the regular file that was found.

    Opens without blocking (a FIFO swapped in would otherwise wait for a writer) and
    without following a link, then checks the open file itself: with ``identity`` (a
    file the walk found at the real path ``path``) it must be that device and inode and,
    where the kernel says, lie at ``path``, so a folder on the way swapped for a link to
    somewhere else is refused too. Read the returned file, never ``path`` again.

    Raises
    ------
    SkipFile
        If it vanished, cannot be read, is not a regular file, or was replaced.
    """
    try:
        fh = regular_files.open_regular(path, follow_links=False)
    except NotRegularFileError as exc:
        raise SkipFile(f"is {exc.kind}, not a regular file: not opened") from None
    except FileNotFoundError:
        raise SkipFile("vanished before it could be read") from None
    except PermissionError:
        raise SkipFile("permission denied (not readable by this user)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SkipFile("is a symbolic link: not followed") from None
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from None
    if identity is not None:
        info = os.fstat(fh.fileno())
        where = regular_files.opened_path(fh.fileno())
        if identity != (info.st_dev, info.st_ino) or where not in (None, os.fspath(path)):
            fh.close()
            raise SkipFile("was replaced while it was being indexed")
    return fh


def sniff(fh: BinaryIO) -> int:
    """Size of the open file ``fh`` if it is text; leaves it at its start.

    Raises
    ------
    SkipFile
        If it cannot be read or looks binary.
    """
    size = os.fstat(fh.fileno()).st_size
    try:
        sample = fh.read(_SNIFF_BYTES)
        fh.seek(0)
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from None
    if looks_binary(sample):
        raise SkipFile("looks like a binary file, not text")
    return size


def open_text(path: Path, identity: tuple[int, int] | None = None) -> BinaryIO:
    """:func:`open_regular`, then :func:`sniff`: an open text file, at its start.

    Raises
    ------
    SkipFile
        See :func:`open_regular` and :func:`sniff`.
    """
    fh = open_regular(path, identity)
    try:
        sniff(fh)
    except BaseException:
        fh.close()
        raise
    return fh


def check_readable(path: Path, identity: tuple[int, int] | None = None) -> int:
    """Size of a regular file that can be opened and is text.

    Raises
    ------
    SkipFile
        If it vanished, cannot be read, is not a regular file, or looks binary.
    """
    with open_regular(path, identity) as fh:
        return sniff(fh)


def read_document(
    path: Path, max_bytes: int = MAX_DOC_BYTES, identity: tuple[int, int] | None = None
) -> str:
    """The text of a document, decoded as UTF-8 (undecodable bytes replaced).

    The file is opened once: what is checked is what is read.

    Raises
    ------
    SkipFile
        See :func:`check_readable`; also when the file is larger than ``max_bytes``.
    """
    with open_regular(path, identity) as fh:
        size = sniff(fh)
        if size > max_bytes:
            raise SkipFile(
                f"too large to index as a document ({size / 2**20:.1f} MiB > "
                f"{max_bytes / 2**20:.0f} MiB); index the relevant parts as smaller files"
            )
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise SkipFile(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise SkipFile(f"grew past {max_bytes / 2**20:.0f} MiB while it was being read")
    return data.decode("utf-8", errors="replace")
