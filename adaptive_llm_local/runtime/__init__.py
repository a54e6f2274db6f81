"""The model runtime: llama.cpp behind one lock, loaded lazily, callable from async code.

:mod:`.llama` is the only module of the package that imports ``llama_cpp``;
:mod:`.types` holds what callers rely on (:class:`ChatModel`, :class:`Completion`);
:mod:`.registry` keeps one model object per configuration. Importing this package
does not import ``llama_cpp``.
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
from .registry import get_chat_model, get_embedding_model
from .types import ChatModel, Completion, Message, TokenCallback

__all__ = [
    "LLAMA_LOCK",
    "ChatModel",
    "Completion",
    "LocalModel",
    "Message",
    "TokenCallback",
    "get_chat_model",
    "get_embedding_model",
    "gpu_offload_supported",
    "llama_version",
    "raw_llama",
    "system_info",
]
