"""Reading the checkpoint file without langgraph: which threads exist.

langgraph-checkpoint-sqlite keeps one row per checkpoint in its ``checkpoints`` table,
keyed by ``thread_id``. Listing threads needs nothing more, so front ends can list them
without paying for the langgraph import (about a second).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def thread_ids(path: Path) -> list[str]:
    """Thread ids with at least one checkpoint in ``path``, oldest first (none: ``[]``)."""
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT thread_id FROM checkpoints GROUP BY thread_id ORDER BY MIN(rowid)"
        ).fetchall()
    except sqlite3.OperationalError:  # created but no checkpoint written yet
        return []
    finally:
        conn.close()
    return [str(row[0]) for row in rows]
