"""The only module that imports ``llama_cpp``: :class:`LocalModel` and build introspection.

One ``llama_cpp.Llama`` is not thread-safe, so every call into llama.cpp holds one
process-wide lock, and async callers run those calls in a worker thread so the event
loop never blocks. Models load lazily on first use, never in a constructor.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import threading
import time
import weakref
from collections.abc import AsyncIterator, Generator, Sequence
from typing import Any

from ..config import Settings, default_threads
from ..errors import ModelCorruptError
from ..gguf import read_string
from ..models import ModelFile, check_header
from .backends import load_backends, model_params
from .backends import quiet_stderr as _quiet_stderr
from .context_check import check_context_fits, context_failed
from .kept_prompts import KeptPrompts
from .preflight_plan import LoadPlan, PreflightResult
from .types import Completion, Message, ModelCapabilities, ModelDescription, TokenCallback

# llama.cpp contexts must not be used from two threads at once; one lock for all of them
# also keeps the CPU from being oversubscribed by a chat and an embedding call together.
LLAMA_LOCK = threading.RLock()
_LOADED: weakref.WeakSet[LocalModel] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown, when llama-cpp-python's finalizers would fail."""
    for model in list(_LOADED):
        with contextlib.suppress(Exception):
            model.close()


def _llama_cpp(cpu_variant: str | None = None) -> Any:
    """``llama_cpp``, with llama.cpp's backends loaded (``cpu_variant`` pins a portable build's)."""
    import llama_cpp

    load_backends(cpu_variant)
    return llama_cpp


def llama_version(cpu_variant: str | None = None) -> str:
    """Version of the installed llama-cpp-python.

    This and the other build questions load llama.cpp's backends when nothing has yet:
    ``cpu_variant`` is the one ``Settings.cpu_variant`` pins (``None``: llama.cpp's choice).
    """
    return str(_llama_cpp(cpu_variant).__version__)


def gpu_offload_supported(cpu_variant: str | None = None) -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (CUDA, Metal, Vulkan, ...)."""
    return bool(_llama_cpp(cpu_variant).llama_supports_gpu_offload())


def system_info(cpu_variant: str | None = None) -> str:
    """llama.cpp's own summary of the CPU/GPU features it was built with."""
    info = _llama_cpp(cpu_variant).llama_print_system_info()
    return info.decode() if isinstance(info, bytes) else str(info)


