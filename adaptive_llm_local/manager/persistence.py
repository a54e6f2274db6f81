"""SQLite persistence of diagnoses, so a kernel restart or a second ``attach`` redoes nothing.

Two tables: one diagnosis per failure signature (the expensive, model-made part) and one
row per failed job occurrence pointing at its signature. Schema changes are numbered
migrations. Every call opens its own short transaction, so callers may use the store
from worker threads; WAL mode lets readers run beside the writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..diagnose import Diagnosis
from ..errors import AssistantError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE diagnoses (
        signature TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        summary TEXT NOT NULL,
        model TEXT,
        data TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE occurrences (
        run TEXT NOT NULL,
        job_key TEXT NOT NULL,
        job_id TEXT,
        job_name TEXT,
        log_path TEXT,
        status TEXT NOT NULL,
        signature TEXT,
        error TEXT,
        data TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (run, job_key)
    );
    CREATE INDEX occurrences_signature ON occurrences (signature);
    """,
)


@dataclass(frozen=True)
class JobRecord:
    """One failed job as stored: its status and, when diagnosed, its diagnosis."""

    run: str
    job_key: str
    job_id: str | None
    job_name: str | None
    log_path: str | None
    status: str  # "diagnosed", "logs_missing" or "error"
    signature: str | None
    error: str | None
    diagnosis: Diagnosis | None
    created_at: float


class DiagnosisStore:
    """Diagnoses by signature and failed-job occurrences, in one SQLite file.

    Parameters
    ----------
    path
        The database file (created with its folder when missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise AssistantError(
                f"Cannot open the diagnosis database {self.path}: {exc}. Move it aside "
                "(it is rebuilt automatically; only cached diagnoses are lost)."
            ) from None
        except OSError as exc:
            raise AssistantError(
                f"Cannot create the diagnosis database {self.path}: {exc.strerror}. "
                "Set ADAPTIVE_LLM_HOME or ADAPTIVE_LLM_INDEX_DIR to a writable folder."
            ) from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                with db:
                    yield db
            finally:
                db.close()

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")

    # --- diagnoses by signature ---------------------------------------------------------

    def get_diagnosis(self, signature: str) -> Diagnosis | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT data FROM diagnoses WHERE signature = ?", (signature,)
            ).fetchone()
        return Diagnosis.from_json(json.loads(row[0])) if row else None

    def put_diagnosis(self, diagnosis: Diagnosis) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO diagnoses VALUES (?, ?, ?, ?, ?, ?)",
                (
                    diagnosis.signature,
                    diagnosis.category,
                    diagnosis.summary,
                    diagnosis.model,
                    json.dumps(diagnosis.to_json()),
                    diagnosis.created_at,
                ),
            )

    def signatures(self) -> dict[str, Diagnosis]:
        with self._connect() as db:
            rows = db.execute("SELECT signature, data FROM diagnoses").fetchall()
        return {sig: Diagnosis.from_json(json.loads(data)) for sig, data in rows}

    # --- occurrences --------------------------------------------------------------------

    def put_occurrence(
        self,
        run: str,
        job_key: str,
        *,
        job_id: str | None,
        job_name: str | None,
        log_path: str | None,
        status: str,
        diagnosis: Diagnosis | None = None,
        error: str | None = None,
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run,
                    job_key,
                    job_id,
                    job_name,
                    log_path,
                    status,
                    diagnosis.signature if diagnosis else None,
                    error,
                    json.dumps(diagnosis.to_json()) if diagnosis else None,
                    time.time(),
                ),
            )

    def occurrences(self, run: str | None = None) -> list[JobRecord]:
        query = "SELECT * FROM occurrences"
        args: tuple[Any, ...] = ()
        if run is not None:
            query += " WHERE run = ?"
            args = (run,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_at", args).fetchall()
        return [
            JobRecord(
                run=r[0],
                job_key=r[1],
                job_id=r[2],
                job_name=r[3],
                log_path=r[4],
                status=r[5],
                signature=r[6],
                error=r[7],
                diagnosis=Diagnosis.from_json(json.loads(r[8])) if r[8] else None,
                created_at=r[9],
            )
            for r in rows
        ]

    def job(self, job_id: str) -> JobRecord | None:
        """The newest diagnosed occurrence of job ``job_id`` in any run (``None``: none)."""
        for record in reversed(self.occurrences()):
            if record.diagnosis is not None and job_id in (record.job_key, record.job_id):
                return record
        return None

    def count_by_signature(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT signature, COUNT(*) FROM occurrences WHERE signature IS NOT NULL GROUP BY signature"
            ).fetchall()
        return dict(rows)
