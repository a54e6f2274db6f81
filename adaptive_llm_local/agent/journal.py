"""The agent's own SQLite file: audit log, "allow always" rules and undo backups.

Every write the agent considers leaves a trail here: ``proposed`` (with its diff),
then ``approved``/``denied`` (a person decided) or ``automatic`` (YOLO or an allow
rule), then ``applied`` (with the diff actually applied) or ``failed``. Each proposal
has its own id (:func:`new_proposal_id`, kept in the plan the approval shows), and a
write checks for an ``approved``/``automatic`` record *of that proposal* before it
touches a file. Events are keyed by (proposal, event): a step that runs twice records
once, and call ids that repeat (they restart when the threads database is lost) never
hide a new proposal's records nor authorize it with an old approval.

An "allow always" rule belongs to one (sandbox root, thread, tool, path) and covers
exactly what the prompt showed: for ``move_file`` the source and the destination.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..visible import visible
from .databases import open_database
from .errors import AgentError

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
    # 2: records keyed by proposal (repeated call ids never swallow a record); audit and
    # backups name the sandbox root. Rules of version 1 named a thread only, so they
    # covered the same tool or path in every project: they are dropped (asked again).
    """
    ALTER TABLE audit RENAME TO audit_v1;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        thread_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        proposal_id TEXT NOT NULL,
        event TEXT NOT NULL,
        tool TEXT NOT NULL,
        path TEXT,
        actor TEXT NOT NULL,
        diff TEXT,
        detail TEXT,
        root TEXT,
        UNIQUE (proposal_id, event)
    );
    INSERT INTO audit (id, at, thread_id, call_id, proposal_id, event, tool, path, actor, diff, detail)
        SELECT id, at, thread_id, call_id, 'v1:' || thread_id || ':' || call_id,
               event, tool, path, actor, diff, detail
        FROM audit_v1 ORDER BY id;
    DROP TABLE audit_v1;
    CREATE INDEX audit_thread ON audit (thread_id);
    DROP TABLE allow_rules;
    CREATE TABLE allow_rules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        root TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        path TEXT NOT NULL,
        dest TEXT NOT NULL,
        UNIQUE (root, thread_id, tool, path, dest)
    );
    ALTER TABLE backups RENAME TO backups_v1;
    CREATE TABLE backups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        thread_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        proposal_id TEXT NOT NULL UNIQUE,
        root TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('edit', 'move')),
        path TEXT NOT NULL,
        dest TEXT,
        before BLOB,
        after_sha TEXT,
        undone INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO backups (id, at, thread_id, call_id, proposal_id, kind, path, dest, before,
                         after_sha, undone)
        SELECT id, at, thread_id, call_id, 'v1:' || thread_id || ':' || call_id, kind, path,
               dest, before, after_sha, undone
        FROM backups_v1 ORDER BY id;
    DROP TABLE backups_v1;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


def new_proposal_id() -> str:
    """A fresh id for one proposed write (never equal to an earlier one)."""
    return uuid.uuid4().hex


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
    proposal_id: str = ""
    root: str | None = None
    id: int = 0


ANY_PATH = ""
"""The ``path`` of a rule for a whole tool (``always="tool"``): every file of the root."""


@dataclass(frozen=True)
class AllowRule:
    """ "Allow always" in one sandbox root and thread: one tool on one path (for
    ``move_file`` one source and one destination), or a whole tool (``path`` empty)."""

    id: int
    root: str
    thread_id: str
    tool: str
    path: str
    dest: str

    @property
    def kind(self) -> str:
        return "tool" if self.path == ANY_PATH else "path"

    def covers(self, tool: str, path: str | None, dest: str | None) -> bool:
        """Whether the rule covers this call exactly (tool, path and destination)."""
        if tool != self.tool:
            return False
        if self.path == ANY_PATH:
            return True
        return (path or "", dest or "") == (self.path, self.dest)

    def describe(self) -> str:
        if self.path == ANY_PATH:
            what = "on any file"
        elif self.dest:
            what = f"{visible(self.path, name=True)} -> {visible(self.dest, name=True)}"
        else:
            what = f"on {visible(self.path, name=True)}"
        return (
            f"#{self.id}: always allow {self.tool} {what}"
            f" (in {visible(self.root, name=True)}, thread {visible(self.thread_id, name=True)})"
        )


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
    root: str | None = None  # None: written before roots were recorded


