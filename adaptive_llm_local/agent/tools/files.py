"""The read tools over the sandbox: ``read_file`` and ``list_directory``.

Names and argument names are langchain-community's ``FileManagementToolkit``'s
(``read_file(file_path)``, ``list_directory(dir_path)``); ``read_file`` also takes a
range of lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...visible import visible
from ..line_windows import FileText
from ..sandbox import Entry, Sandbox
from ..types import ToolArgs
from .base import ReadTool, ToolResult, ToolSpec, int_arg, params, str_arg


def render_file(text: FileText) -> tuple[str, str]:
    """(content, label) of a read: a header line with the range, then the text."""
    if text.first_line < 0:
        where = f"last {-text.first_line} lines"
        label = f"{text.path} (last {-text.first_line} lines)"
    else:
        where = f"lines {text.first_line}-{text.last_line}"
        label = f"{text.path}:{text.first_line}-{text.last_line}"
    more = f"; {text.note}" if text.note else ", truncated" if text.truncated else ""
    return f"{text.path} ({where}{more}):\n{text.text}", label


def render_listing(rel: str, entries: Sequence[Entry], capped: bool) -> str:
    lines = [f"{rel}/ ({len(entries)} entries{', more not shown' if capped else ''}):"]
    for entry in entries:
        name = visible(entry.name, name=True)  # a name with a newline must not fake entries
        if entry.kind == "folder":
            lines.append(f"  {name}/")
        elif entry.kind == "file":
            lines.append(f"  {name}  ({entry.size} bytes)")
        else:
            lines.append(f"  {name}  ({entry.kind}, not opened)")
    return "\n".join(lines)


class ReadFile(ReadTool):
    spec = ToolSpec(
        "read_file",
        "Read a text file of the run folder, whole or a range of lines.",
        params(
            ["file_path"],
            file_path=("string", "path inside the run folder"),
            start_line=("integer", "first line (from 1); negative: that many lines from the end"),
            end_line=("integer", "last line, inclusive"),
        ),
    )

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, args: ToolArgs) -> ToolResult:
        text = self.sandbox.read_text(
            str_arg(args, "file_path"), int_arg(args, "start_line"), int_arg(args, "end_line")
        )
        content, label = render_file(text)
        return ToolResult(True, content, label)


class ListDirectory(ReadTool):
    spec = ToolSpec(
        "list_directory",
        "List files and folders in a folder of the run folder.",
        params([], dir_path=("string", "folder inside the run folder (default: the run folder)")),
    )

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, args: ToolArgs) -> ToolResult:
        rel, entries, capped = self.sandbox.list_dir(str_arg(args, "dir_path", "."))
        return ToolResult(True, render_listing(rel, entries, capped), f"{rel}/")
