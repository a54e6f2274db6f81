"""The only module that imports ``chromadb``: clients, collections, and our embedding function.

Either a persisted local directory (``PersistentClient``) or a shared Chroma server
(``HttpClient``), telemetry off in both. Every collection is created and opened with
:class:`LocalEmbeddingFunction`, so Chroma's default embedding function (which downloads
an ONNX model) is never used; vectors are passed explicitly on every write and query.
Chroma's own errors are turned into :class:`~adaptive_llm_local.errors.IndexUnavailableError`
messages here, so no other module needs to know them.

A Chroma server has no authentication: run it bound to loopback
(``chroma run --host 127.0.0.1 --port 8000 --path DIR``) and reach it from other
machines through an SSH tunnel, never on a public interface.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

from ..errors import IndexUnavailableError

EF_NAME = "adaptive-llm-local"
SPACE: Space = "cosine"


@register_embedding_function
class LocalEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the local llama.cpp model.

    Registered under ``adaptive-llm-local`` so a collection's stored configuration
    names it (and not Chroma's downloading default). Our code passes vectors itself;
    this object is what Chroma would call for text-only adds or queries.

    Parameters
    ----------
    embed
        Function from texts to unit vectors (the index's embedder); ``None`` (a function
        Chroma rebuilt from a collection's stored configuration, which holds no settings)
        embeds nothing: calling it raises :class:`IndexUnavailableError`.
    model_id, dim
        The embedding model recorded in the collection configuration.
    """

    def __init__(
        self,
        embed: Callable[[Sequence[str]], list[list[float]]] | None = None,
        model_id: str = "",
        dim: int = 0,
    ) -> None:
        self._embed = embed
        self.model_id = model_id
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:
        if self._embed is None:
            raise IndexUnavailableError(
                f"This collection's embedding function (model {self.model_id or 'unknown'}) "
                "has no model: pass vectors, or open the index through "
                "adaptive_llm_local.retrieval.Index, which embeds with the configured model."
            )
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in self._embed(list(input))]

    @staticmethod
    def name() -> str:
        return EF_NAME

    def default_space(self) -> Space:
        return SPACE

    def supported_spaces(self) -> list[Space]:
        return [SPACE]

    def get_config(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalEmbeddingFunction:
        return LocalEmbeddingFunction(
            None, str(config.get("model_id", "")), int(config.get("dim", 0))
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        return


@dataclass(frozen=True)
class Row:
    """One stored record as read back."""

    id: str
    document: str
    metadata: dict[str, Any]
    distance: float | None = None
    embedding: list[float] | None = None


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


@contextlib.contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Turn Chroma/SQLite/HTTP failures into one clear :class:`IndexUnavailableError`."""
    try:
        yield
    except IndexUnavailableError:
        raise
    except Exception as exc:
        text = str(exc)
        if len(text) > 400:  # Chroma quotes whole vectors in some messages
            text = text[:400] + "…"
        lowered = text.lower()
        if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
            raise IndexUnavailableError(
                f"The index at {where} is read-only ({text}). Fix its permissions, or copy it to a "
                "writable folder and point ADAPTIVE_LLM_INDEX_DIR there."
            ) from None
        if any(
            s in lowered
            for s in ("connection refused", "could not connect", "connecterror", "max retries")
        ):
            raise IndexUnavailableError(
                f"Cannot reach the Chroma server at {where} ({text.splitlines()[0] if text else exc!r}). "
                "Start it (`chroma run --host 127.0.0.1 --port PORT --path DIR`) or unset "
                "ADAPTIVE_LLM_CHROMA_URL to use the local index."
            ) from None
        if "malformed" in lowered or "corrupt" in lowered or "not a database" in lowered:
            raise IndexUnavailableError(
                f"The index at {where} is damaged ({text}). Move it aside and rebuild it with "
                "`adaptive-llm-local index add ...`."
            ) from None
        raise IndexUnavailableError(
            f"Chroma failed on the index at {where}: {type(exc).__name__}: {text}"
        ) from None


class Table:
    """One Chroma collection, with batched writes and plain-Python reads."""

    def __init__(self, collection: Any, where: str, max_batch: int) -> None:
        self._c = collection
        self.where = where
        self.max_batch = max_batch

    @property
    def name(self) -> str:
        return str(self._c.name)

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._c.metadata or {})

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        with translate_errors(self.where):
            self._c.modify(metadata=dict(metadata))

    def count(self) -> int:
        with translate_errors(self.where):
            return int(self._c.count())

    def upsert(
        self,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        embeddings: Sequence[Sequence[float]],
    ) -> None:
        """Write rows, at most ``max_batch`` per Chroma call (each call is one transaction)."""
        with translate_errors(self.where):
            for s in range(0, len(ids), self.max_batch):
                e = s + self.max_batch
                vectors = embeddings[s:e]
                self._c.upsert(
                    ids=list(ids[s:e]),
                    documents=list(documents[s:e]),
                    metadatas=[dict(m) for m in metadatas[s:e]],
                    # numpy arrays go through as they are: converting 5k x 576 floats costs seconds
                    embeddings=vectors if hasattr(vectors, "shape") else [list(v) for v in vectors],
                )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        """Merge new metadata fields into existing rows (vectors untouched)."""
        with translate_errors(self.where):
            for s in range(0, len(ids), self.max_batch):
                e = s + self.max_batch
                self._c.update(ids=list(ids[s:e]), metadatas=[dict(m) for m in metadatas[s:e]])

    def delete(self, ids: Sequence[str]) -> None:
        with translate_errors(self.where):
            for s in range(0, len(ids), self.max_batch):
                self._c.delete(ids=list(ids[s : s + self.max_batch]))

    def get(
        self,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        documents: bool = True,
        embeddings: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Row]:
        """Rows by id or metadata filter (missing ids are simply absent)."""
        include = (
            ["metadatas"]
            + (["documents"] if documents else [])
            + (["embeddings"] if embeddings else [])
        )
        out: list[Row] = []
        with translate_errors(self.where):
            if ids is not None:
                chunks = [
                    list(ids[s : s + self.max_batch]) for s in range(0, len(ids), self.max_batch)
                ]
                results = [self._c.get(ids=c, include=include) for c in chunks if c]
            else:
                results = [
                    self._c.get(
                        where=dict(where) if where else None,
                        include=include,
                        limit=limit,
                        offset=offset,
                    )
                ]
        for res in results:
            docs = res.get("documents") or [None] * len(res["ids"])
            metas = res.get("metadatas") or [None] * len(res["ids"])
            vecs = res.get("embeddings")
            for i, rid in enumerate(res["ids"]):
                vec = [float(x) for x in vecs[i]] if vecs is not None and len(vecs) > i else None
                out.append(Row(rid, docs[i] or "", dict(metas[i] or {}), None, vec))
        return out

    def iter_all(
        self, *, page: int = 1000, documents: bool = True, embeddings: bool = False
    ) -> Iterator[list[Row]]:
        """Every row, a page at a time (ordered by Chroma's internal order)."""
        offset = 0
        while True:
            rows = self.get(limit=page, offset=offset, documents=documents, embeddings=embeddings)
            if not rows:
                return
            yield rows
            offset += len(rows)

    def query(
        self, embedding: Sequence[float], n: int, *, where: Mapping[str, Any] | None = None
    ) -> list[Row]:
        """The ``n`` nearest rows by cosine distance, nearest first."""
        if n <= 0:
            return []
        with translate_errors(self.where):
            res = self._c.query(
                query_embeddings=[[float(x) for x in embedding]],
                n_results=n,
                where=dict(where) if where else None,
                include=["metadatas", "documents", "distances"],
            )
        ids = res["ids"][0]
        docs = (res.get("documents") or [[None] * len(ids)])[0]
        metas = (res.get("metadatas") or [[None] * len(ids)])[0]
        dists = (res.get("distances") or [[None] * len(ids)])[0]
        return [
            Row(
                rid,
                docs[i] or "",
                dict(metas[i] or {}),
                float(dists[i]) if dists[i] is not None else None,
            )
            for i, rid in enumerate(ids)
        ]


class Store:
    """A Chroma client: a persisted folder or a server URL.

    Use :meth:`local` or :meth:`remote`; :meth:`close` releases the folder.
    """

    def __init__(self, client: Any, where: str, *, remote: bool) -> None:
        self._client = client
        self.where = where
        self.is_remote = remote
        with translate_errors(where):
            self.max_batch = int(client.get_max_batch_size())

    @classmethod
    def local(cls, path: Path) -> Store:
        """Open (creating if needed) the persisted index folder ``path``."""
        with translate_errors(str(path)):
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        return cls(client, str(path), remote=False)

    @classmethod
    def remote(cls, url: str) -> Store:
        """Connect to a Chroma server (``http://host:port``)."""
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise IndexUnavailableError(
                f"ADAPTIVE_LLM_CHROMA_URL={url!r} is not a URL like http://127.0.0.1:8000."
            )
        ssl = parsed.scheme == "https"
        port = parsed.port or (443 if ssl else 8000)
        with translate_errors(url):
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=ssl, settings=_chroma_settings()
            )
            client.heartbeat()
        return cls(client, url, remote=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def names(self) -> list[str]:
        with translate_errors(self.where):
            return [getattr(c, "name", c) for c in self._client.list_collections()]

    def open(self, name: str, ef: LocalEmbeddingFunction) -> Table | None:
        """The collection ``name``, opened with our embedding function; ``None`` if absent."""
        if name not in self.names():
            return None
        with translate_errors(self.where):
            return Table(
                self._client.get_collection(name, embedding_function=ef), self.where, self.max_batch
            )

    def create(self, name: str, ef: LocalEmbeddingFunction, metadata: Mapping[str, Any]) -> Table:
        """Create (or open, if it appeared meanwhile) a cosine-space collection."""
        with translate_errors(self.where):
            col = self._client.get_or_create_collection(
                name,
                embedding_function=ef,
                metadata=dict(metadata),
                configuration={"hnsw": {"space": SPACE}},
            )
        return Table(col, self.where, self.max_batch)

    def drop(self, name: str) -> None:
        if name in self.names():
            with translate_errors(self.where):
                self._client.delete_collection(name)

    def rename(self, old: str, new: str) -> None:
        with translate_errors(self.where):
            self._client.get_collection(old, embedding_function=LocalEmbeddingFunction()).modify(
                name=new
            )
