"""Out of memory: the batch systems' kills, MemoryError, numpy, GPU and C++ allocations."""

from __future__ import annotations

import re

from .scheduler import job_name, slurm_limits
from .writer import Writer, code, short

_GPU_MEMORY = re.compile(
    r"CUDA out of memory|CUDA error: out of memory|CUDA_ERROR_OUT_OF_MEMORY"
    r"|cudaErrorMemoryAllocation|Cuda failure \d* ?'out of memory'|RESOURCE_EXHAUSTED"
    r"|OutOfMemoryError: CUDA|ResourceExhaustedError"
)
# what each batch system calls its memory request, keyed by a word of its kill message
_MEMORY_OPTIONS = (
    ("PBS:", "`#PBS -l mem=`, or `-l select=...:mem=` on PBS Pro"),
    ("TERM_", '`#BSUB -M` with `#BSUB -R "rusage[mem=...]"`'),
    ("hard limit", "`-l h_vmem=` (per slot) in the `qsub` options"),
)


def out_of_memory(w: Writer) -> None:
    key = w.result.key_line or ""
    if w.has("oom_kill_events") or w.get("task_error") == "Out Of Memory":
        _slurm_oom(w)
    elif w.has("mem_used", "mem_limit"):
        _slurm_mem_limit(w)
    elif any(marker in key for marker, _ in _MEMORY_OPTIONS):
        _batch_memory(w, key)
    elif w.has("cuda_requested"):
        _cuda_oom(w)
    elif _GPU_MEMORY.search(key):
        _gpu_memory(w, key)
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
    _step_tasks(w)
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


def _step_tasks(w: Writer) -> None:
    """Which tasks of an ``srun`` step the kill hit, as srun reports them."""
    if w.get("task_error") != "Out Of Memory" or not w.has("task"):
        return
    tasks, node = w.get("task") or "", w.get("node")
    which = f"tasks {tasks}" if any(c in tasks for c in ",-") else f"task {tasks}"
    on = f" on node {node}" if node else ""
    step = w.get("step_id")
    of = f" of step {step}" if step and not step.endswith(".batch") else " of the srun step"
    w.fact(
        "cause",
        f"srun reports {which}{of}{on} as killed for memory (`Out Of Memory`), so srun "
        "then stopped the whole step.",
        "task",
        "node",
        "step_id",
    )
    w.rule(
        "fix",
        f"The limit applies per node to the tasks srun runs there: give the step more "
        f"memory per task (`srun --mem-per-cpu=`, or `--mem=` per node) or run fewer "
        f"tasks per node (`--ntasks-per-node`) so that {which} fit.",
        "task",
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


def _batch_memory(w: Writer, key: str) -> None:
    """PBS/Torque, LSF and Grid Engine kills at the job's memory limit."""
    option = next(o for marker, o in _MEMORY_OPTIONS if marker in key)
    w.fact(
        "cause",
        f"The batch system killed the job at its memory limit ({code(key.strip())}): the job "
        "used more memory than it requested.",
        key=True,
    )
    w.rule(
        "fix",
        f"Request more memory for the job ({option}) or make it hold less in memory at once.",
    )


def _not_host_memory(w: Writer) -> None:
    w.rule(
        "cause",
        "This is the GPU's own memory, not the node's RAM: a larger `--mem` does not help.",
    )


def _gpu_memory(w: Writer, key: str) -> None:
    """A GPU out of memory without PyTorch's numbers: often memory other processes hold."""
    w.fact("cause", f"The GPU ran out of memory: {code(key.strip())}.", key=True)
    _not_host_memory(w)
    w.rule(
        "cause",
        "When it fails at start-up or on a small allocation, other processes hold the "
        "GPU's memory: another job or process sharing the GPU, or a framework that took "
        "most of it in advance.",
    )
    w.rule(
        "fix",
        "Check with `nvidia-smi` on the node which processes hold the GPU's memory; run on a "
        "GPU of the job's own (`--gres=gpu:1`, the GPUs SLURM gives the job in "
        "`CUDA_VISIBLE_DEVICES`), stop frameworks from taking all of it in advance "
        "(`XLA_PYTHON_CLIENT_PREALLOCATE=false` for JAX, `TF_FORCE_GPU_ALLOW_GROWTH=true` for "
        "TensorFlow), or reduce the batch size.",
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
    _not_host_memory(w)
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
