"""``triage``, ``diagnose``, ``ask`` and ``doctor``: each a few lines over the library."""

from __future__ import annotations

import argparse
from typing import Any

from .console import console, open_assistant, print_json, settings_from_args
from .render import (
    StreamedAnswer,
    print_diagnosis,
    print_doctor,
    print_piece,
    print_sources,
    print_triage,
)


def cmd_triage(args: argparse.Namespace) -> int:
    from ..triage import triage_file

    result = triage_file(args.log)
    if args.json:
        print_json(result.to_json())
    else:
        print_triage(console(), result)
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ..triage import triage_file

    result = triage_file(args.log)  # a wrong path fails at once, before the model loads
    assistant = open_assistant(args, quiet=args.json)
    if args.json:
        print_json(assistant.diagnose(result).to_json())
        return 0
    out = console()
    print_triage(out, result)
    with StreamedAnswer(out) as view:
        diagnosis = assistant.diagnose(result, on_token=view.on_token)
    print_diagnosis(out, diagnosis)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = open_assistant(args, quiet=args.json)
    if args.json:
        print_json(assistant.ask(args.question).to_json())
        return 0
    out = console()

    answer = assistant.ask(args.question, on_token=lambda piece: print_piece(out, piece))
    out.print()
    if answer.sources:
        print_sources(out, answer.sources)
    elif assistant.retriever is not None:
        out.print("[dim]No relevant sources in the index; answered from the model alone.[/]")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..doctor import collect

    report = collect(settings_from_args(args), load=not args.no_load)
    if args.json:
        print_json(report)
        return 0 if report["ok"] else 1
    print_doctor(console(), report)
    return 0 if report["ok"] else 1


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``triage``, ``diagnose``, ``ask`` and ``doctor`` on the CLI's subparsers."""
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
