"""Settings from the environment (``ADAPTIVE_LLM_*``), with one place for every default.

This is the only module that reads ``ADAPTIVE_LLM_*`` variables; everything else gets a
:class:`Settings` (built by the front end, passed down through
:class:`~adaptive_llm_local.assistant.Assistant`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "ADAPTIVE_LLM_"
PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent
DEFAULT_MAX_TOKENS = 320
"""Most tokens one answer (a diagnosis, an ``ask`` answer) may generate."""
DEFAULT_N_CTX = 4096
MIN_N_CTX = 128
MAX_N_CTX = 1 << 24
"""Bounds of ``n_ctx`` any model could use; what fits in memory is checked at load time."""

_SOURCES = {
    "n_ctx": ("N_CTX", "--n-ctx"),
    "max_tokens": ("MAX_TOKENS", None),
    "n_gpu_layers": ("N_GPU_LAYERS", "--gpu-layers"),
    "n_threads": ("THREADS", "--threads"),
    "seed": ("SEED", None),
    "index_lock_timeout": ("INDEX_LOCK_TIMEOUT", None),
    "preflight_timeout": ("PREFLIGHT_TIMEOUT", None),
    "index_max_distance": ("INDEX_MAX_DISTANCE", None),
}
log = logging.getLogger(__name__)
_said: set[str] = set()


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


def setting_name(field_name: str) -> str:
    """How a user sets a field: ``ADAPTIVE_LLM_N_CTX (--n-ctx)``."""
    variable, option = _SOURCES.get(field_name, (field_name.upper(), None))
    return ENV_PREFIX + variable + (f" ({option})" if option else "")


def _check_int(field_name: str, value: Any, low: int, high: int | None, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{setting_name(field_name)} must be {what}, got {value!r}.")
    if value < low or (high is not None and value > high):
        allowed = f"at least {low}" if high is None else f"between {low} and {high}"
        if field_name == "max_tokens" and high is not None and value > high:
            allowed += f" (less than the context window n_ctx={high + 1})"
        raise ConfigError(f"{setting_name(field_name)} must be {what}, {allowed}, got {value}.")


def _check_seconds(field_name: str, value: Any, *, allow_zero: bool) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        floor = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(
            f"{setting_name(field_name)} must be a number of seconds, {floor}, got {value!r}."
        )


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity: a SLURM allocation, ``taskset``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> int:
    """Threads when none are set: one per physical core, within this process's cores.

    llama-cpp-python's default is half of ``os.cpu_count()``, which counts every core of
    a shared node, not the job's.
    """
    return max(1, min(usable_cores(), (os.cpu_count() or 1) // 2))


def clamp_threads(n_threads: int) -> int:
    """``n_threads`` capped at :func:`usable_cores`; says so once per process when it caps.

    More threads than cores make llama.cpp's threads wait for each other: a diagnosis that
    takes seconds then takes minutes.
    """
    cores = usable_cores()
    if n_threads <= cores:
        return n_threads
    notice = (
        f"{setting_name('n_threads')} asks for {n_threads} threads, more than the {cores} CPU "
        f"core(s) this process may use: using {cores}."
    )
    if notice not in _said:
        _said.add(notice)
        log.warning(notice)
    return cores


@dataclass(frozen=True)
class Settings:
    """Every tunable of the assistant.

    Parameters
    ----------
    home
        Root of all state: ``models/`` and ``index/`` (Chroma and the diagnosis database).
    backend
        Which model backend runs the chat model (``runtime.registry.BACKENDS``); ``llama``:
        a GGUF file on this machine, run by llama.cpp.
    embed_backend
        Which model backend computes the index's embeddings (``llama`` unless set).
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
        CPU threads for generation; ``None``: :func:`default_threads`. More than the cores
        this process may use is capped at that (see :func:`clamp_threads`).
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
    backend: str = "llama"
    embed_backend: str = "llama"
    model: str | None = None
    embed_model: str | None = None
    n_ctx: int = DEFAULT_N_CTX
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
            When a variable does not hold what it should (a number, four numbers) or a
            number is out of range (see :meth:`__post_init__`).
        """
        home = _env("HOME")
        values: dict[str, Any] = dict(
            home=Path(home).expanduser() if home else default_home(),
            backend=_env("BACKEND", "llama"),
            embed_backend=_env("EMBED_BACKEND", "llama"),
            model=_env("MODEL"),
            embed_model=_env("EMBED_MODEL"),
            n_ctx=_env_int("N_CTX", DEFAULT_N_CTX),
            max_tokens=_env_int("MAX_TOKENS", DEFAULT_MAX_TOKENS),
            n_gpu_layers=_env_int("N_GPU_LAYERS", None),
            n_threads=_env_int("THREADS", None),
            seed=_env_int("SEED", 0),
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
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        """Check every number (an option given on the command line wins over the variable).

        Raises
        ------
        ConfigError
            With the variable, the option, the allowed range and the value given.
        """
        _check_int("n_ctx", self.n_ctx, MIN_N_CTX, MAX_N_CTX, "a number of tokens")
        _check_int("max_tokens", self.max_tokens, 1, self.n_ctx - 1, "a number of tokens")
        if self.n_gpu_layers is not None:
            _check_int("n_gpu_layers", self.n_gpu_layers, -1, None, "a number of layers (-1: all)")
        _check_int("seed", self.seed, -1, 2**32 - 1, "an integer")
        _check_seconds("index_lock_timeout", self.index_lock_timeout, allow_zero=True)
        _check_seconds("preflight_timeout", self.preflight_timeout, allow_zero=False)
        _check_seconds("check_timeout", self.check_timeout, allow_zero=False)
        if self.index_max_distance is not None:
            for value in self.index_max_distance:
                if not (isinstance(value, int | float) and 0.0 <= value <= 2.0):
                    raise ConfigError(
                        f"{setting_name('index_max_distance')} must be four cosine distances between "
                        f"0 and 2, got {self.index_max_distance!r}."
                    )
        if self.n_threads is not None:
            _check_int("n_threads", self.n_threads, 1, None, "a number of threads")
            object.__setattr__(self, "n_threads", clamp_threads(self.n_threads))

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
