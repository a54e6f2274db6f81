"""Read-only checks on this machine of what a failed job's log points at.

Each check is bounded in time, never writes, and is skipped with a note when it cannot
run (no such tool, no permission, another machine's path). The assistant usually runs
where the job ran, so what it finds is evidence: the missing path still does not exist,
the file system is read-only, the job's Python cannot find the module either, SLURM
recorded a time limit of 00:01:00.

=========================== =================================================================
``path_exists``             the path the log names (a relative one next to the failing
                            script), and its nearest existing folder
``path_owner``              owner, group and mode of the path or that folder; may this
                            user write it
``filesystem_writable``     is its file system mounted read-only (``statvfs``), which mount
``filesystem_space``        free space and inodes of that file system
``module_findable``         can the job's interpreter find the missing module (a child
                            process, ``find_spec``, no import), which version is installed
``module_close_match``      the installed names closest to a module that is not found
``import_name_defined``     does the module file of ``cannot import name`` define the name
``command_on_path``         is the program bash did not find on this machine's PATH
``slurm_job``               SLURM's record of the job: state, time limit, run time, memory
=========================== =================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..triage import TriageResult
from ..triage.facts import Facts
from .check_files import filesystem_checks, locate, nearest_existing, path_checks
from .check_python import command_check, import_name_check, module_checks
from .check_result import CheckResult, CheckTimeout, Status, bounded, skipped
from .check_slurm import slurm_check

__all__ = ["CheckResult", "Status", "run_checks"]


def run_checks(
    result: TriageResult,
    facts: Facts,
    *,
    timeout: float = 5.0,
    job_id: str | None = None,
    interpreter: str | None = None,
) -> Sequence[CheckResult]:
    """The checks that apply to this failure, in a stable order.

    Parameters
    ----------
    result, facts
        The triaged log and what it states.
    timeout
        Seconds each check may take (a child process is killed, a hung file system call
        is abandoned and reported as skipped).
    job_id
        The SLURM job id when the caller knows it; else the one the log prints.
    interpreter
        The job's Python when the caller knows it; else the one the log shows.
    """
    if result.category == "none":
        return []
    found: list[CheckResult] = []
    path = facts.get("path")
    if path:
        located = locate(path, facts)
        if located is None:
            found.append(
                skipped(
                    "path_exists",
                    f"{path} is relative and the log does not show "
                    "the job's working directory: not checked.",
                )
            )
        else:
            found += _guarded(
                "path_exists", lambda: path_checks(located, errno=facts.get("errno")), timeout
            )
    elif facts.get("errno") in ("28", "122", "30") and (facts.get("frame_file") or "")[:1] == "/":
        folder = nearest_existing(str(facts.get("frame_file")))
        found += _guarded(
            "filesystem_space", lambda: filesystem_checks(folder, errno=facts.get("errno")), timeout
        )
    if result.category == "missing_module":
        found += _guarded(
            "module_findable",
            lambda: module_checks(facts, timeout=timeout, interpreter=interpreter),
            timeout * 2,
        )
        found += import_name_check(facts, timeout=timeout)
        found += _guarded("command_on_path", lambda: command_check(facts), timeout)
    found += slurm_check(
        job_id or facts.get("job_id"), log=result.source, category=result.category, timeout=timeout
    )
    return found


def _guarded(name: str, work: Callable[[], list[CheckResult]], timeout: float) -> list[CheckResult]:
    """Run file system checks within ``timeout``; a hang or an error becomes a skip note."""
    try:
        return bounded(work, timeout)
    except CheckTimeout as exc:
        return [skipped(name, f"The check {exc} (a file system that does not answer?).")]
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in a path
        return [skipped(name, f"The check failed: {exc}.")]
