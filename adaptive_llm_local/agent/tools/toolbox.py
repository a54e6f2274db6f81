"""The tools of one chat, by name: what the model is offered, and the gate every write passes.

:class:`Toolbox` holds one :class:`~.base.Tool` object per tool: the standard ones over
the sandbox, the index and the run's jobs, then any extra tools (langchain tools, see
:mod:`.langchain_tools`). :meth:`Toolbox.apply` is the one way to a write: it refuses
any call whose proposal has no ``approved``/``automatic`` record in the journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import AgentError, ToolError
from ..journal import Journal, new_proposal_id
from ..sandbox import Sandbox
from ..types import Access, Plan, ToolArgs, ToolCallData
from .base import Approved, ReadTool, Tool, ToolResult, ToolSpec, WriteTool, call_label
from .files import ListDirectory, ReadFile
from .run_info import JobsProvider, JobStatus, SearchFn, SearchIndex
from .undo import UndoEdit
from .writes import MoveFile, WriteFile

if TYPE_CHECKING:
    from .langchain_tools import StructuredTool


def standard_tools(
    sandbox: Sandbox,
    journal: Journal,
    *,
    search: SearchFn | None = None,
    jobs: JobsProvider | None = None,
) -> list[Tool]:
    """The agent's own tools, in the order the model is offered them (``search_index``
    only with an index, ``job_status`` only with a run)."""
    tools: list[Tool] = [
        ReadFile(sandbox),
        ListDirectory(sandbox),
        WriteFile(sandbox, journal),
        MoveFile(sandbox, journal),
    ]
    if search is not None:
        tools.append(SearchIndex(search))
    if jobs is not None:
        tools.append(JobStatus(jobs))
    tools.append(UndoEdit(sandbox, journal))
    return tools


class Toolbox:
    """Runs tool calls against the sandbox, the index, the run's jobs and extra tools.

    Parameters
    ----------
    sandbox
        File access confined to the run folder.
    journal
        Audit log and backups; writes need an approval recorded here.
    search
        ``search(query, k)`` over the index, or ``None`` (no ``search_index`` tool).
    jobs
        The run's jobs (``jobs()``), or ``None`` (no ``job_status`` tool).
    extra
        More tools (already converted, e.g. by :func:`.langchain_tools.from_langchain`);
        a name of a standard tool is refused: the standard tools keep their names.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        journal: Journal,
        *,
        search: SearchFn | None = None,
        jobs: JobsProvider | None = None,
        extra: Iterable[Tool] = (),
    ) -> None:
        self.sandbox = sandbox
        self.journal = journal
        self.search = search
        self.jobs = jobs
        self.tools: dict[str, Tool] = {}
        for tool in [*standard_tools(sandbox, journal, search=search, jobs=jobs), *extra]:
            name = tool.spec.name
            if name in self.tools:
                raise AgentError(f"two tools are named {name!r}; the standard tools keep theirs")
            self.tools[name] = tool

    @property
    def root(self) -> str:
        """The sandbox root (resolved) as the journal names it."""
        return str(self.sandbox.root)

    # --- declarations ---------------------------------------------------------------

    def specs(self, *, for_model: bool = True) -> list[ToolSpec]:
        return [t.spec for t in self.tools.values() if t.spec.for_model or not for_model]

    def names(self, access: Access) -> frozenset[str]:
        """The names of the tools with this access (``write``: those that need approval)."""
        return frozenset(name for name, tool in self.tools.items() if tool.access == access)

    def tool(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            names = ", ".join(s.name for s in self.specs())
            raise ToolError(f"unknown tool {name!r}; the tools are {names}")
        return tool

    def access(self, name: str) -> Access:
        return self.tool(name).access

    def langchain_tools(self) -> list[StructuredTool]:
        """The tools offered to the model as langchain tools (writes only plan; see
        :func:`.langchain_tools.as_langchain`). Imports langchain_core."""
        from .langchain_tools import as_langchain

        return [as_langchain(t) for t in self.tools.values() if t.spec.for_model]

    # --- reads ----------------------------------------------------------------------

    def run_read(self, name: str, args: ToolArgs) -> ToolResult:
        """Run a read tool; a refusal or failure comes back as ``ok=False``."""
        try:
            tool = self.tool(name)
            if not isinstance(tool, ReadTool):
                raise ToolError(f"{name} is not a read tool")
            return tool.run(args)
        except (ToolError, OSError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return ToolResult(False, f"Error: {message}", f"{call_label(name, args)} (refused)")

    def find_job(self, job: str) -> Mapping[str, object]:
        return self._jobs().find(job)

    def _jobs(self) -> JobStatus:
        tool = self.tools.get(JobStatus.spec.name)
        if not isinstance(tool, JobStatus):
            raise ToolError("this chat is not attached to a run, so it has no jobs")
        return tool

    # --- writes ---------------------------------------------------------------------

    def _writer(self, name: str) -> WriteTool:
        tool = self.tool(name)
        if not isinstance(tool, WriteTool):
            raise ToolError(f"{name} is not a write tool")
        return tool

    def plan(self, thread_id: str, name: str, args: ToolArgs) -> Plan:
        """Validate a write and compute what approval shows; touches no file.

        Returns a JSON-able plan (:class:`~..types.Plan`) with ``proposal_id``, this
        proposal's own id in the journal: an approval of it, and only of it, lets
        :meth:`apply` write.
        """
        return {**self._writer(name).plan(thread_id, args), "proposal_id": new_proposal_id()}

    def apply(
        self,
        thread_id: str,
        call: ToolCallData,
        plan: Plan,
        hunks: Sequence[int] | None = None,
    ) -> ToolResult:
        """Apply an approved write; refuses any call without an approval record."""
        call_id, name = str(call["id"]), str(call["name"])
        proposal_id = str(plan.get("proposal_id") or "")
        authorized_by = self.journal.authorization(thread_id, call_id, proposal_id)
        if authorized_by is None:
            raise ToolError(f"{name} {plan.get('path')}: refused, no approval is recorded for it")
        approved = Approved(
            thread_id, call, plan, proposal_id, authorized_by, self.journal, self.root, hunks
        )
        return self._writer(name).apply(approved)
