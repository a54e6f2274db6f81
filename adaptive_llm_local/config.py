"""Settings from the environment (``ADAPTIVE_LLM_*``), with one place for every default.

This is the only module that reads ``ADAPTIVE_LLM_*`` variables; everything else gets a
:class:`Settings` (built by the front end, passed down through
:class:`~adaptive_llm_local.assistant.Assistant`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "ADAPTIVE_LLM_"
PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent
DEFAULT_MAX_TOKENS = 320
"""Most tokens one answer (a diagnosis, an ``ask`` answer) may generate."""


def default_home() -> Path:
    """Where state lives when ``ADAPTIVE_LLM_HOME`` is not set.

    A source checkout (``models/manifest.json`` next to the package) keeps its state in
    the checkout: ``models/`` and ``index/``. An installed package uses
    ``~/.adaptive-llm-local``.
    """
    if (CHECKOUT_DIR / "models" / "manifest.json").is_file():
        return CHECKOUT_DIR
    return Path.home() / ".adaptive-llm-local"


def wheel_cache_dir() -> Path:
    """Where ``make install`` keeps built llama-cpp-python wheels, one folder per build flags."""
    value = _env("WHEEL_CACHE")
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "adaptive-llm-local" / "wheels"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else default


def _env_number(name: str, default: Any, parse: Callable[[str], Any], what: str) -> Any:
    value = _env(name)
    if value is None:
        return default
    try:
        return parse(value)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be {what}, got {value!r}") from None


def _env_int(name: str, default: int | None) -> int | None:
    value: int | None = _env_number(name, default, int, "an integer")
    return value


def _env_float(name: str, default: float, what: str = "a number") -> float:
    return float(_env_number(name, default, float, what))


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{ENV_PREFIX}{name} must be 1 or 0, got {value!r}")


def _env_distances(name: str) -> tuple[float, float, float, float] | None:
    value = _env(name)
    if value is None or not value.strip():
        return None
    try:
        failure, text, doc, overlap = (float(x) for x in value.split(","))
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name} must be four numbers 'failure,text,doc,overlap', got {value!r}"
        ) from None
    return failure, text, doc, overlap


@dataclass(frozen=True)
class Settings:
    """Every tunable of the assistant.

    Parameters
    ----------
    home
        Root of all state: ``models/`` and ``index/`` (Chroma and the diagnosis database).
    model
        Chat GGUF: a path, or a file name inside ``models/``; ``None`` picks the default.
    embed_model
        Embedding GGUF; ``None`` uses a ``*embed*.gguf`` in ``models/`` or the chat model.
    n_ctx
        Context window in tokens.
    max_tokens
        Most tokens one answer may generate.
    n_gpu_layers
        Layers offloaded to the GPU; ``None`` offloads all when llama.cpp has GPU support.
    n_threads
        CPU threads for generation; ``None`` lets llama.cpp decide.
    index_dir
        Persisted Chroma index; defaults to ``home/index``.
    chroma_url
        ``http://host:port`` of a shared Chroma server; ``None`` uses the local index.
    index_lock_timeout
        Seconds to wait for another process that owns the persisted index.
    index_max_distance
        Relevance thresholds ``(failure, text, doc, overlap)`` of the index; ``None`` uses
        the ones calibrated for the default model (see ``retrieval.calibration``).
    cpu_variant
        Pin llama.cpp's CPU variant (``haswell``, ``x64``, ...) in a portable build;
        ``None`` lets llama.cpp pick the best one this CPU runs.
    preflight
        Check in a child process that llama.cpp runs on this CPU before the first model
        call, and fall back to safe settings when it crashes.
    preflight_timeout
        Seconds the start-up check may take before it is given up.
    preflight_fault
        Test hook: the start-up check's child kills itself with SIGILL at these steps
        (comma-separated step names).
    cache_path
        Machine-specific results kept between runs; defaults to ``home/.cache``.
    checks
        Run the read-only checks on this machine that a diagnosis cites (does the missing
        path exist now, can the job's Python find the module, what SLURM recorded).
    check_timeout
        Seconds each of those checks may take before it is given up.
    """

    home: Path = field(default_factory=default_home)
    model: str | None = None
    embed_model: str | None = None
    n_ctx: int = 4096
    max_tokens: int = DEFAULT_MAX_TOKENS
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    seed: int = 0
    index_dir: Path | None = None
    chroma_url: str | None = None
    index_lock_timeout: float = 10.0
    index_max_distance: tuple[float, float, float, float] | None = None
    cpu_variant: str | None = None
    preflight: bool = True
    preflight_timeout: float = 300.0
    preflight_fault: str | None = None
    cache_path: Path | None = None
    checks: bool = True
    check_timeout: float = 5.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from ``ADAPTIVE_LLM_*``; ``overrides`` that are not ``None`` win.

        Raises
        ------
        ConfigError
            When a variable does not hold what it should (a number, four numbers).
        """
        home = _env("HOME")
        settings = cls(
            home=Path(home).expanduser() if home else default_home(),
            model=_env("MODEL"),
            embed_model=_env("EMBED_MODEL"),
            n_ctx=_env_int("N_CTX", 4096) or 4096,
            max_tokens=_env_int("MAX_TOKENS", DEFAULT_MAX_TOKENS) or DEFAULT_MAX_TOKENS,
            n_gpu_layers=_env_int("N_GPU_LAYERS", None),
            n_threads=_env_int("THREADS", None),
            seed=_env_int("SEED", 0) or 0,
            index_dir=Path(p).expanduser() if (p := _env("INDEX_DIR")) else None,
            chroma_url=_env("CHROMA_URL"),
            index_lock_timeout=_env_float("INDEX_LOCK_TIMEOUT", 10.0, "a number of seconds"),
            index_max_distance=_env_distances("INDEX_MAX_DISTANCE"),
            cpu_variant=_env("CPU_VARIANT"),
            preflight=_env_bool("PREFLIGHT", True),
            preflight_timeout=_env_float("PREFLIGHT_TIMEOUT", 300.0),
            preflight_fault=_env("PREFLIGHT_FAULT"),
            cache_path=Path(p).expanduser() if (p := _env("CACHE_DIR")) else None,
            checks=_env_bool("CHECKS", True),
            check_timeout=_env_float("CHECK_TIMEOUT", 5.0, "a number of seconds"),
        )
        if not settings.check_timeout > 0:
            raise ConfigError(
                f"{ENV_PREFIX}CHECK_TIMEOUT must be a positive number of seconds, "
                f"got {settings.check_timeout!r}"
            )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean) if clean else settings

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def index_path(self) -> Path:
        return self.index_dir if self.index_dir is not None else self.home / "index"

    @property
    def chroma_path(self) -> Path:
        return self.index_path / "chroma"

    @property
    def cache_dir(self) -> Path:
        """Machine-specific results kept between runs (start-up checks), safe to delete."""
        return self.cache_path if self.cache_path is not None else self.home / ".cache"

    @property
    def database_path(self) -> Path:
        return self.index_path / "state.sqlite3"
