"""The triage rules as data: pattern, category, priority, how to name the exception.

Two kinds of rules:

* ``scope="line"`` rules are searched in every log line outside Python
  tracebacks (SLURM, kernel, shell, MPI, CUDA messages...).
* ``scope="exception"`` rules are matched against the root exception of the
  last traceback chain, written ``qualified.Name: message``.

Every match is a candidate; the candidate with the highest priority wins, and
among equals the earliest line. The priority bands encode the precedence:

====== ==============================================================
 >= 90  SLURM's own verdict (time limit, node failure, cancellation,
        cgroup OOM kill): the outer truth, even when a traceback follows
 80-89  the root Python exception, when its type or message names a
        specific cause (missing module, syntax, memory, file, GPU, MPI)
 70-79  fatal signals of native code (segfault band), then any other
        root Python exception (70)
 40-69  non-Python causes printed by shells, loaders, MPI, CUDA
 < 40   failure signs without a cause (``srun: error:``, ``ERROR:``)
====== ==============================================================

To add a rule, append a `Rule` to `RULES`; `tests/test_triage.py` checks every
rule compiles and every fixture still triages as expected.

Decisions worth knowing:

* Every ``ImportError`` (including ``cannot import name 'x' from 'pkg'``) is
  ``missing_module``: the environment does not provide what the code imports,
  typically another version of the package; only a circular import is a
  ``python_exception``. A program missing from ``PATH`` (``command not found``),
  an unknown Lmod module and a missing shared library are ``missing_module`` too.
* ``segfault`` covers native crashes by fatal signal: SIGSEGV, SIGBUS, SIGILL,
  SIGFPE and SIGABRT (``Aborted``, failed C ``assert``), unless ``std::bad_alloc``
  shows the abort was an out-of-memory.
* A bare ``Killed`` (SIGKILL) with no SLURM line is ``out_of_memory``: the kernel
  OOM killer is by far its most common sender, and a note says so.
* ``KeyboardInterrupt`` as root exception without a SLURM line is ``cancelled``.
* A SLURM preemption is ``cancelled``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Literal

CATEGORIES: tuple[str, ...] = (
    "missing_module",
    "python_exception",
    "out_of_memory",
    "time_limit",
    "cancelled",
    "segfault",
    "file_error",
    "syntax_error",
    "gpu_error",
    "mpi_error",
    "node_failure",
    "unknown",
    "none",
)


@dataclass(frozen=True)
class Rule:
    """One triage rule.

    Attributes
    ----------
    name
        Short id, shown in tests and debugging output.
    category
        One of `CATEGORIES`.
    priority
        Higher wins (see the module docstring for the bands).
    pattern
        Regular expression (``re.search``). For line rules, a named group
        ``exc`` gives the exception class name when the line carries one.
    scope
        ``"line"`` or ``"exception"``.
    summary
        Fixed one-line summary; when None the masked key line (or exception)
        is the summary. A fixed summary makes the signature independent of job
        ids, hosts and dates.
    note
        Remark added to the result's notes when this rule decides.
    keywords
        Lower-case substrings of which at least one occurs in any line the
        pattern matches. A line rule is only run over logs that contain one of
        them (after lower-casing), which keeps triage fast; empty means always.
        Line patterns are run over the whole window with ``re.MULTILINE``, so
        they must not match across lines: use ``[ \\t]`` rather than ``\\s``.
    """

    name: str
    category: str
    priority: int
    pattern: str
    scope: Literal["line", "exception"] = "line"
    summary: str | None = None
    note: str | None = None
    keywords: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.name}: unknown category {self.category!r}")
        if any(k != k.lower() for k in self.keywords):
            raise ValueError(f"rule {self.name}: keywords must be lower case")
        flags = re.MULTILINE if self.scope == "line" else 0
        object.__setattr__(self, "regex", re.compile(self.pattern, flags))


def _exc(names: str) -> str:
    """Pattern for an exception line whose class is one of ``names`` (``A|B``)."""
    return rf"^(?:[A-Za-z_]\w*\.)*(?:{names})(?::|$)"


_SLURM_JOB = r"\*\*\* JOB \S+ (?:ON \S+ )?CANCELLED AT \S+"
_SLURM_STEP = r"\*\*\* STEP \S+ (?:ON \S+ )?CANCELLED AT \S+"
_TIME_LIMIT = "SLURM: job cancelled due to time limit"
_NODE_FAILURE = "SLURM: job killed by a node failure"
_OOM_KILL = "out-of-memory killer stopped the job (memory limit exceeded)"

RULES: tuple[Rule, ...] = (
    # -- SLURM and other batch systems: the outer truth --------------------------------
    Rule(
        "slurm-job-time-limit",
        "time_limit",
        100,
        rf"{_SLURM_JOB} DUE TO TIME LIMIT",
        summary=_TIME_LIMIT,
        keywords=("time limit",),
    ),
    Rule(
        "slurm-step-time-limit",
        "time_limit",
        99,
        rf"{_SLURM_STEP} DUE TO TIME LIMIT",
        summary=_TIME_LIMIT,
        keywords=("time limit",),
    ),
    Rule(
        "time-limit-other",
        "time_limit",
        98,
        r"DUE TO TIME LIMIT|PBS: job killed: walltime \d+ exceeded limit|TERM_RUNLIMIT",
        summary=_TIME_LIMIT,
        keywords=("time limit", "walltime", "term_runlimit"),
    ),
    Rule(
        "slurm-node-failure",
        "node_failure",
        100,
        r"DUE TO NODE FAILURE",
        summary=_NODE_FAILURE,
        keywords=("node failure",),
    ),
    Rule(
        "node-failure-other",
        "node_failure",
        99,
        r"\bNODE_FAIL\b|\b[Nn]ode failure\b",
        summary=_NODE_FAILURE,
        keywords=("node_fail", "node failure"),
    ),
    Rule(
        "slurm-preemption",
        "cancelled",
        97,
        r"DUE TO PREEMPTION|\bPREEMPTED\b",
        summary="SLURM: job preempted",
        keywords=("preempt",),
    ),
    Rule(
        "slurm-job-cancelled",
        "cancelled",
        95,
        _SLURM_JOB,
        summary="SLURM: job cancelled",
        keywords=("cancelled at",),
    ),
    Rule(
        "slurm-step-cancelled",
        "cancelled",
        94,
        _SLURM_STEP,
        summary="SLURM: job cancelled",
        keywords=("cancelled at",),
    ),
    Rule(
        "slurm-oom-kill",
        "out_of_memory",
        90,
        r"Detected \d+ oom[-_]kill event|oom[-_]kill event|Exceeded (?:job|step) memory limit"
        r"|exceeded memory limit \(\d+ > \d+\)",
        summary=_OOM_KILL,
        keywords=("oom", "memory limit"),
    ),
    Rule(
        "srun-task-oom",
        "out_of_memory",
        89,
        r"task \d+: Out Of Memory|Out of memory: Kill(?:ed)? process|memory cgroup out of memory",
        summary=_OOM_KILL,
        keywords=("out of memory",),
    ),
    # -- the root Python exception -----------------------------------------------------
    Rule(
        "exc-circular-import",
        "python_exception",
        86,
        r"^ImportError: cannot import name .*(?:circular import|partially initialized)",
        scope="exception",
    ),
    Rule(
        "exc-syntax",
        "syntax_error",
        85,
        _exc("SyntaxError|IndentationError|TabError"),
        scope="exception",
    ),
    Rule(
        "exc-memory",
        "out_of_memory",
        84,
        _exc(r"MemoryError|_ArrayMemoryError|OutOfMemoryError|ResourceExhaustedError")
        + r"|CUDA out of memory|[Uu]nable to allocate|std::bad_alloc|\bout of memory\b",
        scope="exception",
    ),
    Rule(
        "exc-import",
        "missing_module",
        83,
        _exc("ModuleNotFoundError|ImportError") + r"|cannot open shared object file",
        scope="exception",
    ),
    Rule(
        "exc-gpu",
        "gpu_error",
        82,
        r"\bCUDA\b|cuda\w*Error|CUDA_ERROR_|cudaError|\bNCCL\b|nccl\w+Error|DistBackendError"
        r"|cuDNN|CUDNN_STATUS_|CUBLAS_STATUS_|NVIDIA driver|NVML|no CUDA-capable device"
        r"|No CUDA GPUs",
        scope="exception",
    ),
    Rule(
        "exc-file",
        "file_error",
        81,
        _exc(
            "FileNotFoundError|PermissionError|IsADirectoryError|NotADirectoryError|FileExistsError"
        )
        + r"|\[Errno (?:2|5|13|17|20|21|28|30|116|122)\]|No space left on device"
        r"|Disk quota exceeded|Read-only file system|[Uu]nable to (?:synchronously )?open file"
        r"|No such file or directory|Stale file handle",
        scope="exception",
    ),
    Rule("exc-mpi", "mpi_error", 80, r"MPI_ERR_|\bmpi4py\b|^MPI\.Exception", scope="exception"),
    Rule(
        "exc-keyboard-interrupt",
        "cancelled",
        75,
        _exc("KeyboardInterrupt"),
        scope="exception",
        summary="KeyboardInterrupt: the program was interrupted",
        note="interrupted by SIGINT (Ctrl-C or a signal from the scheduler)",
    ),
    Rule("exc-any", "python_exception", 70, r"", scope="exception"),
    # -- native crashes ------------------------------------------------------------------
    Rule(
        "bad-alloc",
        "out_of_memory",
        78,
        r"std::bad_alloc|[Uu]nable to allocate \S+ \w+ for an array|CUDA out of memory"
        r"|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY",
        keywords=(
            "bad_alloc",
            "unable to allocate",
            "out of memory",
            "memoryallocation",
            "out_of_memory",
        ),
    ),
    Rule(
        "fatal-python-error",
        "segfault",
        77,
        r"^Fatal Python error: (?:Segmentation fault|Bus error|Floating point exception"
        r"|Illegal instruction|Aborted)",
        keywords=("fatal python error",),
    ),
    Rule(
        "sigsegv",
        "segfault",
        76,
        r"Segmentation fault|\bSIGSEGV\b|signal 11\b|\bBus error\b|\bSIGBUS\b|signal 7\b"
        r"|Illegal instruction|\bSIGILL\b",
        keywords=(
            "segmentation",
            "sigsegv",
            "signal 11",
            "bus error",
            "sigbus",
            "signal 7",
            "illegal instruction",
            "sigill",
        ),
    ),
    Rule("c-assert", "segfault", 75, r"Assertion [`'].*' failed\.?$", keywords=("assertion",)),
    Rule(
        "sigabrt",
        "segfault",
        73,
        r"\bAborted\b|\bSIGABRT\b|signal 6\b|Floating point exception|\bSIGFPE\b",
        keywords=("aborted", "sigabrt", "signal 6", "floating point exception", "sigfpe"),
    ),
    # -- loaders, shells, file systems, MPI, CUDA -----------------------------------------
    Rule(
        "gpu-line",
        "gpu_error",
        65,
        r"CUDA error|cudaError\w*|CUDA_ERROR_\w+|no CUDA-capable device"
        r"|CUDA driver version is insufficient|NCCL error|nccl(?:System|Internal|UnhandledCuda)Error"
        r"|CUDNN_STATUS_\w+|CUBLAS_STATUS_\w+|Found no NVIDIA driver|NVIDIA-SMI has failed"
        r"|\bXid\b.*\b\d+\b",
        keywords=("cuda", "nccl", "cudnn", "cublas", "nvidia", "xid"),
    ),
    Rule(
        "no-module-line",
        "missing_module",
        64,
        r"(?:\((?P<exc>ModuleNotFoundError|ImportError): )?No module named ['\"]?[\w.]+",
        keywords=("no module named",),
    ),
    Rule(
        "shared-library",
        "missing_module",
        64,
        r"error while loading shared libraries: \S+: cannot open shared object file",
        keywords=("shared libraries",),
    ),
    Rule(
        "lmod-unknown",
        "missing_module",
        64,
        r"Lmod has detected the following error|module\(s\) are unknown"
        r"|Unable to locate a modulefile",
        keywords=("lmod", "module(s) are unknown", "modulefile"),
    ),
    Rule(
        "command-not-found",
        "missing_module",
        63,
        r": command not found$",
        keywords=("command not found",),
    ),
    Rule(
        "shell-syntax",
        "syntax_error",
        63,
        r": line \d+: syntax error(?:: unexpected end of file| near unexpected token)",
        keywords=("syntax error",),
    ),
    Rule("mpi-err-code", "mpi_error", 62, r"\bMPI_ERR_[A-Z_]+", keywords=("mpi_err_",)),
    Rule(
        "mpi-abort",
        "mpi_error",
        61,
        r"MPI_ABORT was invoked|MPI_Abort\(|application called MPI_Abort",
        keywords=("mpi_abort",),
    ),
    Rule(
        "mpi-launch",
        "mpi_error",
        60,
        r"An error occurred in MPI_\w+|mpirun was unable to (?:launch|find|start)"
        r"|Fatal error in P?MPI_\w+|BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES"
        r"|PMIX_ERROR|PMI2?_\w+ failed|ompi_mpi_init|MPI_Init\S* failed",
        keywords=("mpi", "pmi", "bad termination"),
    ),
    Rule(
        "killed",
        "out_of_memory",
        60,
        r"\b\d+ Killed\b|^Killed$|exited on signal 9 \(Killed\)",
        summary="process killed by SIGKILL (usually the out-of-memory killer)",
        note="killed by SIGKILL; without a SLURM message this is usually the kernel's "
        "out-of-memory killer",
        keywords=("killed",),
    ),
    Rule(
        "file-line",
        "file_error",
        58,
        r"can't open file .*\[Errno \d+\]|No space left on device|Disk quota exceeded"
        r"|Read-only file system|: Permission denied$|: No such file or directory$"
        r"|Stale file handle|Unable to open file",
        keywords=(
            "can't open file",
            "no space left",
            "quota",
            "read-only file system",
            "permission denied",
            "no such file",
            "stale file",
            "unable to open file",
        ),
    ),
    Rule(
        "mpi-orte",
        "mpi_error",
        55,
        r"ORTE_ERROR_LOG|HYDU_\w+|PMIx\w* .*failed",
        keywords=("orte_error_log", "hydu_", "pmix"),
    ),
    Rule(
        "mpirun-nonzero",
        "mpi_error",
        54,
        r"^mpirun detected that one or more processes exited with non-zero status"
        r"|^mpirun noticed that process rank \d+",
        keywords=("mpirun",),
    ),
    Rule(
        "mpi-primary-job",
        "mpi_error",
        53,
        r"^Primary job +terminated normally, but \d+ process(?:es)? returned",
        keywords=("primary job",),
    ),
    # -- failure signs without a cause ---------------------------------------------------
    Rule(
        "srun-task-exit",
        "unknown",
        30,
        r"^srun: error: .*(?:[Ee]xited with exit code [1-9]|task \d+: [A-Z])",
        keywords=("srun: error",),
    ),
    Rule(
        "slurm-error",
        "unknown",
        25,
        r"^(?:srun|sbatch|salloc|slurmstepd(?:-\S+)?|scontrol): error: ",
        keywords=(": error: ",),
    ),
    Rule(
        "terminated",
        "unknown",
        22,
        r"\b\d+ Terminated\b|^Terminated$",
        note="terminated by SIGTERM",
        keywords=("terminated",),
    ),
    Rule(
        "error-prefix",
        "unknown",
        20,
        r"^[ \t]*(?:ERROR|Error|error|FATAL|Fatal|fatal)[ \t]*:",
        keywords=("error", "fatal"),
    ),
    Rule(
        "adaptive-runner-failed",
        "unknown",
        18,
        r'"status": "failed"',
        keywords=('"status": "failed"',),
    ),
    Rule(
        "exit-code",
        "unknown",
        15,
        r"\bexit(?:ed with)? (?:code|status)[ :=]*[1-9]\d*\b",
        keywords=("exit",),
    ),
    Rule(
        "error-level",
        "unknown",
        12,
        r"(?<![\w\-])(?:ERROR|FATAL|CRITICAL)(?![\w\-])",
        keywords=("error", "fatal", "critical"),
    ),
)

LINE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.scope == "line")
EXCEPTION_RULES: tuple[Rule, ...] = tuple(
    sorted((r for r in RULES if r.scope == "exception"), key=lambda r: -r.priority)
)


def scan_lines(bodies: list[str]) -> list[tuple[int, Rule, re.Match[str]]]:
    """Find the line rules matching in ``bodies``.

    Each rule runs once over the whole window (in C), only if one of its
    keywords occurs in it, so the cost does not grow with the number of rules
    that cannot apply.

    Returns
    -------
    list[tuple[int, Rule, re.Match[str]]]
        (line index, rule, match), for the best rule of each matching line.
    """
    text = "\n".join(bodies)
    lowered = text.lower()
    starts = [0]
    for body in bodies[:-1]:
        starts.append(starts[-1] + len(body) + 1)
    best: dict[int, tuple[Rule, re.Match[str]]] = {}
    for rule in LINE_RULES:
        if rule.keywords and not any(k in lowered for k in rule.keywords):
            continue
        for match in rule.regex.finditer(text):
            index = bisect.bisect_right(starts, match.start()) - 1
            current = best.get(index)
            if current is None or rule.priority > current[0].priority:
                best[index] = (rule, match)
    return [(index, rule, match) for index, (rule, match) in sorted(best.items())]


def match_line(text: str) -> Rule | None:
    """Return the highest-priority line rule matching one line, or None."""
    found = scan_lines([text.replace("\n", " ")])
    return found[0][1] if found else None


def match_exception(qualified: str, message: str) -> Rule:
    """Return the rule deciding the category of a root exception."""
    text = f"{qualified}: {message}" if message else qualified
    for rule in EXCEPTION_RULES:
        if rule.regex.search(text):
            return rule
    raise AssertionError("the catch-all exception rule always matches")
