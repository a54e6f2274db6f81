"""``adaptive-llm-local index add|search|stats|rebuild``: a thin front end over ``retrieval``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from .cli import _settings as cli_settings

    return cli_settings(args)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _escape(text: object) -> str:
    from rich.markup import escape

    return escape(str(text))


class RichProgress:
    """A rich progress bar on stderr for :class:`~adaptive_llm_local.retrieval.Progress`."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=_console(stderr=True),
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, total: int, description: str) -> None:
        if total <= 0:
            return
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, message: str) -> None:
        self._progress.console.print(f"[yellow]{_escape(message)}[/]", soft_wrap=True)


# --- commands -----------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    from .retrieval import Index
    from .retrieval.embedder import Embedder

    settings = _settings(args)
    embedder = (
        Embedder.from_settings(settings, batch_size=args.batch_size) if args.batch_size else None
    )
    with Index(settings, embedder=embedder, create=True) as index, RichProgress() as progress:
        report = index.add_paths(args.paths, progress=progress)
        if not args.no_builtin:
            report.merge(index.add_builtin_docs(progress=progress))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    console = _console()
    console.print(f"[green]✓[/] {_escape(report.summary())}")
    console.print(f"[dim]index: {_escape(index.location)}[/]")
    return 0


def hit_json(hit: Any) -> dict[str, Any]:
    """One hit in the documented ``index search --json`` shape."""
    out: dict[str, Any] = {
        "kind": hit.kind,
        "source": hit.source,
        "lines": hit.lines,
        "score": round(float(hit.score), 4),
        "text": hit.text,
    }
    if hit.kind == "failure":
        out["category"] = hit.category
        out["signature"] = hit.signature
    return out


def cmd_search(args: argparse.Namespace) -> int:
    from .retrieval import open_retriever

    settings = _settings(args)
    index = open_retriever(settings, create=False)
    if index is None:
        if args.json:
            print("[]")
        _console(stderr=True).print(
            f"[yellow]No index at {_escape(settings.chroma_path)} yet:[/] run "
            "`adaptive-llm-local index add PATH...` first."
        )
        return 0
    kinds = (args.kind,) if args.kind else ("failure", "doc")
    hits = index.search(args.query, k=args.k, kinds=kinds)
    if args.json:
        print(json.dumps([hit_json(h) for h in hits], indent=2, ensure_ascii=False))
        return 0
    console = _console()
    if not hits:
        console.print(f"Nothing relevant in the index for {_escape(args.query)!r}.")
        return 0
    from rich.table import Table

    table = Table(
        show_lines=True, title=f"index search · {_escape(args.query)}", title_justify="left"
    )
    for name in ("#", "kind", "source", "score", "text"):
        table.add_column(name, overflow="fold")
    for i, hit in enumerate(hits, 1):
        what = f"{hit.kind}\n[dim]{hit.category}[/]" if hit.category else hit.kind
        text = hit.text if len(hit.text) <= 400 else hit.text[:399] + "…"
        table.add_row(str(i), what, _escape(hit.cite()), f"{hit.score:.3f}", _escape(text))
    console.print(table)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .retrieval import Index

    settings = _settings(args)
    if not Index.exists(settings):
        if args.json:
            print(json.dumps({"location": str(settings.chroma_path), "exists": False}))
        else:
            _console().print(f"No index at {_escape(settings.chroma_path)} yet.")
        return 0
    index = Index(settings, create=False, keep_open=True)
    try:
        stats = index.stats()  # works on a mismatched index too, to say so
    finally:
        index.close()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    from rich.table import Table

    table = Table(title="adaptive-llm-local index", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("location", _escape(stats["location"]))
    table.add_row("embedding model", _escape(stats["configured_embed_model"]))
    for kind, info in stats["collections"].items():
        detail = info.get("by_category") or info.get("by_origin") or {}
        breakdown = ", ".join(f"{k} {v}" for k, v in detail.items())
        table.add_row(
            kind, f"{info['count']} entries" + (f" ({_escape(breakdown)})" if breakdown else "")
        )
        built = info.get("embed_model")
        if built and built != stats["configured_embed_model"]:
            table.add_row(
                "", f"[red]built with {_escape(built)}: run `adaptive-llm-local index rebuild`[/]"
            )
    thresholds = stats["thresholds"]
    table.add_row("relevance", ", ".join(f"{k} {v:g}" for k, v in thresholds.items()))
    _console().print(table)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from .errors import IndexError_
    from .retrieval import Index

    settings = _settings(args)
    if not Index.exists(settings):
        raise IndexError_(
            f"No index at {settings.chroma_path}: nothing to rebuild (`adaptive-llm-local index add PATH...` creates one)."
        )
    index = Index(settings, create=False, keep_open=True)
    try:
        with RichProgress() as progress:
            counts = index.rebuild(progress=progress)
    finally:
        index.close()
    if args.json:
        print(json.dumps({"rebuilt": counts, "embed_model": index.embedder.model_id}))
        return 0
    done = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing"
    _console().print(f"[green]✓[/] re-embedded {done} with {_escape(index.embedder.model_id)}")
    return 0


def add_index_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``index add|search|stats|rebuild`` on the CLI's subparsers."""
    parser = sub.add_parser("index", help="the retrieval index of past failures and docs")
    actions = parser.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    p = actions.add_parser(
        "add",
        parents=[common],
        help="index files or folders: logs (*.log, *.out, *.err) as failures, others as docs",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (folders are walked)")
    p.add_argument(
        "--no-builtin", action="store_true", help="skip the troubleshooting guide and API docs"
    )
    p.add_argument("--json", action="store_true", help="print the ingestion report as JSON")
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_add)

    p = actions.add_parser("search", parents=[common], help="search past failures and docs")
    p.add_argument("query", help="a question, an error line, or a failure signature")
    p.add_argument("--json", action="store_true", help="print a JSON list of hits, best first")
    p.add_argument("-k", type=int, default=5, help="most hits to show (default 5)")
    p.add_argument("--kind", choices=("failure", "doc"), help="only failures or only docs")
    p.set_defaults(func=cmd_search)

    p = actions.add_parser("stats", parents=[common], help="counts, embedding model and location")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = actions.add_parser(
        "rebuild", parents=[common], help="re-embed everything with the configured embedding model"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rebuild)
