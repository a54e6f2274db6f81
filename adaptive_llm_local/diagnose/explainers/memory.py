"""Out of memory: SLURM's kills, MemoryError, numpy, CUDA and C++ allocations."""

from __future__ import annotations

from .scheduler import job_name, slurm_limits
from .writer import Writer, code, short


def out_of_memory(w: Writer) -> None:
    if w.has("oom_kill_events") or w.get("task_error") == "Out Of Memory":
        _slurm_oom(w)
    elif w.has("mem_used", "mem_limit"):
        _slurm_mem_limit(w)
    elif w.has("cuda_requested"):
        _cuda_oom(w)
    elif w.has("alloc_size"):
        _numpy_oom(w)
    elif w.get("exception") in ("MemoryError", "OutOfMemoryError"):
        _memory_error(w)
    elif w.has("native_exception"):
        _bad_alloc(w)
    elif w.get("signal_name") == "Killed":
        _killed(w)
    else:
        w.fact("cause", f"The job ran out of memory: {code(w.result.key_line or '')}.", key=True)
        w.rule(
            "fix",
            "Request more memory (`--mem`/`--mem-per-cpu`, or `extra_scheduler` in "
            "adaptive-scheduler) or reduce the problem size per job.",
        )


def _killed_command(w: Writer) -> str:
    command = w.get("command")
    return f" The killed process was {code(command)}." if command else ""


def _program(w: Writer) -> str:
    """The program the killed command ran (``alloc.py`` of ``python alloc.py``)."""
    command = w.get("command") or ""
    words = command.split()
    scripts = [x for x in words[1:] if x.endswith((".py", ".sh", ".R", ".jl"))]
    return short(scripts[0]) if scripts else (short(words[0]) if words else "the program")


def _mem_accounting(w: Writer) -> str:
    job = w.get("job_id")
    if not job:
        return ""
    return f"; `sacct -j {job} -o JobID,MaxRSS,ReqMem,State` shows the request and the peak"


def _slurm_oom(w: Writer) -> None:
    job = job_name(w)
    step = f" (step {w.get('step_id')})" if w.has("step_id") else ""
    w.fact(
        "cause",
        f"SLURM's cgroup out-of-memory handler killed a process of {job}{step}: the job "
        f"used more memory than its `--mem` allowed.{_killed_command(w)}",
        "job_id",
        "step_id",
        "command",
        key=True,
    )
    known = slurm_limits(w, "req_mem", "max_rss")
    above = f" above its {known['req_mem']}" if "req_mem" in known else ""
    peak = f" (its peak was {known['max_rss']})" if "max_rss" in known else ""
    w.rule(
        "fix",
        f"Raise the memory request of {job}{above}{peak} (`#SBATCH --mem=`, or "
        '`extra_scheduler=["--mem=..."]` in adaptive-scheduler) to what '
        f"{_program(w)} needs, or make {_program(w)} hold less in memory"
        f"{_mem_accounting(w)}.",
        "job_id",
        "command",
        checks=("slurm_job",) if known else (),
    )


def _slurm_mem_limit(w: Writer) -> None:
    job, used, limit = job_name(w), w.get("mem_used"), w.get("mem_limit")
    w.fact(
        "cause",
        f"SLURM killed {job}: it used {used} against a limit of {limit} (as SLURM prints them).",
        "job_id",
        "mem_used",
        "mem_limit",
        key=True,
    )
    w.rule(
        "fix",
        f"Raise `--mem` of {job} above the limit SLURM printed ({limit}), or reduce "
        f"what the job holds in memory at once{_mem_accounting(w)}.",
        "job_id",
        "mem_limit",
    )


def _cuda_oom(w: Writer) -> None:
    size, gpu = w.get("cuda_requested"), w.get("gpu")
    total, free = w.get("gpu_total"), w.get("gpu_free")
    on = f" on GPU {gpu}" if gpu else ""
    has = f", which has {total} in total and {free} free" if total and free else ""
    w.fact(
        "cause",
        f"The GPU ran out of memory: PyTorch tried to allocate {size}{on}{has}.",
        "cuda_requested",
        "gpu",
        "gpu_total",
        "gpu_free",
        key=True,
    )
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    bigger = f" or a GPU with more than {total}" if total else ""
    w.rule(
        "fix",
        f"Reduce the batch size (or the model or input size) used{at}, use mixed "
        f"precision or gradient checkpointing{bigger}; set "
        "`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` when much memory is reserved "
        "but unallocated.",
        *w.frame_names(),
        "gpu_total",
    )


def _numpy_oom(w: Writer) -> None:
    size, shape, dtype = w.get("alloc_size"), w.get("array_shape"), w.get("dtype")
    w.fact(
        "cause",
        f"numpy could not allocate {size} for an array of shape {shape} ({dtype}).",
        "alloc_size",
        "array_shape",
        "dtype",
        key=True,
    )
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    w.rule(
        "fix",
        f"Shrink the {size} array{at}: a smaller shape than {shape}, a smaller dtype "
        f"than {dtype} (`float32` halves a `float64`), a sparse or chunked computation; "
        "request that much with `--mem` only if a node has it.",
        "alloc_size",
        "array_shape",
        "dtype",
        *w.frame_names(),
    )


def _memory_error(w: Writer) -> None:
    w.fact(
        "cause",
        f"Python could not get more memory (`{w.get('exception')}`): the process reached its "
        "memory limit (`ulimit -v`, the job's `--mem`) or the node's RAM.",
        "exception",
        key=True,
    )
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    w.rule(
        "fix",
        f"Reduce what the code holds in memory{at} (process the data in pieces, "
        "free what is no longer needed), or give the job more memory (`--mem`, or raise "
        "`ulimit -v` in the job script).",
        *w.frame_names(),
    )


def _bad_alloc(w: Writer) -> None:
    program = w.get("program") or w.get("command")
    who = code(program) if program else "The program"
    w.fact(
        "cause",
        f"{who} threw {code(w.get('native_exception') or '')}: a memory allocation failed.",
        "native_exception",
        "program",
        key=True,
    )
    w.rule(
        "fix",
        f"Give {who} more memory (`--mem`, or raise `ulimit -v` if the job script "
        "sets one) or reduce the size of what it allocates.",
        "program",
    )


def _killed(w: Writer) -> None:
    command, script, line = w.get("command"), w.get("script"), w.get("script_line")
    started = f" (started at line {line} of {script})" if script and line else ""
    status = f", exit status {w.get('exit_code')}" if w.has("exit_code") else ""
    w.fact(
        "cause",
        f"{code(command or 'The process')}{started} was killed with SIGKILL (`Killed`{status}).",
        "command",
        "script",
        "script_line",
        "exit_code",
        key=True,
    )
    w.rule(
        "cause",
        "Without a SLURM message this is usually the kernel's out-of-memory "
        "killer: the job used more memory than it was allowed or the node had.",
    )
    w.rule(
        "fix",
        f'Give the job more memory (`--mem`, or `extra_scheduler=["--mem=..."]`) '
        f"or reduce what {_program(w)} holds in memory; `dmesg` or `journalctl -k` on the "
        "node shows whether the out-of-memory killer stopped it.",
        "command",
    )


# -- native crashes ------------------------------------------------------------------------
