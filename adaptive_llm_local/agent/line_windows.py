"""Lines of an open file within a read cap: the head, a range, or the tail.

Memory stays under ``cap`` bytes whatever the lines' length: a line longer than the
cap is cut (and measured, in 1 MiB pieces, so the reader is told how long it is); at
most ``scan`` bytes are read past to reach a range, or scanned back for a tail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import BinaryIO

from .errors import ToolError

_CHUNK = 1024 * 1024
MEASURE_BYTES = 8 * 1024**3
"""How far the length of one over-long line is measured (in 1 MiB pieces, nothing kept)."""


@dataclass(frozen=True)
class FileText:
    """Lines of a file as read through the sandbox."""

    path: str
    text: str
    first_line: int
    last_line: int
    size: int
    truncated: bool
    note: str | None = None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def long_line(handle: BinaryIO, number: int, cap: int, length: int = 0) -> str:
    """What to say about line ``number``, longer than the read cap, of which ``length``
    bytes were read before ``handle``'s position: its length, measured without keeping it."""
    while length < MEASURE_BYTES:
        piece = handle.read(_CHUNK)
        end = piece.find(b"\n")
        length += len(piece) if end < 0 else end
        if end >= 0 or len(piece) < _CHUNK:
            break
    else:
        return f"line {number} is longer than {MEASURE_BYTES} characters; showing its first {cap}"
    return f"line {number} is {length} characters long; showing its first {cap}"


def skip_line(handle: BinaryIO, budget: int) -> tuple[int, bool]:
    """Read past one line, at most ``budget`` bytes, a piece at a time.

    Returns the bytes read and whether the line ended (a newline or the file's end).
    """
    read = 0
    while read < budget:
        piece = handle.readline(min(_CHUNK, budget - read))
        read += len(piece)
        if not piece or piece.endswith(b"\n"):
            return read, True
    return read, False


def head(rel: str, handle: BinaryIO, size: int, cap: int) -> FileText:
    """The file from its start, up to ``cap`` bytes (cut at a line end when there is one)."""
    data = handle.read(cap + 1)
    truncated = len(data) > cap
    note = None
    if truncated:
        data = data[:cap]
        cut = data.rfind(b"\n") + 1
        if cut:
            data = data[:cut]
        else:
            handle.seek(0)
            note = long_line(handle, 1, cap)
    text = _decode(data)
    n_lines = text.count("\n") + (not text.endswith("\n"))
    return FileText(rel, text, 1, max(n_lines, 1), size, truncated, note)


def line_range(
    rel: str, handle: BinaryIO, size: int, first: int, last: int | None, cap: int, scan: int
) -> FileText:
    """Lines ``first``..``last``; memory stays under the read cap whatever the lines' length."""
    scanned, number = 0, 1
    while number < first:
        read, ended = skip_line(handle, scan - scanned)
        scanned += read
        if not ended:
            raise ToolError(
                f"{rel}: line {first} is not within the first {scan} bytes (line {number} "
                f"reaches past them); read the end of the file with :-N instead"
            )
        if read == 0:  # the end of the file
            raise ToolError(f"{rel} has no line {first} (it has {number - 1} lines)")
        number += 1
    lines: list[bytes] = []
    taken = 0
    truncated = False
    note = None
    while last is None or number <= last:
        raw = handle.readline(cap - taken + 1)
        if not raw:
            break
        if len(raw) > cap - taken:  # this line does not fit in what is left of the cap
            truncated = True
            if not lines:
                note = long_line(handle, number, cap, len(raw))
                lines.append(raw[:cap])
            break
        lines.append(raw)
        taken += len(raw)
        number += 1
    if not lines:
        raise ToolError(f"{rel} has no line {first} (it has {number - 1} lines)")
    text = _decode(b"".join(lines))
    return FileText(rel, text, first, first + len(lines) - 1, size, truncated, note)


def tail(rel: str, handle: BinaryIO, size: int, count: int, cap: int, scan: int) -> FileText:
    """The last ``count`` lines of the last ``scan`` bytes, each kept to the read cap."""
    start = max(size - scan, 0)
    handle.seek(start)
    if start:
        skip_line(handle, scan)  # a partial first line
    kept_lines: deque[bytes] = deque(maxlen=count)
    total = 0
    cut = False
    while raw := handle.readline(cap + 1):
        if len(raw) > cap and not raw.endswith(b"\n"):
            skip_line(handle, scan)
            raw, cut = raw[:cap] + b"\n", True
        kept_lines.append(raw)
        total += 1
    if not kept_lines and start:  # one line fills the whole scanned end of the file
        handle.seek(max(size - cap, 0))
        text = _decode(handle.read(cap))
        note = f"the last line is longer than {scan} characters; showing its last {len(text)}"
        return FileText(rel, text, -1, -1, size, True, note)
    kept = sum(map(len, kept_lines))
    while len(kept_lines) > 1 and kept > cap:
        kept -= len(kept_lines.popleft())
    text = _decode(b"".join(kept_lines))
    # lines are numbered from the start only when the whole file was scanned
    first, last = (total - len(kept_lines) + 1, total) if not start else (-len(kept_lines), -1)
    truncated = bool(start) or cut or len(kept_lines) < min(count, total)
    return FileText(rel, text, first, last, size, truncated)
