"""What every command shares: the rich consoles, escaping, settings from options, the assistant.

Text from a log, a document, a path, the index or the model is never trusted to be
harmless on a terminal: every printer passes it through :func:`visible` (directly, or
through :func:`escape` for rich markup and :func:`visible_text` for rich ``Text``), so
escape sequences, C1 controls and bidi overrides are shown as ``\\x1b``, ``\\x9b``,
``\\u202e`` instead of acting on the terminal, and ``[/]`` in a path is shown, not parsed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..visible import is_hidden, visible

if TYPE_CHECKING:  # imported when a command needs it: `triage` stays instant
    from rich.text import Text

    from ..assistant import Assistant
    from ..errors import AssistantError


def escape(text: object, *, name: bool = False) -> str:
    """:func:`visible` text with rich markup escaped, to put inside a markup string.

    ``name=True`` for a one-line label (a path, a summary): newlines and tabs are
    written out too, so the label cannot spill onto a line of its own.
    """
    from rich.markup import escape as rich_escape

    return rich_escape(visible(text, name=name))


def visible_text(text: Text) -> Text:
    """A rich ``Text`` with :func:`visible` applied, keeping its styles.

    (Rich itself drops BEL, BS, VT, FF and CR from a ``Text`` as it is built.)
    """
    from rich.text import Text

    plain = text.plain
    cuts = [i for i, char in enumerate(plain) if is_hidden(char)]
    if not cuts:
        return text
    out = text.blank_copy()
    for part in text.divide(sorted({c for i in cuts for c in (i, i + 1)})):
        if len(part) == 1 and is_hidden(part.plain):
            shown = Text(visible(part.plain), style=part.style)
            for span in part.spans:
                shown.stylize(span.style)
            part = shown
        out.append_text(part)
    return out


def console(stderr: bool = False) -> Any:
    """A rich console without syntax highlighting or ``:emoji:`` codes (log lines are not code)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # JSON writes astral characters as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(data: object, *, indent: int | None = 2) -> str:
    """``data`` as JSON that is safe on a terminal and loads back to exactly ``data``.

    Non-ASCII text stays readable; what :func:`is_hidden` (DEL, C1 controls, bidi
    overrides, lone surrogates, ...) is written as a ``\\uXXXX`` escape, as JSON allows.
    """
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    if text.isprintable():
        return text
    return "\n".join(
        line
        if line.isprintable()
        else "".join(_json_escape(c) if is_hidden(c) else c for c in line)
        for line in text.split("\n")
    )


def print_json(data: object, *, indent: int | None = 2) -> None:
    print(json_text(data, indent=indent))


def print_error(message: object, *, prefix: str = "error:") -> None:
    """One line on stderr: ``error: <message>`` (the message shown literally)."""
    console(stderr=True).print(f"[bold red]{prefix}[/] {escape(message)}", soft_wrap=True)


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
            f"[yellow]warning:[/] {escape(exc)} Continuing without the index.", soft_wrap=True
        )

    assistant = Assistant.from_settings(
        settings_from_args(args),
        index="off" if getattr(args, "no_index", False) else "open",
        on_index_error=warn,
    )
    if quiet:
        assistant.load()
    else:
        with console(stderr=True).status(
            f"Loading {escape(assistant.model.name)}…", spinner="dots"
        ):
            assistant.load()
    return assistant
