"""User-facing errors: each carries a message a scientist can act on."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for errors that the CLI prints as one clear message (no traceback).

    A notebook (IPython) shows them as one line too: ``ConfigError: ADAPTIVE_LLM_N_CTX ...``.
    """

    exit_code = 2

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback (its hook for exceptions)."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(AssistantError):
    """A setting (an ``ADAPTIVE_LLM_*`` variable or an option) has an unusable value."""


class ModelNotFoundError(AssistantError):
    """The GGUF model file is missing."""


class ModelCorruptError(AssistantError):
    """The GGUF model file exists but cannot be used (bad header, checksum, or load failure)."""


class LogNotReadableError(AssistantError):
    """A log path is missing, a directory, or unreadable."""


class IndexUnavailableError(AssistantError):
    """The retrieval index cannot be opened, reached or written."""


class IndexMismatchError(IndexUnavailableError):
    """The index was built with another embedding model; `index rebuild` fixes it."""


class IndexLockedError(IndexUnavailableError):
    """Another process owns the persisted index."""


class LlamaCrashError(AssistantError):
    """llama.cpp crashed on this CPU with every setting the start-up check tried."""
