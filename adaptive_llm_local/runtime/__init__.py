"""The model runtime: llama.cpp behind one lock, loaded lazily, callable from async code.

:mod:`.llama` is the only module of the package that imports ``llama_cpp``;
:mod:`.types` holds what callers rely on (:class:`ChatModel`, :class:`EmbeddingModel`,
:class:`ModelCapabilities`, :class:`Completion`); :mod:`.registry` builds the backend the
settings name (:mod:`.llama_backend` by default) and keeps one model object per
configuration. Importing this package does not import ``llama_cpp``.
"""

from __future__ import annotations

from .llama import (
    LLAMA_LOCK,
    LocalModel,
    gpu_offload_supported,
    llama_version,
    raw_llama,
    system_info,
)
from .registry import BACKENDS, get_chat_model, get_embedding_model
from .types import (
    Backend,
    ChatModel,
    Completion,
    EmbeddingModel,
    Message,
    ModelCapabilities,
    ModelDescription,
    ModelSpec,
    TokenCallback,
)

__all__ = [
    "BACKENDS",
    "LLAMA_LOCK",
    "Backend",
    "ChatModel",
    "Completion",
    "EmbeddingModel",
    "LocalModel",
    "Message",
    "ModelCapabilities",
    "ModelDescription",
    "ModelSpec",
    "TokenCallback",
    "get_chat_model",
    "get_embedding_model",
    "gpu_offload_supported",
    "llama_version",
    "raw_llama",
    "system_info",
]
