"""The agent's tools: one object per tool, each declaring what it reads or writes.

Each tool declares its access (``read`` or ``write``); the approval policy only looks
at that declaration. Reads run at once. Writes run in two steps: :meth:`Toolbox.plan`
validates the call and computes the diff shown for approval (no file is touched),
and :meth:`Toolbox.apply` applies it later, only when the journal holds an approval
for that call and the file is still what the diff was computed from.

The file tools keep langchain-community's ``FileManagementToolkit`` names and argument
names (``read_file(file_path)``, ``list_directory(dir_path)``, ``move_file(source_path,
destination_path)``); ``write_file`` edits by search-and-replace (``old_text`` ->
``new_text``) instead of overwriting whole files. :mod:`.langchain_tools` turns them into
langchain tools, and langchain tools into extra tools of the agent.

========================  =====================================================
:mod:`.base`              ``Tool`` (``ReadTool`` / ``WriteTool``), spec, result
:mod:`.files`             ``read_file``, ``list_directory``
:mod:`.run_info`          ``search_index``, ``job_status``
:mod:`.writes`            ``write_file``, ``move_file``
:mod:`.undo`              ``undo_edit`` (``/undo``)
:mod:`.toolbox`           the tools of one chat by name; the gate of every write
:mod:`.langchain_tools`   langchain's tool interface (the only langchain_core import)
========================  =====================================================
"""

from __future__ import annotations

from ..types import READ, WRITE, Access
from .base import (
    Approved,
    ReadTool,
    Tool,
    ToolResult,
    ToolSpec,
    WriteTool,
    call_label,
)
from .files import render_file, render_listing
from .run_info import JobsProvider, SearchFn
from .toolbox import Toolbox, standard_tools

__all__ = [
    "READ",
    "WRITE",
    "Access",
    "Approved",
    "JobsProvider",
    "ReadTool",
    "SearchFn",
    "Tool",
    "ToolResult",
    "ToolSpec",
    "Toolbox",
    "WriteTool",
    "call_label",
    "render_file",
    "render_listing",
    "standard_tools",
]
