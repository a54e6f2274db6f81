"""What callers of a model rely on: messages, the token callback, a completion, the protocols.

:class:`ChatModel` is what diagnosis, ``ask`` and the agent need from a chat model and
:class:`EmbeddingModel` what the index needs from an embedding model. Each declares what
it can do in :class:`ModelCapabilities`, so callers read a declared field instead of
probing the object. :class:`~adaptive_llm_local.runtime.llama.LocalModel` implements both
(the ``embeds`` capability says which it was built for), and the scripted models of
:mod:`adaptive_llm_local.testing` implement :class:`ChatModel`; ``tests/test_protocols.py``
checks every one of them against these protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypedDict, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from ..config import Settings
    from ..models import ModelFile

Message = dict[str, str]
TokenCallback = Callable[[str], None]
"""Called with every piece of text as the model generates it."""
M = TypeVar("M")


@dataclass
class Completion:
    """Result of one chat call, with the token counts the backend reported."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: float | None = None


@dataclass(frozen=True)
class ModelCapabilities:
    """What a model object can do, declared by its backend (as llm's and pydantic-ai's models do).

    Parameters
    ----------
    tool_format
        The tool-call format the backend declares (one of the agent's ``TOOL_FORMATS``);
        ``None``: none declared (the composition root may still detect one from
        ``chat_template``).
    chat_template
        The model's own chat template, when the backend knows it (a GGUF's header).
    keeps_conversations
        Whether ``chat(conversation=...)`` keeps that conversation's evaluated prompt
        while other prompts use the model; without it the argument is accepted and ignored.
    embeds
        Whether :meth:`EmbeddingModel.embed` works (the model was built for embeddings).
    local_file
        The model file on this machine (checked by ``doctor``); ``None`` for a model that
        is not a local file (a server, a scripted model).
    """

    tool_format: str | None = None
    chat_template: str | None = None
    keeps_conversations: bool = False
    embeds: bool = False
    local_file: ModelFile | None = None


class ModelDescription(TypedDict, total=False):
    """What ``doctor`` shows about a model; a backend fills the keys that apply to it."""

    backend: str
    name: str
    path: str
    url: str
    loaded: bool
    n_ctx: int
    n_gpu_layers: int
    gpu_offload_supported: bool
    gpu_offload_used: bool
    n_threads: int
    load_seconds: float | None
    load_settings: str | None
    preflight: str | None


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: a name, a context window, a tokenizer and one chat call.

    Constructing one never loads it; :meth:`load` does (or the first call). ``chat`` takes
    ``conversation`` from every caller; it only matters where the capabilities say
    ``keeps_conversations``.
    """

    @property
    def name(self) -> str: ...

    @property
    def n_ctx(self) -> int: ...

    @property
    def capabilities(self) -> ModelCapabilities: ...

    def load(self) -> object:
        """Load now instead of at the first call (a model with nothing to load returns)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = ...,
        temperature: float = ...,
        schema: dict[str, Any] | None = ...,
        on_token: TokenCallback | None = ...,
        conversation: str | None = ...,
    ) -> Completion: ...

    def describe(self) -> ModelDescription: ...


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the index needs from an embedding model: an id, vectors and their dimension."""

    @property
    def name(self) -> str: ...

    @property
    def model_id(self) -> str:
        """An id that changes when the model does (recorded with every collection)."""
        ...

    @property
    def capabilities(self) -> ModelCapabilities: ...

    def load(self) -> object: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embedding_dim(self) -> int: ...

    def describe(self) -> ModelDescription: ...


@dataclass(frozen=True)
class ModelSpec(Generic[M]):
    """A model a backend would build for some settings, before it is built.

    Parameters
    ----------
    key
        What the model depends on (file, context size, threads, ...): the registry keeps
        one model object per key in a process, so a model file is loaded once.
    build
        Builds the model (without loading it).
    """

    key: tuple[Hashable, ...]
    build: Callable[[], M]


@dataclass(frozen=True)
class Backend:
    """How one backend builds its models from settings; :mod:`.registry` names each one.

    Parameters
    ----------
    chat
        The chat model ``settings`` describe.
    embed
        The embedding model ``settings`` describe, with this context size; ``None`` when
        the backend has no embeddings (``ADAPTIVE_LLM_EMBED_BACKEND`` names another).
    """

    chat: Callable[[Settings], ModelSpec[ChatModel]]
    embed: Callable[[Settings, int], ModelSpec[EmbeddingModel]] | None = None
