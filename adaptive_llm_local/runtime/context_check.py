"""Whether a context window of ``n_ctx`` tokens fits in memory, asked before llama.cpp is.

llama.cpp allocates (and clears) the key/value cache of the whole window at load time: a
window far beyond memory fails with an error that reads like a broken model file, or the
kernel kills the process. The cache size follows from the GGUF header
(:mod:`adaptive_llm_local.gguf`), so a setting that cannot fit is named before loading.
"""

from __future__ import annotations

from pathlib import Path

from ..config import setting_name
from ..errors import ConfigError
from ..gguf import read_shape
from ..models import ModelFile

MEMINFO = Path("/proc/meminfo")


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable``), or ``None``."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_context_fits(model: ModelFile, n_ctx: int, *, available: int | None = None) -> None:
    """Raise when the model's weights plus a ``n_ctx`` window cannot fit in memory.

    Parameters
    ----------
    model
        The GGUF file (its header gives the cache size per token).
    n_ctx
        The context window asked for.
    available
        Bytes available; ``None`` reads :func:`available_memory`.

    Raises
    ------
    ConfigError
        Naming the setting, the memory it needs and the model's trained context.
    """
    shape = read_shape(model.path)
    free = available if available is not None else available_memory()
    if shape is None or free is None:
        return
    cache = shape.kv_cache_bytes(n_ctx)
    weights = model.path.stat().st_size
    if cache + weights <= free:
        return
    raise ConfigError(
        f"{setting_name('n_ctx')} = {n_ctx} tokens needs about {cache / 2**30:.1f} GiB for the "
        f"context of {model.name} (plus {weights / 2**30:.1f} GiB of weights), more than the "
        f"{free / 2**30:.1f} GiB of memory available. Lower it: {model.name} was trained for "
        f"{shape.n_ctx_train} tokens, and 4096 is the default."
    )


def context_failed(model: ModelFile, n_ctx: int) -> ConfigError:
    """The error for llama.cpp failing to create a context after it loaded the model."""
    return ConfigError(
        f"llama.cpp read {model.path} but could not create a context of {n_ctx} tokens "
        f"({setting_name('n_ctx')}): probably not enough memory for it. Lower the setting "
        "(4096 is the default) or offload fewer layers to the GPU."
    )
