"""Facts that schedulers, shells, loaders, MPI and CUDA print on single log lines.

A table of patterns, each with keywords that must occur in a line before its regex runs,
so a window of ordinary output costs one lower-casing per line. Every regex is anchored
or bounded (no nested quantifiers), so a long line cannot make one backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from adaptive_llm_local.triage.tracebacks import body

# (name, value, index of the line it was read from)
Found = tuple[str, str, int]
Extract = Callable[[re.Match[str], list[str], int], Iterator[Found]]


@dataclass(frozen=True)
class LinePattern:
    """Facts read from lines that contain one of ``keywords`` and match ``regex``."""

    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    extract: Extract


def _groups(*names: str) -> Extract:
    """Each named group that matched becomes a fact of the same name."""

    def extract(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
        groups = match.groupdict()
        for name in names:
            value = groups.get(name)
            if value:
                yield name, value.strip(), i

    return extract


def _slurm_cancel(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    ident = match.group("id")
    if match.group("what") == "STEP":
        yield "step_id", ident, i
    yield "job_id", ident.split(".")[0], i
    if match.group("node"):
        yield "node", match.group("node"), i
    yield "cancelled_at", match.group("at"), i
    if match.group("reason"):
        yield "cancel_reason", match.group("reason").strip(), i


def _step(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    step = match.group("step").rstrip(".")
    yield "step_id", step, i
    yield "job_id", step.split(".")[0], i
    yield from _groups("oom_kill_events", "mem_used", "mem_limit")(match, lines, i)


def _mpi_abort(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    yield "rank", match.group("rank"), i
    yield "communicator", match.group("communicator"), i
    if i + 1 < len(lines):
        code = re.match(r"\s*with errorcode (\d+)", lines[i + 1])
        if code:
            yield "mpi_errorcode", code.group(1), i + 1


def _mpi_process(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    yield "rank", match.group("rank"), i
    for j in range(i + 1, min(len(lines), i + 3)):
        code = re.match(r"\s*Exit code:\s+(\d+)", lines[j])
        if code:
            yield "exit_code", code.group(1), j


def _bash_job(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    """``./run.sh: line 3: 17918 Killed   python alloc.py`` and friends."""
    yield "script", match.group("script"), i
    yield "script_line", match.group("line"), i
    rest = match.group("rest")
    signal = re.match(
        r"(?P<pid>\d+) (?P<signal>Killed|Segmentation fault|Bus error|Aborted|Terminated"
        r"|Illegal instruction|Floating point exception|Hangup|Trace/breakpoint trap)"
        r"(?: +\(core dumped\))? +(?P<command>\S.*)$",
        rest,
    )
    if signal:
        yield "signal_name", signal.group("signal"), i
        command = signal.group("command").strip()
        yield "command", command, i
        yield "program", command.split()[0], i
        return
    missing = re.match(r"(?P<cmd>[^:]+): command not found$", rest)
    if missing:
        yield "missing_command", missing.group("cmd").strip(), i
        return
    if rest.startswith("syntax error"):
        yield "shell_error", rest, i
        token = re.search(r"unexpected token `([^']*)'", rest)
        if token:
            yield "syntax_token", token.group(1), i
        return
    denied = re.match(
        r"(?P<path>[^:]+): (?P<strerror>Permission denied|No such file or directory"
        r"|Is a directory|Read-only file system|No space left on device)$",
        rest,
    )
    if denied:
        yield "path", denied.group("path").strip(), i
        yield "strerror", denied.group("strerror"), i


_TELLING = re.compile(r"abort|error|fail|diverg|invalid|cannot|exception|fatal|\bnan\b", re.I)


def _rank_message(rank: str, lines: list[str], skip: int) -> Iterator[Found]:
    """What a rank last said about itself (``rank 1: solver diverged ...``).

    Ranks print concurrently, so the last telling line (abort, error, diverged...) is
    preferred over the last line.
    """
    own = re.compile(rf"^\s*rank ?{rank}\b", re.IGNORECASE)
    mine = [j for j in range(len(lines)) if j != skip and own.match(lines[j])]
    telling = [j for j in mine if _TELLING.search(lines[j])]
    if mine:
        j = (telling or mine)[-1]
        yield "rank_message", lines[j].strip(), j


def _native_frame(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    binary = match.group("binary")
    if not re.search(r"/lib(?:64)?/|\blib[\w+-]*\.so", binary):
        yield "crash_binary", binary, i
        yield "crash_offset", match.group("offset"), i


def _env_modules(match: re.Match[str], lines: list[str], i: int) -> Iterator[Found]:
    """Modules Lmod could not load: after the message, or on the next line (Lmod wraps)."""
    names, at = match.group("modules"), i
    if not names.strip() and i + 1 < len(lines):
        names, at = lines[i + 1], i + 1
    for name in re.findall(r"[\w.+/-]+", names)[:5]:
        yield "env_module", name, at


def _p(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


PATTERNS: tuple[LinePattern, ...] = (
    # -- SLURM ----------------------------------------------------------------------------
    LinePattern(
        ("cancelled at",),
        _p(
            r"\*\*\* (?P<what>JOB|STEP) (?P<id>\S+) (?:ON (?P<node>\S+) )?CANCELLED AT (?P<at>\S+)"
            r"(?: DUE TO (?P<reason>[A-Z][A-Z ]*[A-Z]))?"
        ),
        _slurm_cancel,
    ),
    LinePattern(
        ("oom",),
        _p(
            r"Detected (?P<oom_kill_events>\d+) oom[-_]kill events?(?:\(s\))? in (?:StepId=)?(?P<step>\S+)"
        ),
        _step,
    ),
    LinePattern(
        ("exceeded memory limit",),
        _p(
            r"(?:StepId=|Step |Job )(?P<step>[\w.]+) exceeded memory limit "
            r"\((?P<mem_used>\d+) > (?P<mem_limit>\d+)\)"
        ),
        _step,
    ),
    LinePattern(
        ("srun: error:",),
        _p(r"^srun: error: (?P<node>[\w.-]+): tasks? (?P<task>[\d,-]+): (?P<task_error>.+)$"),
        _groups("node", "task", "task_error"),
    ),
    LinePattern(
        ("exit code",),
        _p(r"[Ee]xited with exit code (?P<exit_code>\d+)"),
        _groups("exit_code"),
    ),
    LinePattern(("node failure",), _p(r"Node failure on (?P<node>[\w.-]+)"), _groups("node")),
    LinePattern(
        ("srun: error:", "sbatch: error:", "salloc: error:"),
        _p(
            r"^(?:srun|sbatch|salloc): error: (?P<slurm_error>(?:Memory specification|Unable to "
            r"allocate|Requested|Invalid|Batch job submission failed|QOSMax|AssocMax).*)$"
        ),
        _groups("slurm_error"),
    ),
    LinePattern(
        ("--time", "--mem", "timelimit=", "#sbatch"),
        _p(
            r"(?:--time[= ]|#SBATCH +-t +|TimeLimit=)(?P<time_limit>[\d:-]+)"
            r"|--mem(?:-per-cpu)?[= ](?P<mem_requested>\d+[KMGT]?B?)\b"
        ),
        _groups("time_limit", "mem_requested"),
    ),
    LinePattern(("runtime=",), _p(r"\bRunTime=(?P<elapsed>[\d:-]+)"), _groups("elapsed")),
    LinePattern(("stepid=",), _p(r"\bStepId=(?P<step>\d+\.\w+)"), _step),
    # -- shells and loaders ---------------------------------------------------------------
    LinePattern(
        (": line ",),
        _p(r"^(?P<script>[^\s:]+): line (?P<line>\d+): (?P<rest>.+)$"),
        _bash_job,
    ),
    LinePattern(
        ("exit status", "exited with"),
        _p(r"\b(?:exit status|exited with) (?P<exit_code>\d+)\b"),
        _groups("exit_code"),
    ),
    LinePattern(
        ("shared libraries",),
        _p(
            r"^(?P<program>\S+): error while loading shared libraries: (?P<library>[^\s:]+): "
            r"cannot open shared object file"
        ),
        _groups("program", "library"),
    ),
    LinePattern(
        ("can't open file",),
        _p(
            r"^(?P<interpreter>\S+): can't open file '(?P<path>[^']+)': "
            r"\[Errno (?P<errno>\d+)\] (?P<strerror>.+)$"
        ),
        _groups("interpreter", "path", "errno", "strerror"),
    ),
    LinePattern(
        ("no module named",),
        _p(r"^(?P<interpreter>/\S+): No module named '?(?P<module>[\w.]+)'?$"),
        _groups("interpreter", "module"),
    ),
    LinePattern(
        ("module specification",),
        _p(
            r"^(?P<interpreter>\S+): Error while finding module specification for '(?P<run_module>[\w.]+)'"
        ),
        _groups("interpreter", "run_module"),
    ),
    LinePattern(
        ("no space left", "quota", "read-only file system", "permission denied", "no such file"),
        _p(
            r"'(?P<path>[^']+)': (?P<strerror>No space left on device|Disk quota exceeded"
            r"|Read-only file system|Permission denied|No such file or directory)"
        ),
        _groups("path", "strerror"),
    ),
    LinePattern(
        ("terminated",),
        _p(r"^Terminated$"),
        lambda m, lines, i: iter([("signal_name", "Terminated", i)]),
    ),
    LinePattern(
        ("killed",), _p(r"^Killed$"), lambda m, lines, i: iter([("signal_name", "Killed", i)])
    ),
    # -- native crashes -------------------------------------------------------------------
    LinePattern(
        ("assertion",),
        _p(
            r"^(?P<program>[^\s:]+): (?P<assert_file>[^\s:]+):(?P<assert_line>\d+): "
            r"(?P<assert_function>[^:]+): Assertion [`'](?P<assertion>.*)' failed"
        ),
        _groups("program", "assert_file", "assert_line", "assert_function", "assertion"),
    ),
    LinePattern(
        ("terminate called",),
        _p(r"terminate called after throwing an instance of '(?P<native_exception>[^']+)'"),
        _groups("native_exception"),
    ),
    LinePattern(
        ("fatal python error",),
        _p(r"^Fatal Python error: (?P<fatal_error>.+)$"),
        _groups("fatal_error"),
    ),
    LinePattern(
        ("signal:",),
        _p(r"Signal: (?P<signal_name>[A-Za-z][\w ]*?) \((?P<signal_number>\d+)\)"),
        _groups("signal_name", "signal_number"),
    ),
    LinePattern(
        ("failing at address",),
        _p(r"Failing at address: (?P<fault_address>0x[0-9a-fA-F]+)"),
        _groups("fault_address"),
    ),
    LinePattern(
        ("(+0x",),
        _p(r"\[ ?\d+\] (?P<binary>[^\s(]+)\(\+(?P<offset>0x[0-9a-fA-F]+)\)"),
        _native_frame,
    ),
    # -- MPI ------------------------------------------------------------------------------
    LinePattern(
        ("mpi_abort was invoked",),
        _p(r"MPI_ABORT was invoked on rank (?P<rank>\d+) in communicator (?P<communicator>\S+)"),
        _mpi_abort,
    ),
    LinePattern(
        ("an error occurred in",),
        _p(r"An error occurred in (?P<mpi_call>MPI_\w+)"),
        _groups("mpi_call"),
    ),
    LinePattern(
        ("mpi_err_",), _p(r"\b(?P<mpi_error>MPI_ERR_[A-Z_]+: [^*]+?)\s*$"), _groups("mpi_error")
    ),
    LinePattern(
        ("reported by process",), _p(r"reported by process \[\d+,(?P<rank>\d+)\]"), _groups("rank")
    ),
    LinePattern(
        ("process name:",), _p(r"Process name: \[\[\d+,\d+\],(?P<rank>\d+)\]"), _mpi_process
    ),
    LinePattern(
        ("mpirun noticed",),
        _p(
            r"process rank (?P<rank>\d+) with PID \d+ on node (?P<node>\S+) exited on signal "
            r"(?P<signal_number>\d+) \((?P<signal_name>[^)]+)\)"
        ),
        _groups("rank", "node", "signal_number", "signal_name"),
    ),
    LinePattern(
        ("executable:",), _p(r"^\s*Executable: (?P<executable>\S+)"), _groups("executable")
    ),
    LinePattern(("node:",), _p(r"^\s*Node: (?P<node>\S+)$"), _groups("node")),
    # -- GPUs -----------------------------------------------------------------------------
    LinePattern(
        ("cuda",),
        _p(
            r"(?P<cuda_error>CUDA driver version is insufficient for CUDA runtime version"
            r"|no CUDA-capable device is detected|No CUDA GPUs are available"
            r"|CUDA error: [^.]+)"
        ),
        _groups("cuda_error"),
    ),
    LinePattern(
        ("cuda/",), _p(r"(?<![\w/.-])(?P<cuda_module>cuda/\d[\w.-]*)"), _groups("cuda_module")
    ),
    LinePattern(
        ("nccl version",), _p(r"NCCL version (?P<nccl_version>[\d.]+)"), _groups("nccl_version")
    ),
    LinePattern(
        ("tried to allocate",),
        _p(
            r"Tried to allocate (?P<cuda_requested>[\d.]+ [KMGT]i?B)(?:\. GPU (?P<gpu>\d+) has a "
            r"total capacity of (?P<gpu_total>[\d.]+ [KMGT]i?B) of which (?P<gpu_free>[\d.]+ [KMGT]i?B)"
            r" is free)?"
        ),
        _groups("cuda_requested", "gpu", "gpu_total", "gpu_free"),
    ),
    LinePattern(
        ("total capacity;",),  # PyTorch before 2.1
        _p(
            r"\(GPU (?P<gpu>\d+); (?P<gpu_total>[\d.]+ [KMGT]i?B) total capacity; "
            r"[\d.]+ [KMGT]i?B already allocated; (?P<gpu_free>[\d.]+ [KMGT]i?B) free"
        ),
        _groups("gpu", "gpu_total", "gpu_free"),
    ),
    LinePattern(
        ("walltime",),
        _p(r"PBS: job killed: walltime (?P<elapsed>\d+) exceeded limit (?P<time_limit>\d+)"),
        _groups("elapsed", "time_limit"),
    ),
    # -- module systems, environments, launchers -----------------------------------------
    LinePattern(
        ("prolog failure",), _p(r"Prolog failure on node (?P<node>[\w.-]+)"), _groups("node")
    ),
    LinePattern(
        ("module(s) are unknown", "cannot be loaded as requested"),
        _p(
            r"(?:module\(s\) are unknown|exist but cannot be loaded as requested):"
            r"(?P<modules>[^\n]{0,500})$"
        ),
        _env_modules,
    ),
    LinePattern(
        ("cannot load module", "locate a modulefile"),
        _p(
            r"Cannot load module \"(?P<env_module>[^\"]{1,200})\""
            r"|Unable to locate a modulefile for '(?P<env_module2>[^']{1,200})'"
        ),
        lambda m, lines, i: iter(
            [("env_module", m.group("env_module") or m.group("env_module2"), i)]
        ),
    ),
    LinePattern(
        ("conda environment",),
        _p(r"(?:Could not find conda environment|Not a conda environment): (?P<conda_env>\S+)"),
        _groups("conda_env"),
    ),
    LinePattern(
        ("activate", "conda.sh"),
        _p(r"(?P<activate_script>[^\s:]{0,300}(?:bin/activate|conda\.sh)(?:\.\w{1,5})?)\b"),
        _groups("activate_script"),
    ),
    LinePattern(
        ("command not found", ": not found"),
        _p(
            r"(?:^|: )(?P<setup_command>module|ml|conda|mamba|micromamba|source): "
            r"(?:command )?not found$"
        ),
        _groups("setup_command"),
    ),
    LinePattern(
        ("srun:", "direct launched", "mpirun", "mpiexec", "prterun"),
        _p(
            r"^(?P<launcher>srun|mpirun|mpiexec|prterun|orterun)(?=: | noticed| detected"
            r"| was unable| has exited)|direct launched using \"?(?P<launcher2>\w+)"
            r"|^\[(?P<launcher3>mpiexec)@"
        ),
        lambda m, lines, i: iter(
            [("launcher", m.group("launcher") or m.group("launcher2") or m.group("launcher3"), i)]
        ),
    ),
    # -- pointers to other files ----------------------------------------------------------
    LinePattern(
        ("see ",),
        _p(r"\bsee (?P<see_file>[\w./-]+\.(?:log|txt|out|err))\b"),
        _groups("see_file"),
    ),
)


def line_facts(texts: list[str]) -> Iterator[Found]:
    """Facts of every line of ``texts`` (cleaned log lines), in line order.

    Also adds the last line each failing rank printed about itself (``rank_message``).
    """
    bodies = [body(t) for t in texts]
    lowered = [b.lower() for b in bodies]
    ranks: dict[str, int] = {}
    for i, text in enumerate(bodies):
        low = lowered[i]
        for pattern in PATTERNS:
            if not any(k in low for k in pattern.keywords):
                continue
            match = pattern.regex.search(text)
            if match is None:
                continue
            for name, value, at in pattern.extract(match, bodies, i):
                if name == "rank":
                    ranks.setdefault(value, at)
                yield name, value, at
        prefix = re.match(r"\[rank(\d+)\]:", texts[i])
        if prefix:
            ranks.setdefault(prefix.group(1), i)
            yield "rank", prefix.group(1), i
    for rank, at in ranks.items():
        yield from _rank_message(rank, bodies, at)
