"""Reading the checkpoint file without langgraph: which threads exist.

langgraph-checkpoint-sqlite keeps one row per checkpoint in its ``checkpoints`` table,
keyed by ``thread_id``. Listing threads needs nothing more, so front ends can list them
without paying for the langgraph import (about a second).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .databases import database_error


def thread_ids(path: Path) -> list[str]:
    """Thread ids with at least one checkpoint in ``path``, oldest first (none: ``[]``)."""
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise database_error(path, exc) from None
    try:
        rows = conn.execute(
            "SELECT thread_id FROM checkpoints GROUP BY thread_id ORDER BY MIN(rowid)"
        ).fetchall()
    except sqlite3.OperationalError:  # created but no checkpoint written yet
        return []
    except sqlite3.DatabaseError as exc:  # not a database, damaged
        raise database_error(path, exc) from None
    finally:
        conn.close()
    return [str(row[0]) for row in rows]
