"""Embeddings for the index, computed by the configured embedding model (``runtime``).

The index never lets Chroma embed anything itself: vectors come from here, in batches,
and the model's id (for a GGUF its file name and size) and dimension are recorded with
each collection so an index built with another model is recognised.

Quality trade-off: a dedicated embedding GGUF (``*embed*.gguf`` in ``models/`` or
``ADAPTIVE_LLM_EMBED_MODEL``) is trained for similarity; the default chat model's
mean-pooled hidden states are not. Its vectors are very anisotropic (unrelated texts
have cosine similarity ~0.5-0.9, related ~0.99), which is why failures are embedded as
a short normalised text and why the relevance threshold is calibrated for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..config import Settings
from ..runtime.types import EmbeddingModel

BATCH_SIZE = 16
"""Most texts per llama.cpp call (and per Chroma write in ingestion)."""
CPU_BATCH_CHARS = 1000
"""Most characters per llama.cpp call on a CPU (~256 tokens).

llama.cpp packs a call's texts into one micro-batch whose attention spans all of them
(masked), so its cost grows with the square of the batch. Measured on 2 CPU cores with
the default model (best of 4 rounds, 32 failure texts of ~60 tokens): one text per call
3.9 texts/s, ~256 tokens per call 4.4 texts/s, ~1000 tokens per call 2.5 texts/s.
"""
GPU_BATCH_CHARS = 8000
"""On a GPU the quadratic part is cheap and bigger batches pay off."""


@dataclass
class EmbedStats:
    """Counters for benchmarks and ``index stats``."""

    texts: int = 0
    calls: int = 0
    seconds: float = 0.0


class Embedder:
    """Batched embeddings from an embedding model, which loads on first use.

    Parameters
    ----------
    model
        A model built for embeddings (``capabilities.embeds``); building one loads
        nothing, so opening an index does not load a model until something is embedded.
    batch_size
        Texts per model call.
    batch_chars
        Most characters per model call; ``None``: :data:`CPU_BATCH_CHARS`, or
        :data:`GPU_BATCH_CHARS` when the model runs on a GPU.
    """

    def __init__(
        self,
        model: EmbeddingModel,
        *,
        batch_size: int = BATCH_SIZE,
        batch_chars: int | None = None,
    ) -> None:
        self.model = model
        self.model_id = model.model_id
        """Recorded with every collection (see ``EmbeddingModel.model_id``)."""
        self.batch_size = max(1, batch_size)
        self._batch_chars = batch_chars
        self.stats = EmbedStats()
        self._dim: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, batch_size: int = BATCH_SIZE) -> Embedder:
        """The configured embedding model (the registry's: a dedicated GGUF, else the chat one)."""
        from ..runtime import get_embedding_model

        return cls(get_embedding_model(settings), batch_size=batch_size)

    @property
    def dim(self) -> int:
        """Vector dimension (loads the model)."""
        if self._dim is None:
            self._dim = int(self.model.embedding_dim())
        return self._dim

    @property
    def batch_chars(self) -> int:
        """Most characters per model call: small on a CPU, large with GPU offload."""
        if self._batch_chars is None:
            on_gpu = self.model.describe().get("gpu_offload_used", False)
            self._batch_chars = GPU_BATCH_CHARS if on_gpu else CPU_BATCH_CHARS
        return self._batch_chars

    def batches(self, texts: Sequence[str]) -> list[list[str]]:
        """Consecutive texts grouped into model calls (``batch_size`` and ``batch_chars`` caps)."""
        out: list[list[str]] = []
        current: list[str] = []
        size = 0
        for text in texts:
            if current and (len(current) >= self.batch_size or size + len(text) > self.batch_chars):
                out.append(current)
                current, size = [], 0
            current.append(text)
            size += len(text)
        if current:
            out.append(current)
        return out

    def embed(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        """One unit vector per text, in as few model calls as the batch caps allow."""
        vectors: list[list[float]] = []
        for batch in self.batches(texts):
            began = time.perf_counter()
            vectors.extend(self.model.embed(batch))
            self.stats.seconds += time.perf_counter() - began
            self.stats.calls += 1
            self.stats.texts += len(batch)
            if on_batch is not None:
                on_batch(len(batch))
        return vectors
