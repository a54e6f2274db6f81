"""The run folder as a sandbox: every file the agent reads, lists, writes or moves.

Paths are checked twice. First as text: no NUL byte, no ``~``, not too long, and
inside the root after ``..`` and symbolic links are resolved (langchain-community's
``FileManagementToolkit`` stops here). Then while opening: every folder on the way is
opened relative to the previous one with ``O_NOFOLLOW``, so a symbolic link swapped in
after the check is refused instead of followed; the file itself is ``lstat``-ed first
and opened only when it is a regular file with one link (a hard link may be a file
outside the root; FIFOs, devices and sockets are never opened), with ``O_NONBLOCK``,
and ``fstat`` confirms it is the file that was checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..visible import hidden_in_name, visible
from .errors import AgentError, ToolError

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
_BINARY_PROBE = 8192
_CHUNK = 1024 * 1024
MEASURE_BYTES = 8 * 1024**3
"""How far the length of one over-long line is measured (in 1 MiB pieces, nothing kept)."""
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_OPEN_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Limits:
    """Caps on what one tool call may read, scan, write or list."""

    read_bytes: int = 256 * 1024
    scan_bytes: int = 64 * 1024 * 1024
    write_bytes: int = 4 * 1024 * 1024
    entries: int = 500


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


@dataclass(frozen=True)
class Entry:
    """One entry of a listed folder."""

    name: str
    kind: str  # "file", "folder", "symlink", "fifo", "socket", "device"
    size: int


def sha256(data: str | bytes | None) -> str | None:
    """Hex digest of ``data`` (text as UTF-8); ``None`` for a file that does not exist."""
    if data is None:
        return None
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
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


def refuse_hidden(path: str, where: str = "the path") -> None:
    """Refuse a path holding a control, line-break, bidi or invisible character.

    Such a name can make an approval prompt show something else than what is written
    (a newline starts a fake diff line, a bidi override shows ``txt.py`` as ``yp.txt``);
    the message names the character by its escape and shows the path escaped.
    """
    found = hidden_in_name(path)
    if found is not None:
        index, escape, kind = found
        shown = visible(path[:200], name=True) + ("…" if len(path) > 200 else "")
        raise ToolError(
            f"{where} {shown} holds a {kind} ({escape}, character {index + 1}); "
            "names with control, line-break, bidi or invisible characters are refused"
        )


def is_notebook(path: str) -> bool:
    return path.lower().endswith(".ipynb")


class Sandbox:
    """File access confined to ``root`` (the run's folder).

    Parameters
    ----------
    root
        The folder the agent may see; nothing outside it is read or written.
    limits
        Caps on read, scan, write and listing sizes.
    """

    def __init__(self, root: str | os.PathLike[str], limits: Limits | None = None) -> None:
        given = os.path.abspath(os.fspath(root))
        real = os.path.realpath(given)
        if not os.path.isdir(real):
            raise AgentError(f"the chat's sandbox root {given} is not a folder")
        self.root = Path(real)
        self._roots = (real, given)
        self.limits = limits or Limits()

    # --- paths ----------------------------------------------------------------------

    def relative(self, user_path: object) -> str:
        """The checked path relative to the root (``"."`` is the root itself).

        Raises
        ------
        ToolError
            For a path that is not text, has a NUL byte or a control, line-break, bidi
            or invisible character (:func:`refuse_hidden`), starts with ``~``, is too
            long, or leads outside the root (``..``, absolute, or a symbolic link).
        """
        if not isinstance(user_path, str):
            raise ToolError(f"a path must be text, got {type(user_path).__name__}")
        path = user_path.strip() or "."
        if "\x00" in path:
            raise ToolError("the path contains a NUL byte; refused")
        refuse_hidden(user_path)
        too_long = len(path) > MAX_PATH_CHARS or any(
            len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in path.split("/")
        )
        if too_long:
            raise ToolError(f"the path is too long ({len(path)} characters); refused")
        if path.startswith("~"):
            raise ToolError(f"{path}: `~` is not expanded here; give a path inside the run folder")
        real_root = self._roots[0]
        candidate = path if os.path.isabs(path) else os.path.join(real_root, path)
        lexical = os.path.normpath(candidate)
        if not any(_inside(lexical, root) for root in self._roots):
            if os.path.isabs(path):
                raise ToolError(
                    f"{path}: absolute path outside the run folder {real_root}; refused"
                )
            raise ToolError(f"{path}: `..` leads outside the run folder; refused")
        resolved = os.path.realpath(candidate)
        if not _inside(resolved, real_root):
            raise ToolError(
                f"{path}: a symbolic link on this path leads outside the run folder; refused"
            )
        rel = os.path.relpath(resolved, real_root)
        refuse_hidden(rel, "a symbolic link on this path leads to")
        return rel

    def locate(self, user_path: str) -> str | None:
        """:meth:`relative`, or ``None`` for a path outside the root."""
        try:
            return self.relative(user_path)
        except ToolError:
            return None

    @contextlib.contextmanager
    def _parent(self, rel: str) -> Iterator[tuple[int, str]]:
        """The open folder holding ``rel`` and the name inside it, no symlink followed."""
        parts = [] if rel == "." else rel.split(os.sep)
        fd = os.open(self.root, _OPEN_DIR)
        try:
            for part in parts[:-1]:
                try:
                    next_fd = os.open(part, _OPEN_DIR, dir_fd=fd)
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

    @staticmethod
    def _lstat(dir_fd: int, name: str, rel: str) -> os.stat_result:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise ToolError(f"no such file or folder: {rel}") from None
        except OSError as exc:
            raise ToolError(f"{rel}: {exc.strerror or exc}") from None

    @staticmethod
    def _require_file(st: os.stat_result, rel: str) -> None:
        if stat.S_ISDIR(st.st_mode):
            raise ToolError(f"{rel} is a folder; list it with list_directory")
        if not stat.S_ISREG(st.st_mode):
            raise ToolError(
                f"{rel} is a {_kind(st.st_mode)}, not a regular file; it is never opened"
            )
        if st.st_nlink > 1:
            raise ToolError(
                f"{rel} has {st.st_nlink} hard links (it may be a file outside the run folder); refused"
            )

    @contextlib.contextmanager
    def _open_file(
        self, dir_fd: int, name: str, rel: str
    ) -> Iterator[tuple[BinaryIO, os.stat_result]]:
        """The checked regular file, opened for reading (never blocks, follows no link)."""
        st = self._lstat(dir_fd, name, rel)
        self._require_file(st, rel)
        try:
            fd = os.open(name, _OPEN_READ, dir_fd=dir_fd)
        except OSError as exc:
            raise ToolError(f"{rel}: cannot open ({exc.strerror or exc})") from None
        with open(fd, "rb") as handle:
            opened = os.fstat(fd)
            self._require_file(opened, rel)
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                raise ToolError(f"{rel} was replaced while it was being opened; refused")
            yield handle, opened

    # --- reading --------------------------------------------------------------------

    def read_text(
        self, path: str, start_line: int | None = None, end_line: int | None = None
    ) -> FileText:
        """Read a text file, whole (up to the read cap) or a range of lines.

        ``start_line``/``end_line`` count from 1 and are inclusive; a negative
        ``start_line`` means that many lines from the end (``-40``: the last 40 lines).
        """
        rel = self.relative(path)
        with (
            self._parent(rel) as (dir_fd, name),
            self._open_file(dir_fd, name, rel) as (handle, st),
        ):
            if b"\x00" in handle.read(_BINARY_PROBE):
                raise ToolError(f"{rel} is a binary file ({st.st_size} bytes); not shown")
            handle.seek(0)
            if start_line is not None and start_line < 0:
                return self._tail(rel, handle, st.st_size, -start_line)
            if start_line is None and end_line is None:
                return self._head(rel, handle, st.st_size)
            return self._range(rel, handle, st.st_size, max(start_line or 1, 1), end_line)

    def _decode(self, data: bytes) -> str:
        return data.decode("utf-8", "replace")

    def _head(self, rel: str, handle: BinaryIO, size: int) -> FileText:
        data = handle.read(self.limits.read_bytes + 1)
        truncated = len(data) > self.limits.read_bytes
        note = None
        if truncated:
            data = data[: self.limits.read_bytes]
            cut = data.rfind(b"\n") + 1
            if cut:
                data = data[:cut]
            else:
                handle.seek(0)
                note = self._long_line(handle, 1)
        text = self._decode(data)
        n_lines = text.count("\n") + (not text.endswith("\n"))
        return FileText(rel, text, 1, max(n_lines, 1), size, truncated, note)

    def _long_line(self, handle: BinaryIO, number: int, length: int = 0) -> str:
        """What to say about line ``number``, longer than the read cap, of which ``length``
        bytes were read before ``handle``'s position: its length, measured without keeping it."""
        while length < MEASURE_BYTES:
            piece = handle.read(_CHUNK)
            end = piece.find(b"\n")
            length += len(piece) if end < 0 else end
            if end >= 0 or len(piece) < _CHUNK:
                break
        else:
            return (
                f"line {number} is longer than {MEASURE_BYTES} characters; "
                f"showing its first {self.limits.read_bytes}"
            )
        return (
            f"line {number} is {length} characters long; showing its first {self.limits.read_bytes}"
        )

    def _skip_line(self, handle: BinaryIO, budget: int) -> tuple[int, bool]:
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

    def _range(
        self, rel: str, handle: BinaryIO, size: int, first: int, last: int | None
    ) -> FileText:
        """Lines ``first``..``last``; memory stays under the read cap whatever the lines' length."""
        cap, scan = self.limits.read_bytes, self.limits.scan_bytes
        scanned, number = 0, 1
        while number < first:
            read, ended = self._skip_line(handle, scan - scanned)
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
                    note = self._long_line(handle, number, len(raw))
                    lines.append(raw[:cap])
                break
            lines.append(raw)
            taken += len(raw)
            number += 1
        if not lines:
            raise ToolError(f"{rel} has no line {first} (it has {number - 1} lines)")
        text = self._decode(b"".join(lines))
        return FileText(rel, text, first, first + len(lines) - 1, size, truncated, note)

    def _tail(self, rel: str, handle: BinaryIO, size: int, count: int) -> FileText:
        """The last ``count`` lines of the last ``scan_bytes``, each kept to the read cap."""
        cap = self.limits.read_bytes
        start = max(size - self.limits.scan_bytes, 0)
        handle.seek(start)
        if start:
            self._skip_line(handle, self.limits.scan_bytes)  # a partial first line
        tail: deque[bytes] = deque(maxlen=count)
        total = 0
        cut = False
        while raw := handle.readline(cap + 1):
            if len(raw) > cap and not raw.endswith(b"\n"):
                self._skip_line(handle, self.limits.scan_bytes)
                raw, cut = raw[:cap] + b"\n", True
            tail.append(raw)
            total += 1
        if not tail and start:  # one line fills the whole scanned end of the file
            handle.seek(max(size - cap, 0))
            text = self._decode(handle.read(cap))
            note = (
                f"the last line is longer than {self.limits.scan_bytes} characters; "
                f"showing its last {len(text)}"
            )
            return FileText(rel, text, -1, -1, size, True, note)
        kept = sum(map(len, tail))
        while len(tail) > 1 and kept > cap:
            kept -= len(tail.popleft())
        text = self._decode(b"".join(tail))
        # lines are numbered from the start only when the whole file was scanned
        first, last = (total - len(tail) + 1, total) if not start else (-len(tail), -1)
        truncated = bool(start) or cut or len(tail) < min(count, total)
        return FileText(rel, text, first, last, size, truncated)

    def read_for_edit(self, path: str) -> tuple[str, str | None]:
        """The checked path and the file's whole text, ``None`` when it does not exist yet."""
        rel = self.relative(path)
        if rel == ".":
            raise ToolError("the run folder itself cannot be edited; name a file")
        with self._parent(rel) as (dir_fd, name):
            try:
                os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                return rel, None
            with self._open_file(dir_fd, name, rel) as (handle, st):
                if st.st_size > self.limits.write_bytes:
                    raise ToolError(f"{rel} is too large to edit here ({st.st_size} bytes)")
                data = handle.read(self.limits.write_bytes + 1)
        if b"\x00" in data[:_BINARY_PROBE]:
            raise ToolError(f"{rel} is a binary file; it is not edited")
        try:
            return rel, data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{rel} is not UTF-8 text; it is not edited") from None

    def list_dir(self, path: str = ".") -> tuple[str, list[Entry], bool]:
        """Entries of a folder (symbolic links are shown, not followed) and whether capped."""
        rel = self.relative(path)
        with self._parent(rel) as (dir_fd, name):
            st = self._lstat(dir_fd, name, rel)
            if not stat.S_ISDIR(st.st_mode):
                raise ToolError(
                    f"{rel} is a {_kind(st.st_mode)}, not a folder; read it with read_file"
                )
            fd = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
            try:
                entries: list[Entry] = []
                with os.scandir(fd) as scan:
                    for item in scan:
                        try:
                            est = item.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        entries.append(Entry(item.name, _kind(est.st_mode), est.st_size))
            finally:
                os.close(fd)
        entries.sort(key=lambda e: (e.kind != "folder", e.name))
        capped = len(entries) > self.limits.entries
        return rel, entries[: self.limits.entries], capped

    # --- writing --------------------------------------------------------------------

    def refuse_notebook(self, rel: str) -> None:
        if is_notebook(rel):
            raise ToolError(
                f"{rel} is a notebook: its raw JSON is never written here; edit it in Jupyter "
                "(or edit the .py module it imports)"
            )

    def write_text(self, path: str, text: str, *, expected_sha256: str | None) -> str:
        """Replace (or create) a file atomically: temporary file, fsync, rename; mode kept.

        ``expected_sha256`` is the digest of the content the edit was computed from
        (``None``: the file must not exist); a file changed since is refused.
        """
        rel = self.relative(path)
        self.refuse_notebook(rel)
        data = text.encode("utf-8")
        if len(data) > self.limits.write_bytes:
            raise ToolError(f"{rel}: the new content is too large ({len(data)} bytes)")
        _, current = self.read_for_edit(rel)
        if sha256(current) != expected_sha256:
            raise ToolError(
                f"{rel} changed since the edit was proposed; nothing written, propose it again"
            )
        with self._parent(rel) as (dir_fd, name):
            mode = 0o644
            if current is not None:
                mode = stat.S_IMODE(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
            temp = f".{name[:200]}.{secrets.token_hex(4)}.tmp"
            fd = os.open(temp, _OPEN_TEMP, 0o600, dir_fd=dir_fd)
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
        return rel

    def remove(self, path: str, *, expected_sha256: str | None) -> str:
        """Delete a regular file whose content is still ``expected_sha256`` (for undo)."""
        rel, current = self.read_for_edit(path)
        if current is None:
            raise ToolError(f"no such file: {rel}")
        if sha256(current) != expected_sha256:
            raise ToolError(f"{rel} changed since it was written; not removed")
        with self._parent(rel) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
        return rel

    @contextlib.contextmanager
    def _move_ends(
        self, source: str, destination: str
    ) -> Iterator[tuple[str, str, int, str, int, str]]:
        src, dst = self.relative(source), self.relative(destination)
        if "." in (src, dst):
            raise ToolError("the run folder itself cannot be moved or replaced")
        if is_notebook(dst) and not is_notebook(src):
            self.refuse_notebook(dst)
        with self._parent(src) as (src_fd, src_name), self._parent(dst) as (dst_fd, dst_name):
            self._require_file(self._lstat(src_fd, src_name, src), src)
            try:
                os.stat(dst_name, dir_fd=dst_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise ToolError(f"{dst} already exists; a move never overwrites")
            yield src, dst, src_fd, src_name, dst_fd, dst_name

    def check_move(self, source: str, destination: str) -> tuple[str, str]:
        """Validate a move without doing it (for the approval prompt)."""
        with self._move_ends(source, destination) as (src, dst, *_):
            return src, dst

    def move(self, source: str, destination: str) -> tuple[str, str]:
        """Rename a regular file inside the root; never overwrites, never moves folders."""
        with self._move_ends(source, destination) as (src, dst, src_fd, src_name, dst_fd, dst_name):
            os.rename(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return src, dst
