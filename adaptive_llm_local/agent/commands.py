"""Slash commands: turns that run tools directly, so the chat works with any model."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ToolError
from .types import ToolArgs

# Commands that change the chat's settings rather than the thread: answered at once,
# even while a decision is pending, and not recorded in the thread.
META_COMMANDS = ("yolo", "allow", "revoke", "help")
THREAD_COMMANDS = ("read", "ls", "search", "jobs", "log", "fix", "undo")

HELP = """\
Commands (they work with any model):
  /read PATH[:A-B]   show a file of the run (lines A to B; :-N for the last N lines)
  /ls [PATH]         list a folder of the run
  /search QUERY      search past failures and docs in the index
  /jobs              the run's jobs and their states
  /log [JOB]         the end of a job's log (default: this thread's job)
  /fix               propose a fix for this thread's failed job, as a diff to approve
  /undo              revert the last change made in this thread (asks first)
  /yolo on|off       apply changes without asking (off: every change waits for approval)
  /allow             list "allow always" rules of this thread; /revoke N removes rule N
  /help              this list
Anything else is a question, answered from what the thread has read (cited as [n])."""

_RANGE = re.compile(r"^(?P<path>.+?):(?:(?P<a>\d+)(?:-(?P<b>\d+))?|-(?P<tail>\d+))$")


@dataclass(frozen=True)
class SlashCommand:
    name: str
    arg: str

    @property
    def is_meta(self) -> bool:
        return self.name in META_COMMANDS


def parse_command(text: str) -> SlashCommand | None:
    """The slash command in a message, or ``None`` for a free question."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped.startswith("//") or len(stripped) < 2:
        return None
    name, _, arg = stripped[1:].partition(" ")
    if "/" in name:  # "/home/me/x.py is broken" is a question, not a command
        return None
    return SlashCommand(name.lower(), arg.strip())


def read_args(arg: str) -> ToolArgs:
    """``read_file`` arguments of ``/read PATH[:A-B]`` or ``/read PATH:-N``."""
    if not arg:
        raise ToolError("/read needs a path, e.g. /read train.py:10-40")
    match = _RANGE.match(arg)
    if match is None:
        return {"file_path": arg}
    args: ToolArgs = {"file_path": match["path"]}
    if match["tail"]:
        args["start_line"] = -int(match["tail"])
    else:
        args["start_line"] = int(match["a"])
        args["end_line"] = int(match["b"] or match["a"])
    return args
