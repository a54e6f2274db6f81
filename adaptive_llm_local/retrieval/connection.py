"""Opening, locking, checking and closing the index's Chroma collections.

:class:`IndexConnection` owns the lifecycle: a persisted folder has one owner process
(:mod:`.lock`) or the collections live on a Chroma server; each collection is checked
once per opening against the configured embedding model; a rebuild that a crash
interrupted is finished or discarded when the index is opened. :class:`~.index.Index`
adds what is done with the collections.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ..config import Settings
from ..errors import IndexMismatchError, IndexUnavailableError
from ..regular_files import open_regular
from .embedder import Embedder
from .lock import IndexLock, read_only_error
from .records import DOCS, FAILURES

if TYPE_CHECKING:
    from .store import Store, Table

COLLECTIONS = {FAILURES: "adaptive-llm-failures", DOCS: "adaptive-llm-docs"}
SCHEMA = 1
REBUILD_SUFFIX = "-rebuild"
_SQLITE = "chroma.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class IndexConnection:
    """The index's collections, opened on demand and held for a :meth:`session`.

    Parameters
    ----------
    settings
        Where the index lives (``settings.chroma_path`` or ``settings.chroma_url``),
        which embedding model to use, and how long to wait for the folder's owner.
    embedder
        Overrides the configured embedding model (benchmarks).
    create
        Create the collections when missing; with ``False`` a missing local index
        raises :class:`IndexUnavailableError` and missing collections read as empty.
    keep_open
        Keep the Chroma client (and the folder's lock) between calls. With ``False``
        every call opens and closes it, so a long-lived process (a notebook's manager)
        does not lock the CLI out between diagnoses.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        create: bool = True,
        keep_open: bool = True,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        self.create = create
        self.keep_open = keep_open
        self.url = settings.chroma_url
        self.path = settings.chroma_path
        timeout = settings.index_lock_timeout
        self._lock = None if self.url else IndexLock(settings.index_path, timeout=timeout)
        self._store: Store | None = None
        self._tables: dict[str, Table | None] = {}
        self._checked: set[str] = set()
        self._depth = 0
        self._mutex = threading.RLock()

    # --- opening and closing ---------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.url or str(self.path)

    @staticmethod
    def exists(settings: Settings) -> bool:
        """Whether a local index was ever created (a server is assumed to exist)."""
        return bool(settings.chroma_url) or (settings.chroma_path / _SQLITE).is_file()

    @contextlib.contextmanager
    def session(self) -> Iterator[Self]:
        """Hold the index open (and locked) for a group of calls."""
        with self._mutex:
            if self._depth == 0 and self._store is None:
                self._open()
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0 and not self.keep_open:
                    self._close()

    def open(self) -> Self:
        """Open now (to surface a locked, read-only or mismatched index early)."""
        with self.session():
            for kind in COLLECTIONS:
                self._table(kind, create=False)
            return self

    def close(self) -> None:
        with self._mutex:
            self._close()

    def __del__(self) -> None:
        # an index dropped without close() must not keep the folder locked
        with contextlib.suppress(Exception):
            self._close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if self.url is None:
            if not self.create and not self.exists(self.settings):
                raise IndexUnavailableError(
                    f"No index at {self.path}. Create one with `adaptive-llm-local index add PATH...`."
                )
            assert self._lock is not None
            self._lock.acquire()
            try:
                self._check_writable()
                check_database(self.path / _SQLITE)
            except BaseException:
                self._lock.release()
                raise
        from .store import Store

        try:
            self._store = Store.remote(self.url) if self.url else Store.local(self.path)
            self._recover_rebuild()
        except BaseException:
            self._close()
            raise

    def _check_writable(self) -> None:
        if not self.path.exists():
            return
        probe = self.path / f".write-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
            database = self.path / _SQLITE
            if database.exists() and not os.access(database, os.W_OK):
                raise PermissionError(13, "the database file is read-only")
        except OSError as exc:
            raise read_only_error(self.path, exc) from None

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._tables = {}
        self._checked = set()
        if self._lock is not None:
            self._lock.release()

    # --- collections -----------------------------------------------------------------------

    def _ef(self, dim: int = 0) -> Any:
        from .store import LocalEmbeddingFunction

        return LocalEmbeddingFunction(self.embedder.embed, self.embedder.model_id, dim)

    def _table(self, kind: str, *, create: bool | None = None, check: bool = True) -> Table | None:
        """The collection of ``kind``; ``None`` when missing and not to be created."""
        assert self._store is not None, "use inside a session"
        table = self._tables.get(kind)
        if table is None:
            name = COLLECTIONS[kind]
            table = self._store.open(name, self._ef())
            if table is None and (self.create if create is None else create):
                table = self._store.create(
                    name, self._ef(self.embedder.dim), self._collection_metadata(kind)
                )
            self._tables[kind] = table
        if table is not None and check and kind not in self._checked:
            self._check_model(table)
            self._checked.add(kind)
        return table

    def _collection_metadata(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "app": "adaptive-llm-local",
            "kind": kind,
            "schema": SCHEMA,
            "embed_model": self.embedder.model_id,
            "embed_dim": self.embedder.dim,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **extra,
        }

    def _check_model(self, table: Table) -> None:
        built = table.metadata.get("embed_model")
        if built != self.embedder.model_id:
            raise IndexMismatchError(
                f"The index at {self.location} was built with embedding model {built or 'unknown'}, "
                f"now configured {self.embedder.model_id}: run `adaptive-llm-local index rebuild` "
                "(or configure the model it was built with: ADAPTIVE_LLM_EMBED_MODEL)."
            )

    def _recover_rebuild(self) -> None:
        """Finish or discard a rebuild that a crash interrupted."""
        assert self._store is not None
        names = set(self._store.names())
        for name in COLLECTIONS.values():
            temp = name + REBUILD_SUFFIX
            if temp not in names:
                continue
            table = self._store.open(temp, self._ef())
            if name not in names and table is not None and table.metadata.get("complete"):
                self._store.rename(temp, name)
            elif name in names:
                self._store.drop(temp)


def check_database(database: Path) -> None:
    """Refuse an index database that Chroma would silently replace or fail on obscurely.

    Chroma turns a 0-byte ``chroma.sqlite3`` into a new, empty index: every entry would
    be gone without a word. A file that is not SQLite at all fails deep inside Chroma.

    Raises
    ------
    IndexUnavailableError
        Naming the file and the fix.
    """
    try:
        with open_regular(database) as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return  # a new index
    except OSError as exc:
        raise IndexUnavailableError(
            f"The index database {database} cannot be read ({exc}). Move the folder "
            f"{database.parent} aside and run `adaptive-llm-local index add PATH...`."
        ) from None
    if head == _SQLITE_MAGIC:
        return
    what = "is empty (0 bytes)" if not head else f"is not an SQLite database (it starts {head!r})"
    raise IndexUnavailableError(
        f"The index database {database} {what}: it was truncated or overwritten (a full disk, "
        "an interrupted copy?), and `index rebuild` cannot recover it. Delete the folder "
        f"{database.parent} (or move it aside) and run `adaptive-llm-local index add PATH...` "
        "to build the index again."
    )
