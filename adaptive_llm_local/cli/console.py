"""What every command shares: the rich consoles, escaping, settings from options, the assistant."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings

if TYPE_CHECKING:  # imported when a command needs it: `triage` stays instant
    from ..assistant import Assistant
    from ..errors import AssistantError


def console(stderr: bool = False) -> Any:
    """A rich console without syntax highlighting (log lines are not code)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def escape(text: object) -> str:
    """``text`` with rich markup characters escaped (``None`` prints as nothing)."""
    from rich.markup import escape as rich_escape

    return rich_escape("" if text is None else str(text))


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that loads a model or opens the index takes."""
    parser.add_argument(
        "--model", help="chat GGUF path or file name in models/ (ADAPTIVE_LLM_MODEL)"
    )
    parser.add_argument("--n-ctx", type=int, help="context window in tokens (ADAPTIVE_LLM_N_CTX)")
    parser.add_argument(
        "--gpu-layers",
        type=int,
        help="layers offloaded to the GPU, -1 all, 0 none (ADAPTIVE_LLM_N_GPU_LAYERS)",
    )
    parser.add_argument("--threads", type=int, help="CPU threads (ADAPTIVE_LLM_THREADS)")
    parser.add_argument("--index", help="index folder (ADAPTIVE_LLM_INDEX_DIR)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """``ADAPTIVE_LLM_*`` settings, with the command-line options given winning."""
    return Settings.from_env(
        model=getattr(args, "model", None),
        n_ctx=getattr(args, "n_ctx", None),
        n_gpu_layers=getattr(args, "gpu_layers", None),
        n_threads=getattr(args, "threads", None),
        index_dir=Path(args.index) if getattr(args, "index", None) else None,
    )


def open_assistant(args: argparse.Namespace, *, quiet: bool) -> Assistant:
    """The assistant with its model loaded (a spinner unless ``quiet``).

    A locked or mismatched index is a warning, not a failure: the command goes on
    without it (``--no-index`` skips it altogether).
    """
    from ..assistant import Assistant

    def warn(exc: AssistantError) -> None:
        console(stderr=True).print(
            f"[yellow]warning:[/] {escape(exc)} Continuing without the index."
        )

    assistant = Assistant.from_settings(
        settings_from_args(args),
        index="off" if getattr(args, "no_index", False) else "open",
        on_index_error=warn,
    )
    if quiet:
        assistant.load()
    else:
        with console(stderr=True).status(f"Loading {assistant.model.name}…", spinner="dots"):
            assistant.load()
    return assistant
