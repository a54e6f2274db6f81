"""The agent's own SQLite file: audit log, "allow always" rules and undo backups.

Every write the agent considers leaves a trail here: ``proposed`` (with its diff),
then ``approved``/``denied`` (a person decided) or ``automatic`` (YOLO or an allow
rule), then ``applied`` (with the diff actually applied) or ``failed``. Writes check
for an ``approved``/``automatic`` record of their call before touching a file.
Events are keyed by (thread, call, event), so a node that runs twice records once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

AUTHORIZING = ("approved", "automatic")
EVENTS = ("proposed", "approved", "denied", "automatic", "applied", "failed")

_MIGRATIONS = (
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        thread_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        event TEXT NOT NULL,
        tool TEXT NOT NULL,
        path TEXT,
        actor TEXT NOT NULL,
        diff TEXT,
        detail TEXT,
        UNIQUE (thread_id, call_id, event)
    );
    CREATE TABLE allow_rules (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        thread_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('tool', 'path')),
        value TEXT NOT NULL,
        UNIQUE (thread_id, kind, value)
    );
    CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        thread_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('edit', 'move')),
        path TEXT NOT NULL,
        dest TEXT,
        before BLOB,
        after_sha TEXT,
        undone INTEGER NOT NULL DEFAULT 0,
        UNIQUE (thread_id, call_id)
    );
    """,
)


@dataclass(frozen=True)
class AuditRecord:
    at: float
    thread_id: str
    call_id: str
    event: str
    tool: str
    path: str | None
    actor: str
    diff: str | None
    detail: str | None


@dataclass(frozen=True)
class AllowRule:
    """ "Allow always" for one tool (``kind="tool"``) or one path in one thread."""

    id: int
    thread_id: str
    kind: str
    value: str

    def describe(self) -> str:
        what = f"tool {self.value}" if self.kind == "tool" else f"path {self.value}"
        return f"#{self.id}: always allow {what}"


@dataclass(frozen=True)
class Backup:
    """What an applied write replaced, so that ``/undo`` can restore it."""

    id: int
    thread_id: str
    call_id: str
    kind: str  # "edit" or "move"
    path: str
    dest: str | None
    before: str | None  # None: the edit created the file
    after_sha: str | None


class Journal:
    """Audit log, allow rules and backups in one SQLite file (safe across threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE, not executescript (which commits first): two sessions opening
        # a new folder at once (terminal and notebook) migrate one after the other
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(_MIGRATIONS[version:], version + 1):
                    for statement in filter(str.strip, script.split(";")):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- audit ----------------------------------------------------------------------

    def record(
        self,
        thread_id: str,
        call_id: str,
        event: str,
        *,
        tool: str,
        path: str | None = None,
        actor: str = "agent",
        diff: str | None = None,
        detail: str | None = None,
    ) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO audit (at, thread_id, call_id, event, tool, path, actor, diff, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), thread_id, call_id, event, tool, path, actor, diff, detail),
            )

    def authorization(self, thread_id: str, call_id: str) -> str | None:
        """The event (``approved`` or ``automatic``) that authorizes a call, if any."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT event FROM audit WHERE thread_id = ? AND call_id = ? AND event IN (?, ?)",
                (thread_id, call_id, *AUTHORIZING),
            ).fetchone()
        return row[0] if row else None

    def events(self, thread_id: str | None = None) -> list[AuditRecord]:
        query = "SELECT at, thread_id, call_id, event, tool, path, actor, diff, detail FROM audit"
        args: tuple[str, ...] = ()
        if thread_id is not None:
            query += " WHERE thread_id = ?"
            args = (thread_id,)
        with self._tx() as conn:
            rows = conn.execute(query + " ORDER BY id", args).fetchall()
        return [AuditRecord(*row) for row in rows]

    # --- allow rules ----------------------------------------------------------------

    def allow(self, thread_id: str, kind: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO allow_rules (at, thread_id, kind, value) VALUES (?, ?, ?, ?)",
                (time.time(), thread_id, kind, value),
            )

    def rules(self, thread_id: str) -> list[AllowRule]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, thread_id, kind, value FROM allow_rules WHERE thread_id = ? ORDER BY id",
                (thread_id,),
            ).fetchall()
        return [AllowRule(*row) for row in rows]

    def revoke(self, thread_id: str, rule_id: int) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM allow_rules WHERE thread_id = ? AND id = ?", (thread_id, rule_id)
            )
        return cursor.rowcount > 0

    # --- backups --------------------------------------------------------------------

    def save_backup(
        self,
        thread_id: str,
        call_id: str,
        kind: str,
        path: str,
        *,
        before: str | None = None,
        after_sha: str | None = None,
        dest: str | None = None,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO backups"
                " (at, thread_id, call_id, kind, path, dest, before, after_sha)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), thread_id, call_id, kind, path, dest, before, after_sha),
            )

    def last_backup(self, thread_id: str) -> Backup | None:
        """The most recent write of the thread that has not been undone."""
        return self._one_backup("thread_id = ? AND undone = 0 ORDER BY id DESC LIMIT 1", thread_id)

    def backup(self, backup_id: int) -> Backup | None:
        return self._one_backup("id = ? AND undone = 0", backup_id)

    def _one_backup(self, where: str, value: object) -> Backup | None:
        query = f"SELECT id, thread_id, call_id, kind, path, dest, before, after_sha FROM backups WHERE {where}"
        with self._tx() as conn:
            row = conn.execute(query, (value,)).fetchone()
        return Backup(*row) if row else None

    def mark_undone(self, backup_id: int) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE backups SET undone = 1 WHERE id = ?", (backup_id,))
