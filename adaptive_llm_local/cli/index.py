"""``adaptive-llm-local index add|search|stats|rebuild``: a thin front end over ``retrieval``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import IndexUnavailableError
from .console import console, escape, print_json, settings_from_args
from .render import RichProgress, print_hits, print_index_stats

if TYPE_CHECKING:  # the commands import retrieval when they run: `triage` stays instant
    from ..retrieval import Source

# --- commands -----------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    from ..retrieval import Index
    from ..retrieval.embedder import Embedder

    settings = settings_from_args(args)
    embedder = (
        Embedder.from_settings(settings, batch_size=args.batch_size) if args.batch_size else None
    )
    with Index(settings, embedder=embedder, create=True) as index, RichProgress() as progress:
        report = index.add_paths(args.paths, progress=progress)
        if not args.no_builtin:
            report.merge(index.add_builtin_docs(progress=progress))
    if args.json:
        print_json(report.to_json())
        return 0
    out = console()
    out.print(f"[green]✓[/] {escape(report.summary())}")
    out.print(f"[dim]index: {escape(index.location)}[/]")
    return 0


def hit_json(hit: Source) -> dict[str, Any]:
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
    from ..retrieval import open_retriever

    settings = settings_from_args(args)
    index = open_retriever(settings, create=False)
    if index is None:
        if args.json:
            print("[]")
        console(stderr=True).print(
            f"[yellow]No index at {escape(settings.chroma_path)} yet:[/] run "
            "`adaptive-llm-local index add PATH...` first."
        )
        return 0
    kinds = (args.kind,) if args.kind else ("failure", "doc")
    hits = index.search(args.query, k=args.k, kinds=kinds)
    if args.json:
        print_json([hit_json(h) for h in hits])
        return 0
    print_hits(console(), args.query, hits)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from ..retrieval import Index

    settings = settings_from_args(args)
    if not Index.exists(settings):
        if args.json:
            print_json({"location": str(settings.chroma_path), "exists": False}, indent=None)
        else:
            console().print(f"No index at {escape(settings.chroma_path)} yet.")
        return 0
    index = Index(settings, create=False, keep_open=True)
    try:
        stats = index.stats()  # works on a mismatched index too, to say so
    finally:
        index.close()
    if args.json:
        print_json(stats)
        return 0
    print_index_stats(console(), stats)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from ..retrieval import Index

    settings = settings_from_args(args)
    if not Index.exists(settings):
        raise IndexUnavailableError(
            f"No index at {settings.chroma_path}: nothing to rebuild (`adaptive-llm-local index add PATH...` creates one)."
        )
    index = Index(settings, create=False, keep_open=True)
    try:
        with RichProgress() as progress:
            counts = index.rebuild(progress=progress)
    finally:
        index.close()
    if args.json:
        print_json({"rebuilt": counts, "embed_model": index.embedder.model_id}, indent=None)
        return 0
    done = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "nothing"
    console().print(f"[green]✓[/] re-embedded {done} with {escape(index.embedder.model_id)}")
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
