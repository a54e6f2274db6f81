"""Find and read the files a user points ``index add`` at, skipping what cannot be indexed.

Every problem with one file (missing, vanished, unreadable, binary, too large, an
unsupported type) becomes a :class:`Skipped` with a sentence saying why; it never
stops the other files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
    """A file to index: ``kind`` is ``"log"`` or ``"doc"``."""

    path: Path
    kind: str


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


def iter_candidates(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Candidate | Skipped]:
    """Expand files and folders (recursively, hidden folders skipped) into candidates.

    A file named explicitly with an unsupported suffix is reported as skipped; inside a
    folder such files are ignored silently.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            resolved = path.resolve()
            is_dir = path.is_dir()
            exists = is_dir or path.exists()
        except OSError as exc:
            yield Skipped(str(path), f"cannot be accessed ({exc.strerror or exc})")
            continue
        if not exists:
            yield Skipped(str(path), "does not exist")
            continue
        if not is_dir:
            kind = kind_of(path)
            if kind is None:
                yield Skipped(
                    str(path),
                    f"unsupported file type {path.suffix or '(no suffix)'}: logs are "
                    f"{', '.join(sorted(LOG_SUFFIXES))}; docs are {', '.join(sorted(DOC_SUFFIXES))}",
                )
            elif resolved not in seen:
                seen.add(resolved)
                yield Candidate(resolved, kind)
            continue
        for root, dirs, files in os.walk(path, onerror=None):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                child = Path(root) / name
                kind = kind_of(child)
                if kind is None or name.startswith("."):
                    continue
                resolved = child.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    yield Candidate(resolved, kind)


def check_readable(path: Path) -> int:
    """Size of a file that can be opened and is text.

    Raises
    ------
    SkipFile
        If it vanished, cannot be read, is not a regular file, or looks binary.
    """
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            sample = fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise SkipFile("vanished before it could be read") from None
    except IsADirectoryError:
        raise SkipFile("is a folder") from None
    except PermissionError:
        raise SkipFile("permission denied (not readable by this user)") from None
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from None
    if looks_binary(sample):
        raise SkipFile("looks like a binary file, not text")
    return size


def read_document(path: Path, max_bytes: int = MAX_DOC_BYTES) -> str:
    """The text of a document, decoded as UTF-8 (undecodable bytes replaced).

    Raises
    ------
    SkipFile
        See :func:`check_readable`; also when the file is larger than ``max_bytes``.
    """
    size = check_readable(path)
    if size > max_bytes:
        raise SkipFile(
            f"too large to index as a document ({size / 2**20:.1f} MiB > "
            f"{max_bytes / 2**20:.0f} MiB); index the relevant parts as smaller files"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SkipFile("vanished while it was being read") from None
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise SkipFile(f"grew past {max_bytes / 2**20:.0f} MiB while it was being read")
    return data.decode("utf-8", errors="replace")
