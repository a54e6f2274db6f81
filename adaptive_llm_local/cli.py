"""``adaptive-llm-local``: a thin command line over the library."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import AssistantError

_CATEGORY_STYLE = {"none": "green", "unknown": "yellow"}


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        model=getattr(args, "model", None),
        n_ctx=getattr(args, "n_ctx", None),
        n_gpu_layers=getattr(args, "gpu_layers", None),
        n_threads=getattr(args, "threads", None),
        index_dir=Path(args.index) if getattr(args, "index", None) else None,
    )


# --- triage -------------------------------------------------------------------------------


def cmd_triage(args: argparse.Namespace) -> int:
    from .triage import triage_file

    result = triage_file(args.log)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return 0
    _print_triage(result)
    return 0


def _print_triage(result: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    console = _console()
    style = _CATEGORY_STYLE.get(result.category, "bold red")
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", justify="right")
    table.add_column()
    table.add_row("category", f"[{style}]{result.category}[/]")
    if result.exception:
        table.add_row("exception", result.exception)
    if result.key_line is not None:
        table.add_row("key line", f"{result.key_line_number}: {_escape(result.key_line)}")
    table.add_row("signature", f"{result.signature}  [dim]{_escape(result.summary)}[/]")
    for note in result.notes:
        table.add_row("note", f"[yellow]{_escape(note)}[/]")
    console.print(Panel(table, title=f"triage · {result.source}", title_align="left"))
    if result.evidence:
        for ev in result.evidence:
            mark = "[bold red]>[/]" if ev.line == result.key_line_number else " "
            console.print(f"{mark}[dim]{ev.line:>7}[/] {_escape(ev.text)}")


def _escape(text: str | None) -> str:
    from rich.markup import escape

    return escape(text or "")


# --- diagnose -----------------------------------------------------------------------------


_FIELD = re.compile(r'"(root_cause|suggested_fix)"\s*:\s*"((?:[^"\\]|\\.)*)')


def partial_fields(text: str) -> dict[str, str]:
    """The string fields visible so far in a JSON answer that is still being generated."""
    out: dict[str, str] = {}
    for name, raw in _FIELD.findall(text):
        try:
            out[name] = json.loads(f'"{raw}"')
        except ValueError:
            out[name] = raw.replace('\\"', '"')
    return out


def cmd_diagnose(args: argparse.Namespace) -> int:
    from .diagnose import Diagnoser
    from .triage import triage_file

    settings = _settings(args)
    result = triage_file(args.log)
    diagnoser = Diagnoser(_load_model(settings, quiet=args.json), _retriever(settings, args))
    if args.json:
        diagnosis = diagnoser.diagnose(result)
        print(json.dumps(diagnosis.to_json(), indent=2, ensure_ascii=False))
        return 0

    from rich.live import Live
    from rich.text import Text

    _print_triage(result)
    console = _console()
    buffer: list[str] = []

    def render() -> Text:
        fields = partial_fields("".join(buffer))
        text = Text()
        if not fields:
            text.append("thinking…", style="dim")
        for label, key in (("Root cause", "root_cause"), ("Fix", "suggested_fix")):
            if key in fields:
                text.append(f"{label}: ", style="bold")
                text.append(fields[key] + "\n")
        return text

    with Live(render(), console=console, refresh_per_second=12, transient=True) as live:

        def on_token(piece: str) -> None:
            buffer.append(piece)
            live.update(render())

        diagnosis = diagnoser.diagnose(result, on_token=on_token)
    _print_diagnosis(diagnosis)
    return 0


def _print_diagnosis(diagnosis: Any) -> None:
    from rich.panel import Panel
    from rich.text import Text

    console = _console()
    body = Text()
    body.append("Root cause: ", style="bold")
    body.append(diagnosis.root_cause + "\n")
    body.append("Fix: ", style="bold")
    body.append(diagnosis.suggested_fix + "\n")
    body.append(
        f"confidence {diagnosis.confidence:.2f} · explained by {diagnosis.explained_by}",
        style="dim",
    )
    if diagnosis.model:
        body.append(f" · model {diagnosis.model}", style="dim")
    body.append(f" · {diagnosis.seconds:.1f} s", style="dim")
    for note in diagnosis.notes:
        body.append(f"\nnote: {note}", style="yellow")
    console.print(Panel(body, title="diagnosis", title_align="left", border_style="cyan"))
    if diagnosis.sources:
        console.print("[bold]Sources[/]")
        for i, source in enumerate(diagnosis.sources, 1):
            console.print(f"  [{i}] {_describe_source(source, diagnosis.signature)}")


def _describe_source(source: Any, signature: str | None = None) -> str:
    """One line per source; a past failure with the same signature is flagged as seen before."""
    text = f"{source.kind} {_escape(source.cite())}"
    if source.category:
        text += f" [dim]({source.category})[/]"
    text += f" score {source.score:.2f}"
    if source.kind == "failure" and signature and source.signature == signature:
        seen = source.extra.get("occurrences", 1)
        text = f"[bold green]seen before[/] ({seen}x, same signature): " + text
        if source.extra.get("fix_worked") is True:
            text += " · [green]its fix worked[/]"
    return text


def _load_model(settings: Settings, *, quiet: bool = False) -> Any:
    from .runtime import get_chat_model

    model = get_chat_model(settings)
    if quiet:
        model.load()
        return model
    with _console(stderr=True).status(f"Loading {model.name}…", spinner="dots"):
        model.load()
    return model


def _retriever(settings: Settings, args: argparse.Namespace) -> Any:
    """The index when there is one; a locked or mismatched index is a warning, not a failure."""
    if getattr(args, "no_index", False):
        return None
    from .retrieval import open_retriever

    try:
        return open_retriever(settings, create=False)
    except AssistantError as exc:
        _console(stderr=True).print(
            f"[yellow]warning:[/] {_escape(str(exc))} Continuing without the index."
        )
        return None


# --- ask ----------------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer import answer_question

    settings = _settings(args)
    model = _load_model(settings, quiet=args.json)
    retriever = _retriever(settings, args)
    if args.json:
        answer = answer_question(args.question, model, retriever)
        print(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
        return 0
    console = _console()

    def on_token(piece: str) -> None:
        console.print(piece, end="", markup=False, highlight=False)

    answer = answer_question(args.question, model, retriever, on_token=on_token)
    console.print()
    if answer.sources:
        console.print("[bold]Sources[/]")
        for i, source in enumerate(answer.sources, 1):
            console.print(f"  [{i}] {_describe_source(source)}")
    elif retriever is not None:
        console.print("[dim]No relevant sources in the index; answered from the model alone.[/]")
    return 0


# --- doctor -------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import collect

    settings = _settings(args)
    report = collect(settings, load=not args.no_load)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0 if report["ok"] else 1
    from rich.table import Table

    console = _console()
    table = Table(title="adaptive-llm-local doctor", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in report["rows"]:
        table.add_row(key, _escape(str(value)))
    console.print(table)
    for problem in report["problems"]:
        console.print(f"[red]✗[/] {_escape(problem)}")
    if report["ok"]:
        console.print("[green]✓[/] ready")
    return 0 if report["ok"] else 1


# --- entry point --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adaptive-llm-local",
        description="Offline assistant for adaptive-scheduler jobs: triage and diagnose failed "
        "job logs with a local llama.cpp model. Nothing leaves this machine.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model", help="chat GGUF path or file name in models/ (ADAPTIVE_LLM_MODEL)"
    )
    common.add_argument("--n-ctx", type=int, help="context window in tokens (ADAPTIVE_LLM_N_CTX)")
    common.add_argument(
        "--gpu-layers",
        type=int,
        help="layers offloaded to the GPU, -1 all, 0 none (ADAPTIVE_LLM_N_GPU_LAYERS)",
    )
    common.add_argument("--threads", type=int, help="CPU threads (ADAPTIVE_LLM_THREADS)")
    common.add_argument("--index", help="index folder (ADAPTIVE_LLM_INDEX_DIR)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("triage", help="classify a job log without a model (fast, deterministic)")
    p.add_argument("log", help="path to the job's log file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_triage)

    p = sub.add_parser(
        "diagnose", parents=[common], help="explain why a job failed and how to fix it"
    )
    p.add_argument("log", help="path to the job's log file")
    p.add_argument("--json", action="store_true", help="print one JSON object (no streaming)")
    p.add_argument("--no-index", action="store_true", help="do not consult the retrieval index")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser(
        "ask", parents=[common], help="ask a question, answered from the index with citations"
    )
    p.add_argument("question")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-index", action="store_true", help="answer from the model alone")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "doctor", parents=[common], help="show model, llama.cpp build, GPU offload, index"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-load", action="store_true", help="do not load the model (faster)")
    p.set_defaults(func=cmd_doctor)

    try:
        from .index_cli import add_index_commands
    except ImportError:
        pass
    else:
        add_index_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AssistantError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        _console(stderr=True).print("[yellow]interrupted[/]")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
