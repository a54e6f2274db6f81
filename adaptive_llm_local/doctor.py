"""``doctor``: everything a user needs to know about this installation, in one report."""

from __future__ import annotations

import os
from typing import Any

from .config import Settings
from .errors import AssistantError
from .models import (
    chat_candidates,
    check_header,
    resolve_chat_model,
    resolve_embed_model,
    verify_checksum,
)
from .runtime import build as llama_build
from .runtime.cpu import read_cpu_info


def collect(settings: Settings, *, load: bool = True) -> dict[str, Any]:
    """Gather the doctor report: ``rows`` to print, ``problems`` found, ``ok`` overall."""
    from . import runtime

    rows: list[tuple[str, Any]] = [("home", settings.home)]
    problems: list[str] = []
    info: dict[str, Any] = {}
    try:
        model_file = resolve_chat_model(settings)
        rows.append(("model", model_file.path))
        check_header(model_file)
        digest = verify_checksum(model_file)
        rows.append(("model size", f"{model_file.path.stat().st_size / 1e6:.1f} MB"))
        rows.append(
            (
                "sha256",
                f"{digest} (matches manifest)" if digest else "not in manifest (not checked)",
            )
        )
        model = runtime.get_chat_model(settings)
        if load:
            model.load()
        info = model.describe()
    except AssistantError as exc:
        problems.append(str(exc))
    rows.append(("llama-cpp-python", runtime.llama_version()))
    rows.append(("GPU offload available", runtime.gpu_offload_supported()))
    if info:
        rows.append(("GPU layers used", _layers(info["n_gpu_layers"])))
        rows.append(("GPU offload active", info["gpu_offload_used"]))
        rows.append(("threads", info["n_threads"]))
        rows.append(("context size (n_ctx)", info["n_ctx"]))
        rows.append(("max tokens per answer", settings.max_tokens))
        if info["load_seconds"] is not None:
            rows.append(("load time", f"{info['load_seconds']:.2f} s"))
    rows.append(("CPU cores", os.cpu_count()))
    rows.extend(cpu_rows(info))
    try:
        embed = resolve_embed_model(settings)
        rows.append(("embedding model", embed.path if embed else "chat model's own embeddings"))
    except AssistantError as exc:
        problems.append(str(exc))
    others = [p.name for p in chat_candidates(settings.models_dir)]
    rows.append(("GGUF files in models/", ", ".join(others) or "none"))
    if settings.chroma_url:
        rows.append(("index", f"Chroma server {settings.chroma_url}"))
    else:
        state = "exists" if settings.chroma_path.exists() else "not created yet"
        rows.append(("index", f"{settings.chroma_path} ({state})"))
    rows.append(("diagnosis database", settings.database_path))
    rows.append(("llama.cpp features", runtime.system_info().strip()))
    return {
        "ok": not problems,
        "problems": problems,
        "rows": rows,
        "model": info,
    }


def _layers(n: int) -> str:
    return "all" if n < 0 else str(n)


def cpu_rows(info: dict[str, Any]) -> list[tuple[str, Any]]:
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
