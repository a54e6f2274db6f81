"""Bounded reading of log files: the head and the tail, cleaned, redacted and numbered.

Reading is O(head + tail) whatever the file size: a 1 GB log costs what a 1 MB log
costs. Lines of the head are numbered 1, 2, ... from the start of the file. When the
file is larger than ``head_bytes + tail_bytes`` the middle is skipped and the lines
of the tail are numbered from the end, ``-1`` being the last line (as ``tail -n``
counts), because their absolute numbers are unknown without reading everything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from adaptive_llm_local.errors import LogNotReadableError
from adaptive_llm_local.regular_files import NotRegularFileError, open_regular
from adaptive_llm_local.triage.evidence import Evidence
from adaptive_llm_local.triage.redact import redact, redact_lines

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 512 * 1024
MAX_LINE_CHARS = 2000

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Control characters that never occur in text logs; \t, \n, \r, \b, \f and ESC do.
_BINARY_CHARS = re.compile(r"[\x00-\x07\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd]")
_BINARY_LINE = "[binary data]"


@dataclass
class LogWindow:
    """What was read of a log.

    Attributes
    ----------
    lines
        Cleaned, redacted lines with their numbers (see the module docstring).
    size_bytes
        Size of the file in bytes (for in-memory text: of its UTF-8 encoding, or its
        length in characters when it is larger than the window).
    truncated
        True when the middle of the log was skipped.
    notes
        Remarks for the reader: binary content, NUL bytes, truncation.
    binary
        True when most of what was read is not text.
    source
        The path read, or None for in-memory text.
    """

    lines: list[Evidence]
    size_bytes: int
    truncated: bool
    notes: list[str] = field(default_factory=list)
    binary: bool = False
    source: str | None = None

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        """Inclusive ranges of the line numbers present (at most two: head and tail)."""
        if not self.lines:
            return ()
        heads = [ev.line for ev in self.lines if ev.line > 0]
        tails = [ev.line for ev in self.lines if ev.line < 0]
        out = []
        if heads:
            out.append((heads[0], heads[-1]))
        if tails:
            out.append((tails[0], tails[-1]))
        return tuple(out)


def human_size(n: int) -> str:
    """Format a byte count for people (``512 KB``, ``1.2 GB``)."""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def clean_line(raw: bytes) -> tuple[str, bool, bool]:
    """Turn raw line bytes into display text.

    Keeps what a terminal would finally show after ``\\r`` overwrites (progress
    bars), drops ANSI escape sequences and NUL bytes, decodes UTF-8 with a
    Latin-1 fallback per line, strips trailing whitespace and caps the length at
    `MAX_LINE_CHARS` (keeping both ends).

    Returns
    -------
    tuple[str, bool, bool]
        The text, whether NUL bytes were removed, whether the line is binary.
    """
    had_nul = b"\x00" in raw
    if had_nul:
        raw = raw.replace(b"\x00", b"")
    if raw.endswith(b"\r"):
        raw = raw.rstrip(b"\r")
    if b"\r" in raw:
        parts = [p for p in raw.split(b"\r") if p.strip()]
        raw = parts[-1] if parts else b""
    if len(raw) > 8 * MAX_LINE_CHARS:
        raw = raw[: 4 * MAX_LINE_CHARS] + b"\n" + raw[-4 * MAX_LINE_CHARS :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    binary = False
    if _BINARY_CHARS.search(text):
        bad = len(_BINARY_CHARS.findall(text))
        binary = bad > 2 and bad > 0.1 * len(text)
    text = text.rstrip()
    if "\n" in text or len(text) > MAX_LINE_CHARS:
        text = text.replace("\n", "")
        half = MAX_LINE_CHARS // 2
        text = f"{text[:half]} …[line cut]… {text[-half:]}"
    return text, had_nul, binary


def _split(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def window_from_bytes(
    head: bytes,
    tail: bytes | None,
    *,
    size_bytes: int,
    skipped: int = 0,
    source: str | None = None,
) -> LogWindow:
    """Build a `LogWindow` from the head (and, if the middle was skipped, the tail).

    Parameters
    ----------
    head
        The first bytes of the log (all of it when ``tail`` is None).
    tail
        The last bytes of the log, or None when ``head`` is the whole log.
    size_bytes
        Total size of the log.
    skipped
        Number of bytes skipped between head and tail.
    source
        Path for messages, or None.
    """
    raw_lines: list[tuple[int, bytes]] = []
    if tail is None:
        raw_lines = [(i, raw) for i, raw in enumerate(_split(head), start=1)]
    else:
        head_parts = head.split(b"\n")
        if head_parts and head_parts[-1] == b"":
            head_parts.pop()
        raw_lines = [(i, raw) for i, raw in enumerate(head_parts, start=1)]
        tail_parts = _split(tail)
        n = len(tail_parts)
        raw_lines += [(i - n, raw) for i, raw in enumerate(tail_parts)]

    texts: list[str] = []
    numbers: list[int] = []
    nul = False
    binary_bytes = 0
    for number, raw in raw_lines:
        text, had_nul, binary = clean_line(raw)
        nul = nul or had_nul
        if binary:
            binary_bytes += len(raw)
            text = _BINARY_LINE
        texts.append(text)
        numbers.append(number)

    redacted = redact("\n".join(texts)).split("\n")
    if len(redacted) != len(texts):
        redacted = list(redact_lines(texts))
    lines = [Evidence(n, t) for n, t in zip(numbers, redacted, strict=True)]
    read = len(head) + (len(tail) if tail is not None else 0)
    notes: list[str] = []
    is_binary = read > 0 and binary_bytes > 0.3 * read
    if is_binary:
        notes.append("binary content: this does not look like a text log")
    elif binary_bytes:
        notes.append(f"{human_size(binary_bytes)} of binary data replaced by '{_BINARY_LINE}'")
    if nul:
        notes.append("NUL bytes removed (sparse file, or a log truncated while being written)")
    if tail is not None:
        notes.append(
            f"log truncated: middle {human_size(skipped)} skipped; lines of the last "
            f"{human_size(len(tail))} are numbered from the end (-1 = last line)"
        )
    if size_bytes == 0:
        notes.append("empty log")
    return LogWindow(
        lines=lines,
        size_bytes=size_bytes,
        truncated=tail is not None,
        notes=notes,
        binary=is_binary,
        source=source,
    )


def _unreadable(name: str, exc: OSError) -> LogNotReadableError:
    if isinstance(exc, PermissionError):
        return LogNotReadableError(
            f"Cannot read the log {name}: permission denied. Check the file's owner and "
            "mode, or copy it somewhere you can read."
        )
    return LogNotReadableError(f"Cannot read the log {name}: {exc.strerror or exc}.")


def read_log(
    path: str | os.PathLike[str],
    *,
    head_bytes: int = HEAD_BYTES,
    tail_bytes: int = TAIL_BYTES,
    file: BinaryIO | None = None,
) -> LogWindow:
    """Read at most ``head_bytes`` from the start and ``tail_bytes`` from the end of a log.

    Parameters
    ----------
    path
        The log file.
    head_bytes, tail_bytes
        Window sizes. A file no larger than their sum is read whole.
    file
        The log already opened (and checked) by the caller: it is read instead of
        opening ``path`` again, which then only names it in messages. The caller
        closes it.

    Returns
    -------
    LogWindow
        The numbered, cleaned, redacted lines.

    Raises
    ------
    LogNotReadableError
        The path is missing, a directory, not a regular file, or unreadable. A FIFO or a
        device is never opened; one swapped in after the check is refused without blocking.
    """
    name = os.fspath(path)
    if file is not None:
        return _read_window(file, name, head_bytes, tail_bytes)
    try:
        fh = open_regular(name)
    except FileNotFoundError:
        raise LogNotReadableError(
            f"Log file not found: {name}. Check the path; the job may not have started yet "
            "or may write its output somewhere else (see #SBATCH --output)."
        ) from None
    except NotRegularFileError as exc:
        if exc.is_folder:
            raise LogNotReadableError(
                f"{name} is a directory, not a log file. Pass the job's output file inside it "
                "(for example slurm-<jobid>.out)."
            ) from None
        raise LogNotReadableError(
            f"{name} is {exc.kind}, not a regular file: not opened. Save the log to a file first."
        ) from None
    except OSError as exc:
        raise _unreadable(name, exc) from None
    with fh:
        return _read_window(fh, name, head_bytes, tail_bytes)


def _read_window(fh: BinaryIO, name: str, head_bytes: int, tail_bytes: int) -> LogWindow:
    """The window of the open log ``fh`` (read from its start whatever its position)."""
    try:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(0)
        if size <= head_bytes + tail_bytes:
            data = fh.read(head_bytes + tail_bytes)
            return window_from_bytes(data, None, size_bytes=max(size, len(data)), source=name)
        head = fh.read(head_bytes)
        fh.seek(size - tail_bytes)
        tail = fh.read(tail_bytes)
    except OSError as exc:
        raise _unreadable(name, exc) from None
    skipped = size - len(head) - tail_bytes
    return window_from_bytes(head, tail, size_bytes=size, skipped=skipped, source=name)


def window_from_text(
    text: str, *, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES
) -> LogWindow:
    """Same as `read_log` for a log already in memory (windowed by characters)."""
    if len(text) <= head_bytes + tail_bytes:
        data = text.encode("utf-8", errors="replace")
        return window_from_bytes(data, None, size_bytes=len(data))
    head = text[:head_bytes].encode("utf-8", errors="replace")
    tail = text[-tail_bytes:].encode("utf-8", errors="replace")
    skipped = len(text) - head_bytes - tail_bytes
    return window_from_bytes(head, tail, size_bytes=len(text), skipped=skipped)
