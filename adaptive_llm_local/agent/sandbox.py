"""The run folder as a sandbox: every file the agent reads, lists, writes or moves.

Paths are checked twice: first as text (:mod:`.paths`: inside the root after ``..`` and
symbolic links are resolved, where langchain-community's ``FileManagementToolkit``
stops), then while opening (:mod:`.nofollow`: no link followed on the way, only a
regular file with one link is opened, and ``fstat`` confirms it is the file that was
checked). Reads stay within caps (:mod:`.line_windows`); writes are atomic.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import AgentError, ToolError
from .line_windows import FileText, head, line_range, tail
from .nofollow import (
    OPEN_DIR,
    exists_at,
    kind_of,
    lstat_at,
    open_file,
    parent_dir,
    require_file,
    write_atomically,
)
from .paths import checked_relative, is_notebook

__all__ = ["Entry", "FileText", "Limits", "Sandbox", "sha256"]

_BINARY_PROBE = 8192


@dataclass(frozen=True)
class Limits:
    """Caps on what one tool call may read, scan, write or list."""

    read_bytes: int = 256 * 1024
    scan_bytes: int = 64 * 1024 * 1024
    write_bytes: int = 4 * 1024 * 1024
    entries: int = 500


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
        """The checked path relative to the root (``"."`` is the root itself); see
        :func:`.paths.checked_relative` for what is refused."""
        return checked_relative(user_path, *self._roots)

    def locate(self, user_path: str) -> str | None:
        """:meth:`relative`, or ``None`` for a path outside the root."""
        try:
            return self.relative(user_path)
        except ToolError:
            return None

    # --- reading --------------------------------------------------------------------

    def read_text(
        self, path: str, start_line: int | None = None, end_line: int | None = None
    ) -> FileText:
        """Read a text file, whole (up to the read cap) or a range of lines.

        ``start_line``/``end_line`` count from 1 and are inclusive; a negative
        ``start_line`` means that many lines from the end (``-40``: the last 40 lines).
        """
        rel = self.relative(path)
        cap, scan = self.limits.read_bytes, self.limits.scan_bytes
        with (
            parent_dir(self.root, rel) as (dir_fd, name),
            open_file(dir_fd, name, rel) as (handle, st),
        ):
            if b"\x00" in handle.read(_BINARY_PROBE):
                raise ToolError(f"{rel} is a binary file ({st.st_size} bytes); not shown")
            handle.seek(0)
            if start_line is not None and start_line < 0:
                return tail(rel, handle, st.st_size, -start_line, cap, scan)
            if start_line is None and end_line is None:
                return head(rel, handle, st.st_size, cap)
            first = max(start_line or 1, 1)
            return line_range(rel, handle, st.st_size, first, end_line, cap, scan)

    def read_for_edit(self, path: str) -> tuple[str, str | None]:
        """The checked path and the file's whole text, ``None`` when it does not exist yet."""
        rel = self.relative(path)
        if rel == ".":
            raise ToolError("the run folder itself cannot be edited; name a file")
        with parent_dir(self.root, rel) as (dir_fd, name):
            if not exists_at(dir_fd, name):
                return rel, None
            with open_file(dir_fd, name, rel) as (handle, st):
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
        with parent_dir(self.root, rel) as (dir_fd, name):
            st = lstat_at(dir_fd, name, rel)
            if not stat.S_ISDIR(st.st_mode):
                raise ToolError(
                    f"{rel} is a {kind_of(st.st_mode)}, not a folder; read it with read_file"
                )
            fd = os.open(name, OPEN_DIR, dir_fd=dir_fd)
            try:
                entries: list[Entry] = []
                with os.scandir(fd) as scan:
                    for item in scan:
                        try:
                            est = item.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        entries.append(Entry(item.name, kind_of(est.st_mode), est.st_size))
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
        with parent_dir(self.root, rel) as (dir_fd, name):
            mode = 0o644
            if current is not None:
                mode = stat.S_IMODE(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
            write_atomically(dir_fd, name, data, mode)
        return rel

    def remove(self, path: str, *, expected_sha256: str | None) -> str:
        """Delete a regular file whose content is still ``expected_sha256`` (for undo)."""
        rel, current = self.read_for_edit(path)
        if current is None:
            raise ToolError(f"no such file: {rel}")
        if sha256(current) != expected_sha256:
            raise ToolError(f"{rel} changed since it was written; not removed")
        with parent_dir(self.root, rel) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
        return rel

    @contextmanager
    def _move_ends(
        self, source: str, destination: str
    ) -> Iterator[tuple[str, str, int, str, int, str]]:
        src, dst = self.relative(source), self.relative(destination)
        if "." in (src, dst):
            raise ToolError("the run folder itself cannot be moved or replaced")
        if is_notebook(dst) and not is_notebook(src):
            self.refuse_notebook(dst)
        with (
            parent_dir(self.root, src) as (src_fd, src_name),
            parent_dir(self.root, dst) as (dst_fd, dst_name),
        ):
            require_file(lstat_at(src_fd, src_name, src), src)
            if exists_at(dst_fd, dst_name):
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
