"""Where llama.cpp's backends come from and how a model's load parameters are set.

Used by :mod:`adaptive_llm_local.runtime`, which hands in the ``llama_cpp`` module: this
module never imports it. It loads a portable build's CPU variant library from
llama-cpp-python's ``lib`` folder (llama.cpp itself only searches the Python executable's
folder and the working directory) and sets ``use_extra_bufts``, a field of
``llama_model_params`` that ``Llama()`` has no keyword for.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError
from . import build as llama_build
from .preflight_plan import LoadPlan

_BACKENDS_LOCK = threading.Lock()
_BACKENDS: dict[str, str | None] = {}  # "cpu_variant" once llama.cpp's backends are loaded


def load_backends(cpu_variant: str | None) -> None:
    """Load a portable build's CPU variant library, once per process, before any model.

    llama.cpp only searches the Python executable's folder and the working directory for
    them, never llama-cpp-python's ``lib`` folder, so they are loaded from there by hand.
    A single-variant build registers its backend by itself. ``cpu_variant`` is the one the
    caller's settings pin (``Settings.cpu_variant``, or a start-up check's fallback);
    ``None`` lets llama.cpp choose the best this CPU runs.
    """
    with _BACKENDS_LOCK:
        if _BACKENDS:
            loaded = _BACKENDS["cpu_variant"]
            if cpu_variant is not None and cpu_variant != loaded:
                raise ConfigError(
                    f"This process already runs llama.cpp's CPU variant {loaded or 'auto'}, "
                    f"but this model needs {cpu_variant} on this CPU: restart the process "
                    "(or notebook kernel) to switch."
                )
            return
        folder = llama_build.lib_dir()
        if folder is None or not llama_build.cpu_variants(folder):
            _BACKENDS["cpu_variant"] = None
            return
        # the very libggml that libllama loaded: wheels hold copies, not links, of
        # libggml.so and libggml.so.0, and a second copy would keep a registry of its own
        linked = llama_build.mapped_library(llama_build.process_maps(), "libggml")
        ggml = ctypes.CDLL(linked or str(folder / "libggml.so"))
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        if cpu_variant is None:
            with quiet_stderr():  # "load_backend: loaded CPU backend from …"
                ggml.ggml_backend_load_all_from_path(str(folder).encode())
        else:
            for library in llama_build.other_backend_libraries(folder):
                ggml.ggml_backend_load(str(library).encode())
            library = llama_build.variant_library(folder, cpu_variant)
            with quiet_stderr():
                registered = ggml.ggml_backend_load(str(library).encode())
            if not registered:
                raise ConfigError(
                    f"llama.cpp's CPU variant {cpu_variant} does not run on this CPU: unset "
                    "ADAPTIVE_LLM_CPU_VARIANT or choose an older one (x64 runs anywhere)."
                )
        _BACKENDS["cpu_variant"] = cpu_variant


@contextlib.contextmanager
def model_params(llama_cpp: Any, plan: LoadPlan) -> Iterator[None]:
    """Apply ``plan`` to the ``llama_model_params`` that ``Llama()`` builds.

    ``Llama()`` takes no keyword for ``use_extra_bufts``; it fills its params from
    ``llama_model_default_params()``, so that function is wrapped while the model loads
    (callers hold ``LLAMA_LOCK``, which every load takes).
    """
    if plan.use_extra_bufts:
        yield
        return
    bindings = llama_cpp.llama_cpp
    original = bindings.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = defaults
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level load chatter (it writes to fd 2 directly)."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
