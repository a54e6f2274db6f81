"""The read tools over the run and the index: ``job_status`` and ``search_index``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ..errors import ToolError
from ..paths import refuse_hidden
from ..types import ToolArgs
from .base import ReadTool, ToolResult, ToolSpec, params, str_arg

_HIT_CHARS = 700

SearchFn = Callable[[str, int], Sequence[object]]
"""``search(query, k)`` over the index: hits with ``kind``, ``source``, ``lines``, ``text``
(attributes or mapping keys), best first."""


class JobsProvider(Protocol):
    """What ``job_status`` and ``/log`` need from a run: its jobs as mappings.

    Each mapping has ``job_id`` and, when known, ``job_name``, ``state`` (``pending``,
    ``running``, ``failed``, ``done``), ``log`` (path of the job's output log) and any
    other keys worth showing. Any object with a ``jobs()`` method fits.
    """

    def jobs(self) -> Sequence[Mapping[str, object]]: ...


def _field(hit: object, name: str, default: object = None) -> object:
    if isinstance(hit, Mapping):
        return hit.get(name, default)
    return getattr(hit, name, default)


class SearchIndex(ReadTool):
    spec = ToolSpec(
        "search_index",
        "Search past job failures and documentation for a query.",
        params(["query"], query=("string", "what to look for")),
    )

    def __init__(self, search: SearchFn) -> None:
        self.search = search

    def run(self, args: ToolArgs) -> ToolResult:
        query = str_arg(args, "query")
        hits = list(self.search(query, 4))
        if not hits:
            return ToolResult(True, f"Nothing in the index matches {query!r}.", f"index: {query}")
        parts = []
        for i, hit in enumerate(hits, 1):
            where = str(_field(hit, "source", "?"))
            if _field(hit, "lines"):
                where += f":{_field(hit, 'lines')}"
            text = str(_field(hit, "text", ""))[:_HIT_CHARS]
            parts.append(f"{i}. [{_field(hit, 'kind', 'hit')}] {where}\n{text}")
        return ToolResult(True, "\n\n".join(parts), f"index: {query}")


class JobStatus(ReadTool):
    spec = ToolSpec(
        "job_status",
        "Show the run's jobs and their states, or one job's details.",
        params([], job_id=("string", "one job id or name (default: all jobs)")),
    )

    def __init__(self, jobs: JobsProvider) -> None:
        self.jobs = jobs

    def records(self) -> list[Mapping[str, object]]:
        return list(self.jobs.jobs())

    def find(self, job: str) -> Mapping[str, object]:
        for record in self.records():
            if job in (str(record.get("job_id")), str(record.get("job_name"))):
                return record
        raise ToolError(f"no job {job!r} in this run; /jobs lists them")

    def run(self, args: ToolArgs) -> ToolResult:
        job = args.get("job_id")
        if job:
            refuse_hidden(str(job), "the job id")
            record = self.find(str(job))
            lines = [f"{key}: {value}" for key, value in record.items()]
            return ToolResult(True, "\n".join(lines), f"job {job}")
        records = self.records()
        if not records:
            return ToolResult(True, "The run has no jobs yet.", "jobs")
        lines = [f"{len(records)} jobs:"]
        for r in records:
            name = f" {r['job_name']}" if r.get("job_name") else ""
            lines.append(f"  {r.get('job_id')}{name}: {r.get('state', '?')}")
        return ToolResult(True, "\n".join(lines), "jobs")
