"""What a tool of the agent is: a spec for the model, an access, and how it runs.

A :class:`ReadTool` runs at once (:meth:`~ReadTool.run`). A :class:`WriteTool` runs in
two steps: :meth:`~WriteTool.plan` validates the call and computes what approval shows
(no file is touched), and :meth:`~WriteTool.apply` does it later, handed an
:class:`Approved` that only :class:`~.toolbox.Toolbox` makes, once the journal holds an
approval of that very proposal. The approval policy looks at nothing but the access.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ...visible import visible
from ..errors import ToolError
from ..journal import Journal
from ..types import READ, WRITE, Access, Plan, ToolArgs, ToolCallData

JSONSchema = dict[str, Any]
"""A JSON schema (a tool's parameters), as offered to the model."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool as offered to a model: name, description, JSON-schema parameters."""

    name: str
    description: str
    parameters: JSONSchema
    for_model: bool = True
    """``False``: only the agent itself calls it (``undo_edit`` stands for ``/undo``)."""

    def function(self) -> dict[str, Any]:
        """The OpenAI-style function declaration the tool-call prompt lists."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def params(required: Sequence[str], **props: tuple[str, str]) -> JSONSchema:
    """A JSON schema of an object: each property ``name=(type, description)``."""
    return {
        "type": "object",
        "properties": {k: {"type": t, "description": d} for k, (t, d) in props.items()},
        "required": list(required),
    }


@dataclass(frozen=True)
class ToolResult:
    """What a tool call returned, as shown in the thread."""

    ok: bool
    content: str
    label: str


@dataclass(frozen=True)
class Approved:
    """A write the journal holds an approval for, with the plan that approval showed."""

    thread_id: str
    call: ToolCallData
    plan: Plan
    proposal_id: str
    authorized_by: str
    """The authorizing event: ``approved`` (a person) or ``automatic`` (YOLO, a rule)."""
    journal: Journal
    root: str
    """The sandbox root as the journal names it."""
    hunks: Sequence[int] | None = None
    """The hunks a person approved (``None``: all)."""

    @property
    def call_id(self) -> str:
        return str(self.call["id"])

    @property
    def name(self) -> str:
        return str(self.call["name"])

    def applied(self, path: str, diff: str) -> None:
        """Record what was done (every write tool calls it once it has written)."""
        self.journal.record(
            self.thread_id,
            self.call_id,
            "applied",
            proposal=self.proposal_id,
            tool=self.name,
            path=path,
            diff=diff,
            actor=self.authorized_by,
            root=self.root,
        )


class ReadTool(ABC):
    """A tool that only reads: it runs as soon as it is called."""

    access: ClassVar[Access] = READ
    spec: ToolSpec

    @abstractmethod
    def run(self, args: ToolArgs) -> ToolResult:
        """Run the call; refusals raise :class:`~..errors.ToolError` (or ``OSError``)."""


class WriteTool(ABC):
    """A tool that changes something: planned, approved, then applied."""

    access: ClassVar[Access] = WRITE
    spec: ToolSpec

    @abstractmethod
    def plan(self, thread_id: str, args: ToolArgs) -> Plan:
        """Validate the call and compute what approval shows; changes nothing."""

    @abstractmethod
    def apply(self, approved: Approved) -> ToolResult:
        """Do the approved write (the file must still be what the plan was made from)."""


Tool = ReadTool | WriteTool


def int_arg(args: Mapping[str, object], name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, int | float | str):
            raise TypeError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ToolError(f"{name} must be a whole number, got {value!r}") from None


def str_arg(args: Mapping[str, object], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if value is None:
        raise ToolError(f"missing argument {name!r}")
    if not isinstance(value, str):
        raise ToolError(f"argument {name!r} must be text")
    return value


def call_label(name: str, args: Mapping[str, object]) -> str:
    """``read_file x.py``: a call named by its tool and main argument."""
    for key in ("file_path", "dir_path", "source_path", "query", "job_id"):
        if args.get(key):
            return f"{name} {visible(str(args[key])[:120], name=True)}"
    return name
