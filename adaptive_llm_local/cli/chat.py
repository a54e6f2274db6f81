"""``adaptive-llm-local chat``: the notebook's conversation about a run, in a terminal.

The same agent, threads and approvals as ``llm.chat``: answers stream as they are
generated, every change is shown as a diff with a y/n prompt under it, and with several
hunks the prompt takes hunk numbers. Messages are read line by line from standard input
when it is not a terminal, so a session can be scripted (approval answers included).
Ctrl-C during an answer stops it; Ctrl-C at the prompt (or end of input) leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import sqlite3
import sys
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..triage import redact
from .console import console, escape, open_assistant

if TYPE_CHECKING:
    from ..agent import Agent, ChatResult, Event, PendingApproval, SeedContext
    from ..assistant import Assistant
    from ..triage import TriageResult

PROMPT = "you> "
APPROVAL_HELP = (
    "y = apply, n = reject, a = apply and always allow this file, 1,3 = only those hunks"
)
_LINES_SHOWN = 30


def add_chat_command(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "chat",
        parents=[common],
        help="chat about a failed job or a run: read files, propose fixes as diffs to approve",
    )
    p.add_argument("--job", help="job id: start from its stored diagnosis (the notebook's thread)")
    p.add_argument("--log", help="the job's log: diagnose it now and start from that diagnosis")
    p.add_argument(
        "--root", help="the only folder the file tools may read and write (default: this folder)"
    )
    p.add_argument("--yolo", action="store_true", help="apply changes without asking (/yolo off)")
    p.add_argument("--no-index", action="store_true", help="do not search the index")
    p.set_defaults(func=cmd_chat)


def cmd_chat(args: argparse.Namespace) -> int:
    root = Path(args.root or ".").expanduser().resolve()
    if not root.is_dir():
        raise AssistantError(f"--root {args.root} is not a folder")
    triaged = None
    if args.log:
        from ..triage import triage_file

        # a wrong path fails at once, before the model loads; the log is read this once
        triaged = triage_file(Path(args.log).resolve())
    interactive = sys.stdin.isatty()
    assistant = open_assistant(args, quiet=not interactive)
    thread, seed = seed_for(args, assistant, triaged)
    agent = assistant.agent(root, yolo=args.yolo)
    out = console()
    out.print(
        f"[bold]chat[/] in {escape(root)} · thread {escape(thread)} · "
        f"YOLO {'on' if agent.yolo else 'off'} · /help for commands"
    )
    try:
        with asyncio.Runner() as runner:
            return Session(agent, thread, out, runner, interactive).run(seed)
    finally:
        agent.close()


def seed_for(
    args: argparse.Namespace, assistant: Assistant, triaged: TriageResult | None = None
) -> tuple[str, SeedContext | None]:
    """The thread id and what it starts from: ``--log`` diagnosed now, or ``--job``'s stored one.

    ``triaged`` is the ``--log`` already read: it is diagnosed, not the name read again.
    """
    from ..agent import SeedContext
    from ..manager.chat import RUN_THREAD

    if args.log:
        log = Path(args.log).resolve()
        with console(stderr=True).status(f"Diagnosing {escape(log.name)}…", spinner="dots"):
            diagnosis = (
                assistant.diagnose(triaged) if triaged is not None else assistant.diagnose_file(log)
            )
        job = args.job or diagnosis.job_id or log.stem
        return job, SeedContext.from_diagnosis(diagnosis, job_id=job, log_path=str(log))
    if args.job:
        from ..manager import DiagnosisStore

        store = DiagnosisStore(assistant.settings.database_path)
        record = store.job(args.job)
        if record is None or record.diagnosis is None:
            raise AssistantError(
                f"no stored diagnosis of job {args.job} in {store.path}; "
                "pass --log LOG to diagnose its log now"
            )
        log_path = record.log_path or record.diagnosis.log_path
        return args.job, SeedContext.from_diagnosis(
            record.diagnosis, job_id=args.job, log_path=log_path
        )
    return RUN_THREAD, None


class Session:
    """One terminal conversation: read a line, stream the turn, ask about changes."""

    def __init__(
        self, agent: Agent, thread: str, out: Any, runner: asyncio.Runner, interactive: bool
    ) -> None:
        self.agent = agent
        self.thread = thread
        self.out = out
        self.runner = runner
        self.interactive = interactive

    def run(self, seed: SeedContext | None) -> int:
        if seed is not None:
            self.turn(lambda: self.agent.stream_seed(self.thread, seed))
        pending = self.waiting()
        while True:
            if pending is not None:
                pending = self.approve(pending)
                if pending is _LEAVE:
                    return 0
                continue
            line = self.read(PROMPT)
            if line is None or line.strip() in ("/quit", "/exit"):
                return 0
            if not line.strip():
                continue
            result = self.turn(functools.partial(self.agent.stream, line, self.thread))
            pending = result.pending if result is not None else self.waiting()

    # --- input ---------------------------------------------------------------------

    def read(self, prompt: str) -> str | None:
        """The next line (``None`` at the end of input); echoed when scripted."""
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                return None
        line = sys.stdin.readline()
        if not line:
            return None
        line = line.rstrip("\n")
        self.out.print(f"[dim]{escape(prompt)}{escape(redact(line))}[/]")
        return line

    def approve(self, pending: PendingApproval) -> Any:
        """Show the diff, ask, and run the decision; the next pending approval, if any."""
        show_pending(self.out, pending)
        hunks = max((len(a.hunks) for a in pending.actions), default=0)
        while True:
            answer = self.read(f"apply? [y/n/a{'/hunks' if hunks > 1 else ''}] ")
            if answer is None:
                self.out.print("[yellow]Nothing applied; the change still waits for you.[/]")
                return _LEAVE
            decision = parse_decision(answer, hunks)
            if decision is not None:
                break
            self.out.print(f"[yellow]{escape(APPROVAL_HELP)}[/]")
        decision["proposal"] = pending.id  # refused if another session decided it meanwhile
        result = self.turn(lambda: self.agent.stream_decide(self.thread, **decision))
        return result.pending if result is not None else self.waiting()

    def waiting(self) -> PendingApproval | None:
        """What the thread waits on now (after a refusal: maybe another session's change)."""
        return self.runner.run(asyncio.to_thread(self.agent.pending, self.thread))

    # --- one turn ------------------------------------------------------------------

    def turn(self, start: Callable[[], AsyncGenerator[Event, None]]) -> ChatResult | None:
        """Run a turn to its end, printing as it goes; Ctrl-C stops it (``None``).

        A chat database that cannot be opened or written ends the session (one line,
        exit code 2); any other refusal is printed and the conversation goes on.
        """
        from ..agent.databases import DatabaseUnusableError, database_error

        view = TurnView(self.out)
        try:
            return self.runner.run(view.follow(start()))
        except KeyboardInterrupt:
            self.out.print("\n[yellow](stopped)[/]")
            return None
        except DatabaseUnusableError:
            raise
        except sqlite3.DatabaseError as exc:  # a write of the thread failed (a full disk...)
            raise database_error(self.agent.state_dir, exc) from None
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise database_error(self.agent.state_dir, exc) from None
        except AssistantError as exc:
            self.out.print(f"[red]{escape(exc)}[/]")
            return None


_LEAVE = object()


def parse_decision(answer: str, n_hunks: int) -> dict[str, Any] | None:
    """``y``/``n``/``a`` or hunk numbers as ``decide`` arguments (``None``: not understood)."""
    word = answer.strip().lower()
    if word in ("y", "yes"):
        return {"approve": True}
    if word in ("n", "no"):
        return {"approve": False}
    if word in ("a", "always"):
        return {"approve": True, "always": "path"}
    numbers = word.replace(",", " ").split()
    if n_hunks > 1 and numbers and all(n.isdigit() and 1 <= int(n) <= n_hunks for n in numbers):
        return {"approve": True, "hunks": sorted({int(n) for n in numbers})}
    return None


def show_pending(out: Any, pending: PendingApproval) -> None:
    for action in pending.actions:
        out.print(f"[bold yellow]{escape(action.summary, name=True)}[/]")
        # split at newlines only: a \r or \u2028 inside a line is shown escaped, and
        # never starts a line of its own that looks like part of the diff
        for line in action.diff.rstrip("\n").split("\n"):
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
            if line.startswith(("+++", "---")):
                style = "bold"
            out.print(f"[{style}]{escape(line)}[/]" if style else escape(line))
        if len(action.hunks) > 1:
            out.print(f"[dim]{len(action.hunks)} hunks: answer with numbers to apply only some[/]")


class TurnView:
    """Prints a turn's events: tokens as they come, tool steps, the reply's sources."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.streamed = False
        self.draft: list[str] = []  # the tokens as they came, before the answer was checked
        self.shown: list[str] = []  # step texts already printed (the result repeats some)

    async def follow(self, events: AsyncGenerator[Event, None]) -> ChatResult | None:
        from ..agent import DoneEvent, TokenEvent, ToolEvent

        result = None
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TokenEvent):
                    self.streamed = True
                    self.draft.append(event.text)
                    self.out.print(f"[dim]{escape(event.text)}[/]", end="")
                elif isinstance(event, ToolEvent):
                    self.step(event.step)
                elif isinstance(event, DoneEvent):
                    result = event.result
        if result is not None:
            self.done(result)
        return result

    def step(self, step: Any) -> None:
        mark = "[green]·[/]" if step.ok else "[red]✗[/]"
        number = f"[{step.n}] " if step.n is not None else ""
        self.out.print(f"{mark} [bold]{escape(number + step.label, name=True)}[/]")
        self.shown += [step.content, number + step.label]
        lines = step.content.splitlines()
        for line in lines[:_LINES_SHOWN]:
            self.out.print(f"[dim]  {escape(line)}[/]")
        if len(lines) > _LINES_SHOWN:
            self.out.print(f"[dim]  … {len(lines) - _LINES_SHOWN} more lines[/]")

    def done(self, result: ChatResult) -> None:
        rest = result.text
        for text in self.shown:
            rest = rest.replace(text, "")
        if self.streamed:
            self.out.print()
            if rest.strip() and rest.strip() != "".join(self.draft).strip():
                # sentences were withheld by the checks: show what stands
                self.out.print(f"[bold]checked answer:[/] {escape(rest.strip())}")
        elif rest.strip():
            self.out.print(escape(rest.strip()))
        if result.cited:
            labels = {s.n: s.label for s in result.sources}
            cited = "; ".join(f"[{n}] {labels.get(n, '?')}" for n in result.cited)
            self.out.print(f"[dim]sources: {escape(cited)}[/]")
