"""``/fix`` without a model: the deterministic edit for a thread's failed job, if one exists.

Reads go through the sandbox; the result is a ``write_file`` call (search-and-replace)
that takes the same approval path as any other write.
"""

from __future__ import annotations

from dataclasses import dataclass

from .edits import as_replacement
from .errors import ToolError
from .fixes import INDENTATION_ERRORS, fix_indentation, raise_limits, requests_limit
from .sandbox import Sandbox
from .types import JobData

JOB_SCRIPT_SUFFIXES = (".sbatch", ".slurm", ".sh", ".job", ".batch")
_MAX_SCRIPT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fix:
    """A proposed deterministic fix: the write_file arguments and why."""

    args: dict[str, str]
    reason: str


def _is_indentation_failure(job: JobData) -> bool:
    exception = job.get("exception") or ""
    key_line = job.get("key_line") or ""
    return exception in INDENTATION_ERRORS or key_line.startswith(INDENTATION_ERRORS)


def _replacement(path: str, before: str, after: str) -> dict[str, str]:
    old, new = as_replacement(before, after)
    return {"file_path": path, "old_text": old, "new_text": new}


def indentation_fix(job: JobData, sandbox: Sandbox) -> Fix | str:
    frame = job.get("frame")
    if not frame:
        return "the log names no line of your own code to fix"
    path, line = str(frame[0]), int(frame[1])
    rel, source = sandbox.read_for_edit(path)
    if source is None:
        return f"{rel} does not exist any more"
    fixed = fix_indentation(rel, source, line)
    if fixed is None:
        return f"no indentation of line {line} of {rel} makes the file compile"
    exception = job.get("exception") or "IndentationError"
    return Fix(
        _replacement(rel, source, fixed), f"fix the indentation of {rel} line {line} ({exception})"
    )


def job_scripts(job: JobData, sandbox: Sandbox) -> list[str]:
    """Candidate job scripts of the run: the one named by the job, else by suffix."""
    if job.get("job_script"):
        return [str(job["job_script"])]
    _, entries, _ = sandbox.list_dir(".")
    name = str(job.get("job_name") or "")
    scripts = [
        e.name
        for e in entries
        if e.kind == "file" and e.name.endswith(JOB_SCRIPT_SUFFIXES) and e.size <= _MAX_SCRIPT_BYTES
    ]
    return sorted(scripts, key=lambda s: (not (name and name in s), s))


def limits_fix(job: JobData, sandbox: Sandbox) -> Fix | str:
    category = str(job.get("category"))
    option = "--time" if category == "time_limit" else "--mem"
    for script in job_scripts(job, sandbox):
        try:
            rel, text = sandbox.read_for_edit(script)
        except ToolError:
            continue
        if text is None or not requests_limit(text, category):
            continue
        raised = raise_limits(text, category)
        if raised is None:
            return f"{rel} asks for an unlimited {option}; nothing to raise"
        new_text, what = raised
        return Fix(_replacement(rel, text, new_text), f"raise {what} in {rel}")
    return f"no job script in the run folder has an #SBATCH {option} line to raise"


def deterministic_fix(job: JobData | None, sandbox: Sandbox) -> Fix | str:
    """The fix for ``job`` (a thread's seeded job), or a sentence saying why there is none."""
    if not job:
        return "this thread is not about a failed job (start it from a job to use /fix)"
    category = job.get("category")
    if _is_indentation_failure(job):
        return indentation_fix(job, sandbox)
    if category in ("time_limit", "out_of_memory"):
        return limits_fix(job, sandbox)
    return f"there is no automatic fix for a {category or 'unknown'} failure"