class LocalModel:
    """A GGUF model run by llama.cpp, loaded on first use.

    Parameters
    ----------
    model
        The GGUF file (see :mod:`adaptive_llm_local.models`).
    n_ctx
        Context window in tokens (set explicitly: llama-cpp-python's default is small).
    n_gpu_layers
        Layers to offload; ``None`` means all of them when the build supports GPU offload.
    n_threads
        CPU threads; ``None``: :func:`~adaptive_llm_local.config.default_threads`.
    embedding
        Load for embeddings (mean pooling) instead of chat.
    plan
        Load settings to use as they are; ``None`` asks the start-up check
        (:mod:`adaptive_llm_local.runtime.preflight`) for settings that do not crash this CPU.
    settings
        Where the start-up check keeps its results, what it may try and the pinned CPU
        variant; ``None``: ``Settings()``'s defaults. The environment is read by the front
        ends only (``Settings.from_env()``), never here.
    kept_conversations
        How many conversations' evaluated prompts are kept while other prompts use the
        model (see :mod:`.kept_prompts`); 0 keeps none.
    """

    def __init__(
        self,
        model: ModelFile,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        seed: int = 0,
        embedding: bool = False,
        plan: LoadPlan | None = None,
        settings: Settings | None = None,
        kept_conversations: int = 4,
    ) -> None:
        self.model = model
        self.plan = plan
        self.settings = settings if settings is not None else Settings()
        self.preflight: PreflightResult | None = None
        self.n_ctx = n_ctx
        self.requested_gpu_layers = n_gpu_layers
        self.n_threads = n_threads
        self.seed = seed
        self.embedding = embedding
        self._llama: Any = None
        self.kept = KeptPrompts(None, 0 if embedding else kept_conversations)
        self.load_seconds: float | None = None
        self.calls = 0

    @property
    def name(self) -> str:
        return self.model.name

    @functools.cached_property
    def chat_template(self) -> str | None:
        """The GGUF's chat template (read from the file's header, without loading the model)."""
        return read_string(self.model.path, "tokenizer.chat_template")

    @property
    def model_id(self) -> str:
        """An id that changes when the GGUF does: its file name and size in bytes."""
        try:
            size = self.model.path.stat().st_size
        except OSError:
            size = 0
        return f"{self.model.name}#{size}"

    @property
    def capabilities(self) -> ModelCapabilities:
        """A GGUF's chat template (its tool-call format is detected by the agent's rules);
        conversations kept when ``kept_conversations`` allows; embeddings when built for them."""
        return ModelCapabilities(
            chat_template=None if self.embedding else self.chat_template,
            keeps_conversations=self.kept.capacity > 0,
            embeds=self.embedding,
            local_file=self.model,
        )

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    @property
    def cpu_variant(self) -> str | None:
        """The CPU variant llama.cpp's backends load with: the plan's, else the pinned one."""
        return self.plan.cpu_variant if self.plan is not None else self.settings.cpu_variant

    @property
    def n_gpu_layers(self) -> int:
        if self.requested_gpu_layers is not None:
            return self.requested_gpu_layers
        return -1 if gpu_offload_supported(self.cpu_variant) else 0

    def load(self) -> Any:
        """Load the model if needed and return the ``Llama`` object.

        Raises
        ------
        ModelNotFoundError, ModelCorruptError
            With the path and the fix, when the file is missing or llama.cpp rejects it.
        ConfigError
            When the context window (``n_ctx``) cannot fit in memory.
        """
        if self._llama is not None:
            return self._llama
        check_header(self.model)
        plan = self.plan or self._checked_plan()
        with LLAMA_LOCK:
            if self._llama is not None:
                return self._llama
            llama_cpp = _llama_cpp(plan.cpu_variant)
            kwargs: dict[str, Any] = {
                "model_path": str(self.model.path),
                "n_ctx": self.n_ctx,
                "n_gpu_layers": self.n_gpu_layers,
                "seed": self.seed,
                "verbose": False,
            }
            kwargs["n_threads"] = kwargs["n_threads_batch"] = self.n_threads or default_threads()
            if self.embedding:
                kwargs.update(
                    embedding=True,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    n_batch=self.n_ctx,
                    n_ubatch=self.n_ctx,
                )
            if kwargs["n_gpu_layers"] == 0:  # the context's cache is allocated in host memory
                check_context_fits(self.model, self.n_ctx)
            start = time.perf_counter()
            try:
                with _quiet_stderr(), model_params(llama_cpp, plan):
                    self._llama = llama_cpp.Llama(**kwargs)
            except (ValueError, RuntimeError, OSError) as exc:
                if "llama_context" in str(exc):  # the model loaded; its context did not
                    raise context_failed(self.model, self.n_ctx) from None
                raise ModelCorruptError(
                    f"llama.cpp could not load {self.model.path} ({exc}). The file may be "
                    "truncated or not a model llama.cpp supports: delete it and run "
                    "`make models`, or set ADAPTIVE_LLM_MODEL to another GGUF."
                ) from None
            self.load_seconds = time.perf_counter() - start
            self.kept = KeptPrompts(llama_cpp, self.kept.capacity)
            self.plan = plan
            _LOADED.add(self)
            return self._llama

    def _checked_plan(self) -> LoadPlan:
        from .preflight import check

        self.preflight = check(
            self.model,
            n_gpu_layers=self.requested_gpu_layers,
            n_threads=self.n_threads,
            embedding=self.embedding,
            settings=self.settings,
        )
        assert self.preflight.plan is not None  # check() raises when nothing is safe
        return self.preflight.plan

    def close(self) -> None:
        with LLAMA_LOCK:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
                self.kept.clear()

    # --- tokens -----------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes in this model's vocabulary."""
        llama = self.load()
        with LLAMA_LOCK:
            return len(llama.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=True))

    # --- chat -------------------------------------------------------------------------

    def _completion_kwargs(
        self,
        messages: Sequence[Message],
        max_tokens: int,
        temperature: float,
        schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": 0.9,
            "repeat_penalty": 1.1,
            "seed": self.seed,
        }
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        return kwargs

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict[str, Any] | None = None,
        stats: Completion | None = None,
        conversation: str | None = None,
    ) -> Generator[str, None, None]:
        """Yield the answer's text piece by piece; holds the model lock until done.

        ``schema`` constrains the output to JSON matching that JSON schema (llama.cpp grammar).
        When ``stats`` is given, token counts and timings are written into it.
        ``conversation`` names the chat thread this prompt continues: its evaluated prompt
        is kept when another prompt runs in between, so its next turn starts where it was.
        """
        llama = self.load()
        kwargs = self._completion_kwargs(messages, max_tokens, temperature, schema)
        with LLAMA_LOCK:
            self.kept.switch(llama, conversation)
            self.calls += 1
            start = time.perf_counter()
            pieces = 0
            stream = llama.create_chat_completion(stream=True, **kwargs)
            try:
                for chunk in stream:
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        if pieces == 0 and stats is not None:
                            stats.first_token_seconds = time.perf_counter() - start
                        pieces += 1
                        if stats is not None:
                            stats.text += delta
                        yield delta
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
            if stats is not None:
                stats.seconds = time.perf_counter() - start
                stats.completion_tokens = pieces
                # the context holds prompt + generated tokens after a completion
                stats.prompt_tokens = max(int(getattr(llama, "n_tokens", 0)) - pieces, 0)

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict[str, Any] | None = None,
        on_token: TokenCallback | None = None,
        conversation: str | None = None,
    ) -> Completion:
        """Run one chat completion; ``on_token`` sees every piece as it is generated.

        An exception raised by ``on_token`` (a caller stopping the answer) ends generation
        at once: the stream is closed, the model lock released, and the exception raised.
        """
        stats = Completion(text="")
        pieces = self.stream_chat(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            schema=schema,
            stats=stats,
            conversation=conversation,
        )
        with contextlib.closing(pieces):
            for piece in pieces:
                if on_token is not None:
                    on_token(piece)
        return stats

    async def achat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict[str, Any] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """:meth:`chat` in a worker thread: the event loop keeps running meanwhile."""
        return await asyncio.to_thread(
            self.chat,
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            schema=schema,
            on_token=on_token,
        )

    async def astream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        schema: dict[str, Any] | None = None,
    ) -> AsyncIterator[str]:
        """Async iterator over answer pieces, generated in a worker thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for piece in self.stream_chat(
                    messages, max_tokens=max_tokens, temperature=temperature, schema=schema
                ):
                    loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
                    if stop.is_set():
                        break
                loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
            except BaseException as exc:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    break
        finally:
            stop.set()
            await asyncio.shield(worker)

    # --- embeddings -------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length mean-pooled embeddings, one per text, computed in one batched call."""
        if not self.embedding:
            raise RuntimeError("this LocalModel was not loaded for embeddings")
        if not texts:
            return []
        llama = self.load()
        with LLAMA_LOCK:
            self.calls += 1
            vectors = llama.embed(list(texts), normalize=True, truncate=True)
        return [list(map(float, v)) for v in vectors]

    def embedding_dim(self) -> int:
        llama = self.load()
        return int(llama.n_embd())

    # --- introspection ----------------------------------------------------------------

    def describe(self) -> ModelDescription:
        """What ``doctor`` prints: path, sizes, offload, threads, context."""
        threads = self.n_threads
        if self._llama is not None:
            threads = getattr(self._llama, "n_threads", threads)
        offload = gpu_offload_supported(self.cpu_variant)
        return {
            "backend": "llama",
            "path": str(self.model.path),
            "loaded": self.loaded,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "gpu_offload_supported": offload,
            "gpu_offload_used": offload and self.n_gpu_layers != 0,
            "n_threads": int(threads or default_threads()),
            "load_seconds": self.load_seconds,
            "load_settings": self.plan.describe() if self.plan else None,
            "preflight": self.preflight.summary() if self.preflight else None,
        }


def raw_llama(
    model: ModelFile, *, n_ctx: int = 4096, plan: LoadPlan | None = None, **kwargs: Any
) -> Any:
    """A bare ``llama_cpp.Llama`` (no lock, no threads): the baseline ``make bench`` compares to.

    ``plan`` (a loaded :class:`LocalModel`'s) keeps it on settings that run on this CPU.
    """
    plan = plan or LoadPlan()
    llama_cpp = _llama_cpp(plan.cpu_variant)
    with LLAMA_LOCK, _quiet_stderr(), model_params(llama_cpp, plan):
        return llama_cpp.Llama(model_path=str(model.path), n_ctx=n_ctx, verbose=False, **kwargs)
