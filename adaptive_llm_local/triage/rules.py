"""The triage rules as data: pattern, category, priority, how to name the exception.

Two kinds of rules (`Rule`, in `adaptive_llm_local.triage.rule`):

* ``scope="line"`` rules are searched in every log line outside Python
  tracebacks (batch systems, kernel, shell, MPI, CUDA messages...).
* ``scope="exception"`` rules are matched against the root exception of the
  last traceback chain, written ``qualified.Name: message``.

The tables live by origin: `rules_batch` (SLURM, PBS/Torque/Moab, LSF, Grid
Engine, Flux), `rules_parallel` (MPI, PMI, NCCL, CUDA, torch.distributed) and
`rules_program` (Python, native crashes, Fortran, shells, loaders, module systems,
environment activation); this module assembles them and runs them.

Every match is a candidate; the candidate with the highest priority wins, and
among equals the earliest line. The priority bands:

====== ==============================================================
 >= 90  the batch system's own verdict: time limit, cancellation,
        preemption, requeue (``ends``), node failure, memory kill
 80-89  the root Python exception, when its type or message names a
        specific cause (missing module, syntax, memory, file, GPU, MPI,
        a launcher's variable)
 70-79  fatal signals of native code (segfault band), then any other
        root Python exception (70)
 40-69  non-Python causes printed by shells, loaders, module systems,
        MPI, CUDA, NCCL, Fortran runtimes
 < 40   failure signs without a cause (``srun: error:``, ``ERROR:``)
====== ==============================================================

Precedence by causality (`adaptive_llm_local.triage.core`) then corrects the
plain ranking: a verdict on how the job ended (a rule with ``ends``) yields to a
cause (priority >= 40; for a step cancellation also an ``srun`` task failure)
printed before it, unless the job kept printing ordinary output after that
cause; and a failed environment set-up (a rule with ``setup``) is the key line
of a missing module or program reported after it.

To add a rule, append a `Rule` to the table of its origin, cite the message it
was written from, and give it a test line in ``tests/test_triage_catalogue.py``;
`tests/test_triage.py` checks that every fixture still triages as expected.
Patterns must stay linear in the line length: no nested quantifiers, and a
bounded repeat (``.{0,500}``) where an unanchored pattern needs a gap.

Decisions worth knowing:

* Every ``ImportError`` (including ``cannot import name 'x' from 'pkg'``) is
  ``missing_module``: the environment does not provide what the code imports,
  typically another version of the package; only a circular import is a
  ``python_exception``. A program missing from ``PATH`` (``command not found``,
  ``execve``/``execvp`` errors), an unknown Lmod or Environment Modules module,
  a conda environment that cannot be activated and a missing shared library are
  ``missing_module`` too.
* ``segfault`` covers native crashes by fatal signal: SIGSEGV, SIGBUS, SIGILL,
  SIGFPE and SIGABRT (``Aborted``, failed C ``assert``, glibc's heap and stack
  checks), unless ``std::bad_alloc`` shows the abort was an out-of-memory.
* A bare ``Killed`` (SIGKILL) with no SLURM line is ``out_of_memory``: the kernel
  OOM killer is by far its most common sender, and a note says so.
* GPU memory exhaustion (``CUDA out of memory``, ``CUDA_ERROR_OUT_OF_MEMORY``,
  XLA's ``RESOURCE_EXHAUSTED``) is ``out_of_memory`` too; the explainer tells it
  apart from host memory.
* ``KeyboardInterrupt`` as root exception without a SLURM line is ``cancelled``.
* A SLURM preemption or requeue is ``cancelled``.
* MPI start-up failures (``MPI_Init`` errors, PMI/PMIx errors, a program started
  by ``srun`` without the PMI its MPI needs) and task-launch failures are
  ``mpi_error``, as is a ``KeyError`` of a variable the launcher sets
  (``SLURM_PROCID``, ``RANK``).
* A SLURM prolog failure or nodes that never booted are ``node_failure``.
* torchrun's ``ChildFailedError`` only reports that a worker failed: the worker's
  own error, when the log shows it, is the root exception.
"""

from __future__ import annotations

import bisect
import re

from adaptive_llm_local.triage import rules_batch, rules_parallel, rules_program
from adaptive_llm_local.triage.rule import Rule

__all__ = [
    "CATEGORIES",
    "EXCEPTION_RULES",
    "LINE_RULES",
    "RULES",
    "Rule",
    "match_exception",
    "match_line",
    "scan_lines",
]

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


RULES: tuple[Rule, ...] = (
    rules_batch.ENDINGS
    + rules_batch.NODES_AND_MEMORY
    + rules_program.EXCEPTION_RULES
    + rules_parallel.EXCEPTION_RULES
    + rules_program.NATIVE
    + rules_parallel.LINE_RULES
    + rules_program.ENVIRONMENT
    + rules_batch.LAUNCH
    + rules_batch.SIGNS
    + rules_program.SIGNS
)

for _rule in RULES:
    if _rule.category not in CATEGORIES:
        raise ValueError(f"rule {_rule.name}: unknown category {_rule.category!r}")

LINE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.scope == "line")
EXCEPTION_RULES: tuple[Rule, ...] = tuple(
    sorted((r for r in RULES if r.scope == "exception"), key=lambda r: (not r.pattern, -r.priority))
)
"""Exception rules in the order they are tried: by priority, the catch-all last."""


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
