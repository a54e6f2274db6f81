"""What llama-cpp-python build is installed, read from its files (``llama_cpp`` is not imported).

A portable build (``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``) ships one CPU library
per x86 feature level, ``libggml-cpu-<variant>.so``, next to ``libllama.so``; llama.cpp
scores them at start and loads the best one this CPU runs. A native or baseline build
links a single ``libggml-cpu.so`` instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import re
from pathlib import Path

_VARIANT_FILE = re.compile(r"libggml-cpu-([A-Za-z0-9_.]+)\.so$")
_CPU_LIBRARY = re.compile(r"(libggml-cpu(?:-[A-Za-z0-9_.]+)?\.so)(?:\.\d+)*$")
NOT_BACKENDS = ("libggml.so", "libggml-base.so")


def lib_dir() -> Path | None:
    """The folder that holds llama-cpp-python's shared libraries, or ``None`` if not installed."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def cpu_variants(folder: Path | None) -> list[str]:
    """The CPU variants a portable build ships (empty for a single-variant build)."""
    if folder is None or not folder.is_dir():
        return []
    names = (_VARIANT_FILE.match(p.name) for p in folder.iterdir())
    return sorted(m.group(1) for m in names if m)


def variant_library(folder: Path, variant: str) -> Path:
    return folder / f"libggml-cpu-{variant}.so"


def other_backend_libraries(folder: Path) -> list[Path]:
    """Dynamically loadable non-CPU backends of a portable build (CUDA, Vulkan, ...)."""
    return sorted(
        p
        for p in folder.glob("libggml-*.so")
        if p.name not in NOT_BACKENDS and not _VARIANT_FILE.match(p.name)
    )


def build_id(folder: Path | None = None) -> str:
    """16 hex digits naming this llama-cpp-python build: version plus its libraries' files.

    Reinstalling or rebuilding changes sizes or modification times, so cached start-up
    checks made with another build are not reused.
    """
    folder = folder if folder is not None else lib_dir()
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "missing"
    parts = [version]
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.so*")):
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def build_kind(folder: Path | None = None) -> str:
    """``portable (N CPU variants)`` or ``single CPU variant`` (native or baseline build)."""
    variants = cpu_variants(folder if folder is not None else lib_dir())
    return f"portable ({len(variants)} CPU variants)" if variants else "single CPU variant"


def mapped_library(maps: str, stem: str) -> str | None:
    """Full path of the first file named ``<stem>.so[.N...]`` in ``/proc/<pid>/maps`` text."""
    pattern = re.compile(rf"{re.escape(stem)}\.so(?:\.\d+)*$")
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)  # address perms offset device inode path
        path = fields[5].strip() if len(fields) == 6 else ""
        if path.startswith("/") and pattern.match(path.rsplit("/", 1)[-1]):
            return path
    return None


def process_maps() -> str:
    """This process's memory map (empty where ``/proc`` is missing)."""
    try:
        return Path("/proc/self/maps").read_text()
    except OSError:
        return ""


def loaded_cpu_library(maps: str) -> str | None:
    """File name of the llama.cpp CPU library mapped into a process (``/proc/<pid>/maps`` text)."""
    for line in maps.splitlines():
        name = line.rsplit("/", 1)[-1].strip()
        if found := _CPU_LIBRARY.match(name):
            return found.group(1)
    return None


def loaded_cpu_variant() -> str | None:
    """The CPU variant this process runs: ``haswell``, ``zen4``, ... or ``built-in``.

    ``None`` before llama.cpp loaded a CPU backend (or where ``/proc`` is missing).
    """
    library = loaded_cpu_library(process_maps())
    if library is None:
        return None
    found = _VARIANT_FILE.match(library)
    return found.group(1) if found else "built-in"
