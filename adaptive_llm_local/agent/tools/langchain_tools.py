"""langchain's tool interface both ways: the only module that imports ``langchain_core``.

:func:`from_langchain` makes any langchain tool (``BaseTool``: ``@tool``,
``StructuredTool``, a toolkit's tools) an extra tool of the agent, offered to the model
with its own name, description and JSON-schema arguments. It is a read tool (it runs as
soon as the model calls it, like ``read_file``) unless it declares otherwise in its
``metadata``: ``{"access": "write"}``, or the MCP annotation ``{"readOnlyHint": False}``
(langchain-mcp-adapters puts a server's annotations there). A write tool's call waits
for an approval like a file write: the approval shows the arguments, the journal keeps
``proposed``, ``approved``/``denied`` and ``applied``; there is no backup, so ``/undo``
cannot revert it. An "allow always" rule for it covers the whole tool.

:func:`as_langchain` goes the other way: the agent's own tools as langchain
``StructuredTool`` objects with the same names, descriptions and JSON schemas (the
names and argument names of langchain-community's ``FileManagementToolkit``), for use
in another langchain program. A read tool runs through the sandbox; a write tool only
plans: it returns the diff its approval would show and writes nothing (writes happen
only through the agent's approvals).

langchain_core is imported when this module is (about half a second): the agent imports
it only when it is given a langchain tool.
"""

from __future__ import annotations

import json
from typing import TypeAlias

from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_function

from ...triage import redact
from ..errors import AgentError, ToolError
from ..types import READ, WRITE, Access, Plan, ToolArgs
from .base import Approved, ReadTool, Tool, ToolResult, ToolSpec, WriteTool, call_label
from .writes import refuse_kind

__all__ = ["ExtraTool", "StructuredTool", "access_of", "as_langchain", "from_langchain"]

ExtraTool: TypeAlias = BaseTool | Tool
"""An extra tool for the agent: a langchain tool, or one of the agent's own."""
THREAD = "langchain"
"""The thread a write tool plans in when called as a langchain tool."""


def access_of(tool: BaseTool) -> Access:
    """What a langchain tool declares it does (``read`` unless it says otherwise)."""
    metadata = tool.metadata or {}
    declared = metadata.get("access")
    if declared is not None:
        if declared not in (READ, WRITE):
            raise AgentError(
                f"tool {tool.name!r} declares access {declared!r}; use 'read' or 'write'"
            )
        return READ if declared == READ else WRITE
    if "readOnlyHint" in metadata:  # an MCP tool: not read-only unless it says so
        return READ if metadata["readOnlyHint"] is True else WRITE
    return READ


def spec_of(tool: BaseTool) -> ToolSpec:
    function = convert_to_openai_function(tool)
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return ToolSpec(tool.name, str(function.get("description") or tool.description), parameters)


def _content(output: object, max_chars: int) -> str:
    if isinstance(output, str):
        text = output
    elif isinstance(output, dict | list):
        text = json.dumps(output, ensure_ascii=False, default=str)
    else:
        text = str(output)
    if len(text) > max_chars:
        return text[:max_chars] + f"\n[... cut: {len(text)} characters, {max_chars} shown]"
    return text


class _Langchain:
    """What a langchain tool wrapped as the agent's own holds, and how it is run."""

    def __init__(self, tool: BaseTool, max_chars: int) -> None:
        self.tool = tool
        self.spec = spec_of(tool)
        self.max_chars = max_chars

    def invoke(self, args: ToolArgs) -> ToolResult:
        try:
            output = self.tool.invoke(dict(args))
        except ToolError:
            raise
        except Exception as exc:  # a user's tool: any failure is the call's result
            raise ToolError(f"{self.tool.name} failed: {type(exc).__name__}: {exc}") from exc
        return ToolResult(True, _content(output, self.max_chars), call_label(self.spec.name, args))


class LangchainRead(_Langchain, ReadTool):
    """A langchain tool that only reads: it runs when the model calls it."""

    def run(self, args: ToolArgs) -> ToolResult:
        return self.invoke(args)


class LangchainWrite(_Langchain, WriteTool):
    """A langchain tool that changes something: each call waits for an approval."""

    def plan(self, thread_id: str, args: ToolArgs) -> Plan:
        shown = json.dumps(args, indent=2, ensure_ascii=False, sort_keys=True, default=str)
        label = call_label(self.spec.name, args)
        return {
            "kind": "call",
            "path": "",
            "dest": None,
            "before_sha": None,
            "diff": redact(f"call {self.spec.name} with arguments:\n{shown}\n"),
            "hunks": [],
            "summary": f"call {label}",
        }

    def apply(self, approved: Approved) -> ToolResult:
        refuse_kind(approved, "call")
        result = self.invoke(approved.call["args"])
        approved.applied(approved.plan["path"], approved.plan["diff"])
        return result


def from_langchain(tool: BaseTool, *, max_chars: int = 256 * 1024) -> Tool:
    """A langchain tool as an extra tool of the agent (see the module docstring).

    ``max_chars`` caps what one call's result brings into the thread.
    """
    if not isinstance(tool, BaseTool):
        raise AgentError(
            f"an extra tool must be a langchain BaseTool or an agent Tool, not "
            f"{type(tool).__name__}"
        )
    if access_of(tool) == WRITE:
        return LangchainWrite(tool, max_chars)
    return LangchainRead(tool, max_chars)


def as_langchain(tool: Tool) -> StructuredTool:
    """One of the agent's tools as a langchain tool (a write tool only plans; see above)."""
    spec = tool.spec

    def run(**args: object) -> str:
        try:
            if isinstance(tool, ReadTool):
                return tool.run(args).content
            plan = tool.plan(THREAD, args)
        except (ToolError, OSError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return f"Error: {message}"
        return (
            f"Not applied: {plan['summary']} needs the user's approval in the chat.\n{plan['diff']}"
        )

    return StructuredTool.from_function(
        func=run,
        name=spec.name,
        description=spec.description,
        args_schema=spec.parameters,
        metadata={"access": tool.access},
    )
