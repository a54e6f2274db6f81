"""Keeping the threads file linear in what was added to the threads.

langgraph-checkpoint-sqlite writes the whole state of a thread at every step, and a
thread's messages only grow: 40 ``/read`` of a 280 KB log copied the first result into
some 160 later checkpoints (about 1 GB). Two things keep it linear here, both without
langgraph (``graph.py`` plugs them in):

- :class:`BodyStore`: every long text of a checkpoint (a tool result, a pasted log) is
  kept once, compressed, in the ``bodies`` table, keyed by its SHA-256; the checkpoint
  holds a small reference. Checkpoints saved before this (no references) read as they
  always did: the serialized type tells them apart.
- :func:`prune_thread`: after each turn only the thread's latest checkpoint (and its
  pending writes, which hold a waiting approval) is kept, besides its small first one:
  langgraph's own ``keep_latest`` strategy, which is all a resume needs for a graph
  without ``DeltaChannel``. An old file bloated by earlier versions is vacuumed once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import zlib
from pathlib import Path

MIN_BODY = 2048
"""Texts of at least this many characters are kept in ``bodies``, not in checkpoints."""
REF = "\x00alm-body"
"""The key of a reference: ``{REF: sha256}`` stands for the text with that hash."""
ESCAPE = "\x00alm-escaped"
"""The key that wraps a genuine dict using ``REF`` or ``ESCAPE`` (so it is never resolved)."""
_CACHE_CHARS = 64 * 1024 * 1024
_VACUUM_FREE_BYTES = 32 * 1024 * 1024


class BodyStore:
    """Long texts of checkpoints, once each, in the ``bodies`` table of ``path``.

    It has its own connection: the saver calls the serializer both inside and outside
    its own lock, and a body must be committed before any checkpoint refers to it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}  # text -> hash, for texts seen in this process
        self._texts: dict[str, str] = {}  # hash -> text
        self._cached = 0
        with self._lock, self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS bodies (hash TEXT PRIMARY KEY, chars INTEGER, "
                "body BLOB NOT NULL)"
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- one text ---------------------------------------------------------------------

    def _remember(self, text: str, digest: str) -> None:
        if self._cached + len(text) > _CACHE_CHARS:
            self._hashes.clear()
            self._texts.clear()
            self._cached = 0
        self._hashes[text] = digest
        self._texts[digest] = text
        self._cached += len(text)

    def put(self, text: str) -> str:
        """Keep ``text`` (once) and return its hash."""
        with self._lock:
            digest = self._hashes.get(text)
            if digest is not None:
                return digest
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            body = zlib.compress(text.encode("utf-8", "surrogatepass"), 6)
            with self._conn:
                self._conn.execute(
                    "INSERT OR IGNORE INTO bodies (hash, chars, body) VALUES (?, ?, ?)",
                    (digest, len(text), body),
                )
            self._remember(text, digest)
            return digest

    def get(self, digest: str) -> str:
        """The text with this hash (``LookupError`` when the file lacks it)."""
        with self._lock:
            text = self._texts.get(digest)
            if text is not None:
                return text
            row = self._conn.execute("SELECT body FROM bodies WHERE hash = ?", (digest,)).fetchone()
            if row is None:
                raise LookupError(f"the threads file {self.path} lacks a text it refers to")
            text = zlib.decompress(row[0]).decode("utf-8", "surrogatepass")
            self._remember(text, digest)
            return text

    # --- whole values -----------------------------------------------------------------

    def externalize(self, value: object) -> tuple[object, bool]:
        """``value`` with its long texts replaced by references; whether any was."""
        found = [False]

        def walk(v: object) -> object:
            if isinstance(v, str):
                if len(v) < MIN_BODY:
                    return v
                found[0] = True
                return {REF: self.put(v)}
            if isinstance(v, list):
                return [walk(x) for x in v]
            if isinstance(v, dict):
                out = {k: walk(x) for k, x in v.items()}
                if REF in v or ESCAPE in v:
                    found[0] = True
                    return {ESCAPE: out}
                return out
            return v  # tuples, sets, objects: kept as they are, inline

        walked = walk(value)
        return (walked, True) if found[0] else (value, False)

    def resolve(self, value: object) -> object:
        """The inverse of :meth:`externalize`."""
        if isinstance(value, list):
            return [self.resolve(x) for x in value]
        if isinstance(value, dict):
            if len(value) == 1 and REF in value and isinstance(value[REF], str):
                return self.get(value[REF])
            if len(value) == 1 and ESCAPE in value and isinstance(value[ESCAPE], dict):
                return {k: self.resolve(x) for k, x in value[ESCAPE].items()}
            return {k: self.resolve(x) for k, x in value.items()}
        return value


def prune_thread(conn: sqlite3.Connection, path: Path, thread_id: str) -> None:
    """Keep only the latest checkpoint of each namespace of ``thread_id`` (and the first).

    Call it while holding the thread's lock (no turn of the thread is running). When
    most of the file is then free (a file grown by earlier versions), it is vacuumed,
    unless another connection uses the file at that moment (tried again next turn).
    """
    try:
        with conn:
            # the first one stays too: it is small (a turn's input) and dates the thread,
            # which lists threads oldest first (graph_store.thread_ids)
            conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ?1 AND rowid NOT IN ("
                " SELECT MIN(rowid) FROM checkpoints WHERE thread_id = ?1) AND checkpoint_id < ("
                " SELECT MAX(c.checkpoint_id) FROM checkpoints c"
                " WHERE c.thread_id = ?1 AND c.checkpoint_ns = checkpoints.checkpoint_ns)",
                (thread_id,),
            )
            conn.execute(
                "DELETE FROM writes WHERE thread_id = ?1 AND NOT EXISTS ("
                " SELECT 1 FROM checkpoints c WHERE c.thread_id = ?1"
                " AND c.checkpoint_ns = writes.checkpoint_ns"
                " AND c.checkpoint_id = writes.checkpoint_id)",
                (thread_id,),
            )
        pages, free, size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    except sqlite3.OperationalError:  # no checkpoint table yet
        return
    if free * size >= _VACUUM_FREE_BYTES and free * 2 >= pages:
        vacuum = sqlite3.connect(path, timeout=0.5)
        try:
            vacuum.execute("VACUUM")
        except sqlite3.OperationalError:  # busy in another session: next time
            pass
        finally:
            vacuum.close()
