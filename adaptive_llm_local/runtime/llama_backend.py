"""The default backend, ``llama``: GGUF files on this machine run by llama.cpp (:class:`LocalModel`).

The chat model is ``Settings.model`` (or the manifest's default, see
:func:`~adaptive_llm_local.models.resolve_chat_model`); embeddings come from a dedicated
embedding GGUF when there is one, else from the chat GGUF itself.
"""

from __future__ import annotations

from ..config import Settings
from ..models import resolve_chat_model, resolve_embed_model
from .llama import LocalModel
from .types import Backend, ChatModel, EmbeddingModel, ModelSpec


def chat_model(settings: Settings) -> ModelSpec[ChatModel]:
    """The chat GGUF with the settings' context, offload, threads and seed."""
    model_file = resolve_chat_model(settings)

    def build() -> ChatModel:
        return LocalModel(
            model_file,
            n_ctx=settings.n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=settings.n_threads,
            seed=settings.seed,
            settings=settings,
        )

    key = (str(model_file.path), settings.n_ctx, settings.n_gpu_layers, settings.n_threads)
    return ModelSpec(key, build)


def embedding_model(settings: Settings, n_ctx: int) -> ModelSpec[EmbeddingModel]:
    """A dedicated embedding GGUF, else the chat GGUF, loaded for mean-pooled embeddings."""
    model_file = resolve_embed_model(settings) or resolve_chat_model(settings)

    def build() -> EmbeddingModel:
        return LocalModel(
            model_file,
            n_ctx=n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=settings.n_threads,
            embedding=True,
            settings=settings,
        )

    return ModelSpec(
        (str(model_file.path), n_ctx, settings.n_gpu_layers, settings.n_threads), build
    )


BACKEND = Backend(chat=chat_model, embed=embedding_model)
