"""One-line messages for the chat's SQLite files that cannot be opened or written.

``threads.sqlite3`` (the conversations) and ``agent.sqlite3`` (audit log, allow rules,
undo backups) can be damaged by a crash, truncated by a copy, replaced by garbage,
read-only, or on a full disk. Each case becomes an :class:`~.errors.AgentError` that
names the file and what to do, never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .errors import AgentError


class DatabaseUnusableError(AgentError):
    """One of the chat's SQLite files cannot be opened or written: the chat cannot go on."""


LOST = {
    "threads.sqlite3": "the chat threads' history",
    "agent.sqlite3": "the audit log, the allow rules and the undo backups",
}
"""What moving each file aside loses (the run's own files are never in them)."""


def _full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "disk is full" in text or getattr(exc, "errno", None) == 28  # ENOSPC


def database_error(path: Path, exc: BaseException) -> DatabaseUnusableError:
    """The one-line error for ``exc`` raised while opening or writing the file ``path``."""
    where = f"the chat's database {path}"
    if _full(exc):
        return DatabaseUnusableError(
            f"Cannot write {where}: the disk is full. Free some space there (or set "
            "ADAPTIVE_LLM_HOME to a folder with room) and start again; your files were not changed."
        )
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return DatabaseUnusableError(
            f"Cannot write {where}: it is read-only or not yours. Make it writable (chmod u+w) "
            "or set ADAPTIVE_LLM_HOME to a folder of yours; your files were not changed."
        )
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        return DatabaseUnusableError(f"Cannot open {where}: {exc.strerror or exc}.")
    lost = LOST.get(path.name, "what the chat saved in it")
    return DatabaseUnusableError(
        f"Cannot open {where}: {exc} (damaged or not a database). Move it aside "
        f"(mv {path} {path}.broken) and start again: a new one is made, and only "
        f"{lost} in it is lost."
    )


def probe(conn: sqlite3.Connection) -> None:
    """Fail now, not mid-conversation, on a file that is not a database or is damaged.

    Reads the schema and every page of it (``PRAGMA quick_check``: linear in the
    file, a few milliseconds for the chat's files).

    Raises
    ------
    sqlite3.DatabaseError
        As SQLite reports it (``quick_check`` problems as ``database disk image is malformed``).
    """
    rows = conn.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        problem = "; ".join(str(r[0]) for r in rows[:2])
        raise sqlite3.DatabaseError(f"database disk image is malformed ({problem})")


def open_database(path: Path, setup: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A checked connection to ``path`` with ``setup`` done on it, or the one-line error.

    Raises
    ------
    DatabaseUnusableError
        When the folder or file cannot be made, opened, checked (:func:`probe`) or set up.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    except (sqlite3.Error, OSError) as exc:
        raise database_error(path, exc) from None
    try:
        probe(conn)
        setup(conn)
    except (sqlite3.Error, OSError) as exc:
        conn.close()
        raise database_error(path, exc) from None
    return conn
