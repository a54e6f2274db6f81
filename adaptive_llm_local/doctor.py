"""``doctor``: everything a user needs to know about this installation, in one report.

The model part asks the configured backend's model about itself (its declared
capabilities and :meth:`~adaptive_llm_local.runtime.ChatModel.describe`): a model file
on this machine is checked (header, size, checksum), a model elsewhere is not.
"""

from __future__ import annotations

import os
from typing import Any

from .config import Settings
from .errors import AssistantError
from .models import ModelFile, chat_candidates, check_header, verify_checksum
from .runtime import build as llama_build
from .runtime.cpu import read_cpu_info
from .runtime.types import ModelDescription


def collect(settings: Settings, *, load: bool = True) -> dict[str, Any]:
    """Gather the doctor report: ``rows`` to print, ``problems`` found, ``ok`` overall."""
    from . import runtime

    rows: list[tuple[str, Any]] = [("home", settings.home)]
    problems: list[str] = []
    info: ModelDescription = {}
    chat_file: ModelFile | None = None
    try:
        model = runtime.get_chat_model(settings)
        chat_file = model.capabilities.local_file
        if chat_file is None:
            rows.append(("model", model.name))
        else:
            _file_rows(chat_file, rows)
        if load:
            model.load()
        info = model.describe()
    except AssistantError as exc:
        problems.append(str(exc))
    variant = settings.cpu_variant
    rows.append(("llama-cpp-python", runtime.llama_version(variant)))
    rows.append(("GPU offload available", runtime.gpu_offload_supported(variant)))
    if info:
        if "n_gpu_layers" in info:
            rows.append(("GPU layers used", _layers(info["n_gpu_layers"])))
        if "gpu_offload_used" in info:
            rows.append(("GPU offload active", info["gpu_offload_used"]))
        if "n_threads" in info:
            rows.append(("threads", info["n_threads"]))
        if "n_ctx" in info:
            rows.append(("context size (n_ctx)", info["n_ctx"]))
        rows.append(("max tokens per answer", settings.max_tokens))
        load_seconds = info.get("load_seconds")
        if load_seconds is not None:
            rows.append(("load time", f"{load_seconds:.2f} s"))
    rows.append(("CPU cores", os.cpu_count()))
    rows.extend(cpu_rows(info))
    try:
        embed_file = runtime.get_embedding_model(settings).capabilities.local_file
        rows.append(("embedding model", _embedding_source(embed_file, chat_file)))
    except AssistantError as exc:
        if str(exc) not in problems:  # falling back to a chat model that failed above
            problems.append(str(exc))
    others = [p.name for p in chat_candidates(settings.models_dir)]
    rows.append(("GGUF files in models/", ", ".join(others) or "none"))
    if settings.chroma_url:
        rows.append(("index", f"Chroma server {settings.chroma_url}"))
    else:
        state = "exists" if settings.chroma_path.exists() else "not created yet"
        rows.append(("index", f"{settings.chroma_path} ({state})"))
    rows.append(("diagnosis database", settings.database_path))
    rows.append(("llama.cpp features", runtime.system_info(variant).strip()))
    return {
        "ok": not problems,
        "problems": problems,
        "rows": rows,
        "model": info,
    }


def _file_rows(model_file: ModelFile, rows: list[tuple[str, Any]]) -> None:
    """Append a local model file's rows: path, then size and checksum once its header passed.

    Raises
    ------
    ModelNotFoundError, ModelCorruptError
        After the rows it could fill (the path is always shown).
    """
    rows.append(("model", model_file.path))
    check_header(model_file)
    digest = verify_checksum(model_file)
    rows.append(("model size", f"{model_file.path.stat().st_size / 1e6:.1f} MB"))
    rows.append(
        ("sha256", f"{digest} (matches manifest)" if digest else "not in manifest (not checked)")
    )


def _embedding_source(embed_file: ModelFile | None, chat_file: ModelFile | None) -> Any:
    if embed_file is None:
        return "the embedding backend's own model"
    if chat_file is not None and embed_file.path == chat_file.path:
        return "chat model's own embeddings"
    return embed_file.path


def _layers(n: int) -> str:
    return "all" if n < 0 else str(n)


def cpu_rows(info: ModelDescription) -> list[tuple[str, Any]]:
    """The CPU, the llama.cpp build and variant in use, and the start-up check's outcome."""
    cpu = read_cpu_info()
    rows: list[tuple[str, Any]] = [
        ("CPU", cpu.model_name or cpu.machine),
        ("CPU features", " ".join(cpu.notable_flags()) or "none detected"),
        ("llama.cpp build", llama_build.build_kind()),
        ("CPU variant in use", llama_build.loaded_cpu_variant() or "not loaded yet"),
    ]
    if info.get("preflight"):
        rows.append(("start-up check", info["preflight"]))
    if info.get("load_settings"):
        rows.append(("load settings", info["load_settings"]))
    return rows
