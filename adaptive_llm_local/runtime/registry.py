"""One model object per configuration in a process, so a model file is loaded once."""

from __future__ import annotations

import threading
from typing import Any

from ..config import Settings
from ..models import resolve_chat_model, resolve_embed_model
from .llama import LocalModel

EMBED_N_CTX = 1024
"""Context of the embedding model: the embedded texts are short (see ``retrieval.records``)."""

_MODELS: dict[tuple[Any, ...], LocalModel] = {}
_MODELS_LOCK = threading.Lock()


def get_chat_model(settings: Settings) -> LocalModel:
    """The process-wide chat model for ``settings`` (not loaded until first use)."""
    model_file = resolve_chat_model(settings)
    key = ("chat", str(model_file.path), settings.n_ctx, settings.n_gpu_layers, settings.n_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = LocalModel(
                model_file,
                n_ctx=settings.n_ctx,
                n_gpu_layers=settings.n_gpu_layers,
                n_threads=settings.n_threads,
                seed=settings.seed,
                settings=settings,
            )
        return _MODELS[key]


def get_embedding_model(settings: Settings, n_ctx: int = EMBED_N_CTX) -> LocalModel:
    """The process-wide embedding model: a dedicated embedding GGUF, else the chat GGUF."""
    model_file = resolve_embed_model(settings) or resolve_chat_model(settings)
    key = ("embed", str(model_file.path), n_ctx, settings.n_gpu_layers, settings.n_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = LocalModel(
                model_file,
                n_ctx=n_ctx,
                n_gpu_layers=settings.n_gpu_layers,
                n_threads=settings.n_threads,
                embedding=True,
                settings=settings,
            )
        return _MODELS[key]
