"""The one place that builds a model from settings: backend name → backend, one object each.

``Settings.backend`` names the chat model's backend and ``Settings.embed_backend`` the
embedding model's (both ``llama`` unless set). Adding a backend is one module that
defines a :class:`~.types.Backend` and one line in :data:`BACKENDS`; everything above
the runtime asks for a :class:`~.types.ChatModel` or :class:`~.types.EmbeddingModel` and
reads what it can do from its declared capabilities.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import TypeVar, cast

from ..config import Settings, setting_name
from ..errors import ConfigError
from . import llama_backend
from .types import Backend, ChatModel, EmbeddingModel, ModelSpec

BACKENDS: dict[str, Backend] = {
    "llama": llama_backend.BACKEND,
}
"""Every backend by the name ``ADAPTIVE_LLM_BACKEND`` / ``ADAPTIVE_LLM_EMBED_BACKEND`` give."""

EMBED_N_CTX = 1024
"""Context of the embedding model: the embedded texts are short (see ``retrieval.records``)."""

_M = TypeVar("_M")
_MODELS: dict[tuple[Hashable, ...], object] = {}
_MODELS_LOCK = threading.Lock()


def backend(name: str, field: str = "backend") -> Backend:
    """The backend called ``name``.

    Raises
    ------
    ConfigError
        With the setting that named it and the backends there are.
    """
    found = BACKENDS.get(name)
    if found is None:
        raise ConfigError(
            f"{setting_name(field)}={name!r} is not a model backend; "
            f"choose one of {', '.join(sorted(BACKENDS))}."
        )
    return found


def _shared(kind: str, name: str, spec: ModelSpec[_M]) -> _M:
    key = (kind, name, *spec.key)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = spec.build()
        return cast("_M", _MODELS[key])


def get_chat_model(settings: Settings) -> ChatModel:
    """The process-wide chat model for ``settings`` (not loaded until first use)."""
    name = settings.backend
    return _shared("chat", name, backend(name).chat(settings))


def get_embedding_model(settings: Settings, n_ctx: int = EMBED_N_CTX) -> EmbeddingModel:
    """The process-wide embedding model for ``settings`` (not loaded until first use).

    Raises
    ------
    ConfigError
        When the embedding backend is unknown or has no embeddings.
    """
    name = settings.embed_backend
    build = backend(name, "embed_backend").embed
    if build is None:
        raise ConfigError(
            f"The model backend {name!r} computes no embeddings: set "
            f"{setting_name('embed_backend')} to one that does "
            f"({', '.join(sorted(n for n, b in BACKENDS.items() if b.embed is not None))})."
        )
    return _shared("embed", name, build(settings, n_ctx))
