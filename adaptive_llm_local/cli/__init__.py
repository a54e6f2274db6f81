"""``adaptive-llm-local``: a thin command line over the library.

:mod:`.commands` has ``triage``, ``diagnose``, ``ask`` and ``doctor``; :mod:`.chat`
the ``chat`` session; :mod:`.index` the ``index`` commands; :mod:`.console` and
:mod:`.render` what they share.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import AssistantError
from .chat import add_chat_command
from .commands import add_commands
from .console import add_common_options, console, print_error
from .index import add_index_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adaptive-llm-local",
        description="Offline assistant for adaptive-scheduler jobs: triage and diagnose failed "
        "job logs with a local llama.cpp model. Nothing leaves this machine.",
    )
    common = argparse.ArgumentParser(add_help=False)
    add_common_options(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub, common)
    add_chat_command(sub, common)
    add_index_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AssistantError as exc:
        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console(stderr=True).print("[yellow]interrupted[/]")
        return 130
    except BrokenPipeError:
        return 0