class Journal:
    """Audit log, allow rules and backups in one SQLite file (safe across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

        def setup(conn: sqlite3.Connection) -> None:
            self._conn = conn
            conn.execute("PRAGMA journal_mode=WAL")
            self._migrate()

        self._conn = open_database(path, setup)

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION`, one numbered migration at a time.

        ``BEGIN IMMEDIATE``, not ``executescript`` (which commits first): two sessions
        opening a new folder at once (terminal and notebook) migrate one after the other,
        and each migration commits with its version number or not at all.
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise AgentError(
                        f"{self.path} was written by a newer adaptive-llm-local (schema {version},"
                        f" this one knows {SCHEMA_VERSION}); upgrade, or move the file away"
                    )
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
        proposal: str,
        tool: str,
        path: str | None = None,
        actor: str = "agent",
        diff: str | None = None,
        detail: str | None = None,
        root: str | None = None,
    ) -> None:
        """Record one event of one proposal (the same event twice is kept once)."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if not proposal:
            raise ValueError("an audit record needs the proposal's id")
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO audit (at, thread_id, call_id, proposal_id, event, tool,"
                " path, actor, diff, detail, root) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    thread_id,
                    call_id,
                    proposal,
                    event,
                    tool,
                    path,
                    actor,
                    diff,
                    detail,
                    root,
                ),
            )

    def authorization(self, thread_id: str, call_id: str, proposal: str | None) -> str | None:
        """The event (``approved`` or ``automatic``) that authorizes this proposal, if any."""
        if not proposal:
            return None
        with self._tx() as conn:
            row = conn.execute(
                "SELECT event FROM audit WHERE proposal_id = ? AND thread_id = ? AND call_id = ?"
                " AND event IN (?, ?)",
                (proposal, thread_id, call_id, *AUTHORIZING),
            ).fetchone()
        return row[0] if row else None

    def events(self, thread_id: str | None = None, root: str | None = None) -> list[AuditRecord]:
        """Records, oldest first: all, a thread's, or a thread's in one root (records
        written before roots were recorded count for every root)."""
        query = (
            "SELECT at, thread_id, call_id, event, tool, path, actor, diff, detail,"
            " proposal_id, root, id FROM audit WHERE 1"
        )
        args: list[str] = []
        if thread_id is not None:
            query += " AND thread_id = ?"
            args.append(thread_id)
        if root is not None:
            query += " AND (root = ? OR root IS NULL)"
            args.append(root)
        with self._tx() as conn:
            rows = conn.execute(query + " ORDER BY id", args).fetchall()
        return [AuditRecord(*row) for row in rows]

    # --- allow rules ----------------------------------------------------------------

    def allow(
        self, root: str, thread_id: str, tool: str, path: str = ANY_PATH, dest: str | None = None
    ) -> None:
        """Allow ``tool`` on ``path`` (to ``dest``) in this root and thread from now on."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO allow_rules (at, root, thread_id, tool, path, dest)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), root, thread_id, tool, path, dest or ""),
            )

    def rules(self, root: str, thread_id: str) -> list[AllowRule]:
        """The rules of this root and thread (never another project's)."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, root, thread_id, tool, path, dest FROM allow_rules"
                " WHERE root = ? AND thread_id = ? ORDER BY id",
                (root, thread_id),
            ).fetchall()
        return [AllowRule(*row) for row in rows]

    def revoke(self, root: str, thread_id: str, rule_id: int) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM allow_rules WHERE root = ? AND thread_id = ? AND id = ?",
                (root, thread_id, rule_id),
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
        proposal: str,
        root: str | None = None,
        before: str | None = None,
        after_sha: str | None = None,
        dest: str | None = None,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO backups"
                " (at, thread_id, call_id, proposal_id, root, kind, path, dest, before, after_sha)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    thread_id,
                    call_id,
                    proposal,
                    root,
                    kind,
                    path,
                    dest,
                    before,
                    after_sha,
                ),
            )

    def last_backup(self, thread_id: str, root: str | None = None) -> Backup | None:
        """The most recent write of the thread (in ``root``) that has not been undone.

        Backups written before roots were recorded (schema 1) belong to every root.
        """
        if root is None:
            return self._one_backup(
                "thread_id = ? AND undone = 0 ORDER BY id DESC LIMIT 1", thread_id
            )
        return self._one_backup(
            "thread_id = ? AND (root = ? OR root IS NULL) AND undone = 0 ORDER BY id DESC LIMIT 1",
            thread_id,
            root,
        )

    def backup(self, backup_id: int) -> Backup | None:
        return self._one_backup("id = ? AND undone = 0", backup_id)

    def _one_backup(self, where: str, *values: object) -> Backup | None:
        query = (
            "SELECT id, thread_id, call_id, kind, path, dest, before, after_sha, root"
            f" FROM backups WHERE {where}"
        )
        with self._tx() as conn:
            row = conn.execute(query, values).fetchone()
        return Backup(*row) if row else None

    def mark_undone(self, backup_id: int) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE backups SET undone = 1 WHERE id = ?", (backup_id,))
