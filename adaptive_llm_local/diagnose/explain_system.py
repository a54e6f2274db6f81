"""Specific explanations of failures outside Python's own code.

Memory, time limits, cancellations, native crashes, files, GPUs, MPI, nodes, unknown
failures and logs without one: each fills a :class:`~.writer.Writer` with the guide's
words and the log's facts (the job id, the node, the killed command, the path, the rank).
"""

from __future__ import annotations

from .writer import Writer, code, short

# -- SLURM -------------------------------------------------------------------------------


def _job(w: Writer) -> str:
    job = w.get("job_id")
    return f"job {job}" if job else "the job"


def _limits(w: Writer, *fields: str) -> dict[str, str]:
    """What SLURM's records (a check) say about the job: time limit, elapsed, memory."""
    check = w.check("slurm_job")
    return {k: v for k in fields if check is not None and (v := check.detail.get(k))}


def time_limit(w: Writer) -> None:
    job = _job(w)
    at = f" at {w.get('cancelled_at')}" if w.has("cancelled_at") else ""
    on = f" on node {w.get('node')}" if w.has("node") else ""
    w.fact("cause", f"SLURM cancelled {job}{at}{on} because it reached its time limit "
           f"(`DUE TO TIME LIMIT`, log line {w.result.key_line_number}).", "job_id",
           "cancelled_at", "node", key=True)
    w.rule("cause", "The job ran longer than its `--time` allows, so SLURM stopped it.")
    known = _limits(w, "time_limit", "elapsed")
    limit = known.get("time_limit") or w.get("time_limit")
    above = f" above {limit}" if limit else ""
    sacct = (f"; `sacct -j {w.get('job_id')} -o JobID,Timelimit,Elapsed,State` shows its limit "
             "and how long it ran") if w.has("job_id") else ""
    w.rule("fix", f"Raise the time limit of {job}{above} (`#SBATCH --time=`, or "
           f"`extra_scheduler=[\"--time=...\"]` in adaptive-scheduler){sacct}.", "job_id",
           "time_limit")
    w.rule("fix", "Or split the work into shorter jobs and save results periodically "
           "(`save_interval`), so a job that hits the limit loses little.")


def cancelled(w: Writer) -> None:
    job = _job(w)
    if w.get("cancel_reason") == "PREEMPTION":
        w.fact("cause", f"{job.capitalize()} was preempted at {w.get('cancelled_at')} on node "
               f"{w.get('node')}: a higher-priority job took its resources (`DUE TO "
               "PREEMPTION`).", "job_id", "cancelled_at", "node", "cancel_reason", key=True)
        w.rule("fix", f"Resubmit {job} with `--requeue` so SLURM requeues it after a "
               "preemption, or submit it to a partition or QOS that is not preemptible; save "
               "results periodically so a preempted job loses little.", "job_id")
        return
    if w.get("exception") == "KeyboardInterrupt":
        where = f" while at {w.place(full=True)}" if w.has_frame else ""
        w.fact("cause", f"The Python process received SIGINT (`KeyboardInterrupt`, log line "
               f"{w.result.key_line_number}){where}: it was interrupted from outside (Ctrl-C, "
               "`kill -INT`, `scancel --signal=INT`); the code itself did not fail.",
               "exception", *w.frame_names(), key=True)
        w.rule("fix", "Nothing to change in the code: rerun the job without interrupting it; "
               "if a script or the scheduler sent SIGINT, find out which (for a SLURM job "
               "`sacct -j JOBID -o JobID,State,Reason`).")
        return
    when = f" at {w.get('cancelled_at')}" if w.has("cancelled_at") else ""
    on = f" on node {w.get('node')}" if w.has("node") else ""
    w.fact("cause", f"{job.capitalize()} was cancelled{when}{on} (log line "
           f"{w.result.key_line_number}), without a reason in the log: by `scancel` (you, an "
           "administrator) or by adaptive-scheduler's kill manager.", "job_id", "cancelled_at",
           "node", key=True)
    sacct = (f"`sacct -j {w.get('job_id')} -o JobID,State,Reason`" if w.has("job_id")
             else "`sacct -j JOBID -o JobID,State,Reason`")
    w.rule("fix", f"Find out who cancelled {job}: {sacct}; if it was the kill manager, check "
           "its `error` patterns; resubmit if the cancellation was not intended.", "job_id")


def node_failure(w: Writer) -> None:
    job, node = _job(w), w.get("node")
    on = f"Node {node}" if node else "The node"
    w.fact("cause", f"{on} failed while {job} ran (`NODE FAILURE`, log line "
           f"{w.result.key_line_number}); the job itself did not cause it.", "node", "job_id",
           key=True)
    exclude = (
        f"if node {node} fails again, tell the administrators and keep away from it with "
        f"`--exclude={node}`"
        if node
        else "tell the administrators when one node fails repeatedly"
    )
    w.rule("fix", f"Resubmit {job} (with `--requeue` SLURM requeues it by itself; "
           f"adaptive-scheduler restarts failed jobs); {exclude}.", "job_id", "node")


# -- memory ------------------------------------------------------------------------------


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
        w.rule("fix", "Request more memory (`--mem`/`--mem-per-cpu`, or `extra_scheduler` in "
               "adaptive-scheduler) or reduce the problem size per job.")


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
    job = _job(w)
    step = f" (step {w.get('step_id')})" if w.has("step_id") else ""
    w.fact("cause", f"SLURM's cgroup out-of-memory handler killed a process of {job}{step}, "
           f"log line {w.result.key_line_number}: the job used more memory than its `--mem` "
           f"allowed.{_killed_command(w)}", "job_id", "step_id", "command", key=True)
    known = _limits(w, "req_mem", "max_rss")
    above = f" above its {known['req_mem']}" if "req_mem" in known else ""
    w.rule("fix", f"Raise the memory request of {job}{above} (`#SBATCH --mem=`, or "
           "`extra_scheduler=[\"--mem=...\"]` in adaptive-scheduler) to what "
           f"{_program(w)} needs, or make {_program(w)} hold less in memory"
           f"{_mem_accounting(w)}.", "job_id", "command")


def _slurm_mem_limit(w: Writer) -> None:
    job, used, limit = _job(w), w.get("mem_used"), w.get("mem_limit")
    w.fact("cause", f"SLURM killed {job}: it used {used} against a limit of {limit} (as "
           f"SLURM prints them, log line {w.result.key_line_number}).", "job_id", "mem_used",
           "mem_limit", key=True)
    w.rule("fix", f"Raise `--mem` of {job} above the limit SLURM printed ({limit}), or reduce "
           f"what the job holds in memory at once{_mem_accounting(w)}.", "job_id", "mem_limit")


def _cuda_oom(w: Writer) -> None:
    size, gpu = w.get("cuda_requested"), w.get("gpu")
    total, free = w.get("gpu_total"), w.get("gpu_free")
    on = f" on GPU {gpu}" if gpu else ""
    has = f", which has {total} in total and {free} free" if total and free else ""
    w.fact("cause", f"The GPU ran out of memory: PyTorch tried to allocate {size}{on}{has}.",
           "cuda_requested", "gpu", "gpu_total", "gpu_free", key=True)
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    bigger = f" or a GPU with more than {total}" if total else ""
    w.rule("fix", f"Reduce the batch size (or the model or input size) used{at}, use mixed "
           f"precision or gradient checkpointing{bigger}; set "
           "`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` when much memory is reserved "
           "but unallocated.", *w.frame_names(), "gpu_total")


def _numpy_oom(w: Writer) -> None:
    size, shape, dtype = w.get("alloc_size"), w.get("array_shape"), w.get("dtype")
    w.fact("cause", f"numpy could not allocate {size} for an array of shape {shape} "
           f"({dtype}).", "alloc_size", "array_shape", "dtype", key=True)
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    w.rule("fix", f"Shrink the {size} array{at}: a smaller shape than {shape}, a smaller dtype "
           f"than {dtype} (`float32` halves a `float64`), a sparse or chunked computation; "
           "request that much with `--mem` only if a node has it.", "alloc_size",
           "array_shape", "dtype", *w.frame_names())


def _memory_error(w: Writer) -> None:
    w.fact("cause", f"Python could not get more memory (`{w.get('exception')}`, log line "
           f"{w.result.key_line_number}): the process reached its memory limit (`ulimit -v`, "
           "the job's `--mem`) or the node's RAM.", "exception", key=True)
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    w.rule("fix", f"Reduce what the code holds in memory{at} (process the data in pieces, "
           "free what is no longer needed), or give the job more memory (`--mem`, or raise "
           "`ulimit -v` in the job script).", *w.frame_names())


def _bad_alloc(w: Writer) -> None:
    program = w.get("program") or w.get("command")
    who = code(program) if program else "The program"
    w.fact("cause", f"{who} threw {code(w.get('native_exception') or '')}: a memory "
           f"allocation failed (log line {w.result.key_line_number}).", "native_exception",
           "program", key=True)
    w.rule("fix", f"Give {who} more memory (`--mem`, or raise `ulimit -v` if the job script "
           "sets one) or reduce the size of what it allocates.", "program")


def _killed(w: Writer) -> None:
    command, script, line = w.get("command"), w.get("script"), w.get("script_line")
    started = f" (started at line {line} of {script})" if script and line else ""
    status = f", exit status {w.get('exit_code')}" if w.has("exit_code") else ""
    w.fact("cause", f"{code(command or 'The process')}{started} was killed with SIGKILL "
           f"(`Killed`{status}).", "command", "script", "script_line", "exit_code", key=True)
    w.rule("cause", "Without a SLURM message this is usually the kernel's out-of-memory "
           "killer: the job used more memory than it was allowed or the node had.")
    w.rule("fix", f"Give the job more memory (`--mem`, or `extra_scheduler=[\"--mem=...\"]`) "
           f"or reduce what {_program(w)} holds in memory; `dmesg` or `journalctl -k` on the "
           "node shows whether the out-of-memory killer stopped it.", "command")


# -- native crashes ------------------------------------------------------------------------


def segfault(w: Writer) -> None:
    if w.has("assertion", "assert_file"):
        at = f"{w.get('assert_file')}:{w.get('assert_line')}"
        w.fact("cause", f"The C assertion {code(w.get('assertion') or '')} in "
               f"{w.get('assert_function')} at {at} failed, so {w.get('program')} aborted "
               "(SIGABRT).", "assertion", "assert_file", "assert_line", "assert_function",
               "program", key=True)
        w.rule("fix", f"Find why {code(w.get('assertion') or '')} is false at {at} for this "
               "input and fix the input or the code; the assertion is the program's own "
               "check.", "assertion", "assert_file", "assert_line")
        return
    signal = w.get("fatal_error") or w.get("signal_name") or w.get("task_error") or "a crash"
    if w.has("library_file") or (w.has_frame and w.has("fatal_error")):
        _python_native_crash(w, signal)
    elif w.has("crash_binary"):
        _native_frames(w, signal)
    elif _is_python(w.get("program")):
        _python_without_frames(w, signal)
    elif w.has("program"):
        program = w.get("program") or ""
        started = _started(w)
        w.fact("cause", f"{code(program)}{started} crashed with {signal}: native code read or "
               "wrote memory it does not own.", "program", "script", "script_line",
               "signal_name", key=True)
        w.rule("fix", f"Debug {code(program)}: compile it with `-g` and run it under `gdb` (or "
               f"open its core dump with `gdb {program} core`), or build it with "
               "`-fsanitize=address`, to find the invalid memory access; rebuild it on the "
               "cluster if it was built elsewhere.", "program")
    else:
        task = w.get("task")
        on = f"task {task} on {w.get('node')}" if task and w.has("node") else "A process"
        last = (f" The last line the program printed was {code(w.get('last_output') or '')}."
                if w.has("last_output") else "")
        w.fact("cause", f"{on[0].upper() + on[1:]} crashed with {signal}.{last}", "task",
               "node", "last_output", key=True)
        printed = (f" (the one that printed {code(w.get('last_output') or '')})"
                   if w.has("last_output") else "")
        w.rule("fix", f"Debug the program the step runs{printed}: for Python add "
               "`-X faulthandler` to its command to see the crashing line; for compiled code "
               "enable core dumps (`ulimit -c unlimited`) and open them with `gdb`.",
               "last_output")


def _is_python(program: str | None) -> bool:
    return bool(program) and "python" in short(program or "")


def _started(w: Writer) -> str:
    script, line = w.get("script"), w.get("script_line")
    return f" (line {line} of {script})" if script and line else ""


def _python_native_crash(w: Writer, signal: str) -> None:
    inside = ""
    if w.has("library_file"):
        function = w.get("library_function")
        inside = (f" in {w.get('library_file')} line {w.get('library_line')}"
                  + (f" ({function})" if function else ""))
    called = f", called from {w.place(full=True)}" if w.has_frame else ""
    w.fact("cause", f"Python crashed in native code ({signal}){inside}{called}.",
           "fatal_error", "library_file", "library_line", "library_function",
           *w.frame_names(), key=True)
    at = w.place() if w.has_frame else "the line faulthandler shows"
    what = code(w.get("library_function") or "the native call")
    w.rule("fix", f"Fix the call at {at}: {what} crashed on what it was given (an invalid "
           "pointer or a buffer of the wrong size); if the call is right, reinstall or rebuild "
           "the compiled package it goes into for this node.", *w.frame_names(),
           "library_function")


def _python_without_frames(w: Writer, signal: str) -> None:
    command = w.get("command") or ""
    w.fact("cause", f"{code(command)}{_started(w)} crashed with {signal}: native code (a "
           "compiled extension or `ctypes`) failed, and the log has no Python frame.",
           "command", "script", "script_line", "signal_name", key=True)
    if signal == "Bus error":
        w.rule("cause", "A bus error usually means reading a memory-mapped file that was "
               "truncated or changed while mapped, or a file system that failed.")
    script = _script_arg(command)
    rerun = f"`python -X faulthandler {script}`" if script else "`python -X faulthandler`"
    at = f" (the command at line {w.get('script_line')} of {w.get('script')})" if w.has(
        "script") else ""
    w.rule("fix", f"Rerun with {rerun}{at} to print the Python line that crashed, then check "
           "the files it maps and rebuild or reinstall the compiled package it calls for this "
           "node.", "command", "script", "script_line")


def _script_arg(command: str) -> str | None:
    return next((short(x) for x in command.split()[1:] if x.endswith(".py")), None)


def _native_frames(w: Writer, signal: str) -> None:
    binary, offset = w.get("crash_binary") or "", w.get("crash_offset")
    rank = f"Rank {w.get('rank')}" if w.has("rank") else "A process"
    address = (f" at address {w.get('fault_address')}" if w.has("fault_address") else "")
    w.fact("cause", f"{rank} crashed with {signal}{address} in {binary} at offset {offset}"
           + (f" on node {w.get('node')}" if w.has("node") else "") + ".", "rank",
           "fault_address", "crash_binary", "crash_offset", "node", key=True)
    w.rule("fix", f"Find the faulting line of {binary}: build it with `-g` and run "
           f"`addr2line -e {binary} {offset}`, then fix the invalid pointer "
           + (f"used on rank {w.get('rank')}." if w.has("rank") else "it uses."),
           "crash_binary", "crash_offset", "rank")


# -- files -------------------------------------------------------------------------------

_WRITABLE = "a scratch or home folder the job owns"


def file_error(w: Writer) -> None:
    errno, strerror = w.get("errno"), w.get("strerror") or ""
    path = w.get("path")
    if w.has("script") and path and strerror == "Permission denied":
        _not_executable(w, path)
        return
    if w.has("interpreter") and path and errno == "2":
        w.fact("cause", f"{w.get('interpreter')} was asked to run {path}, which does not exist "
               f"(`[Errno 2] No such file or directory`, log line {w.result.key_line_number}).",
               "interpreter", "path", key=True)
        w.rule("fix", f"Correct the script path {path} in the job's command (a renamed or "
               "moved script?), or put the script there, then resubmit.", "path")
        _path_checks(w)
        return
    what = f"{code(path)}" if path else "a file"
    said = f"{strerror}" + (f" ([Errno {errno}])" if errno else "")
    at = f" at {w.place(full=True)}" if w.has_frame else ""
    w.fact("cause", f"The job could not access {what}: {said}{at}.", "path", "strerror",
           "errno", *w.frame_names(), key=True)
    if w.has("library_file"):
        w.frame_facts(caller=False)
    where = w.place() if w.has_frame else "the line that opens it"
    if strerror.startswith("No such file") or errno == "2":
        _not_found(w, path, where)
    elif strerror.startswith("Permission denied") or errno == "13":
        w.rule("cause", "The job's user may not access it: the file or its folder belongs to "
               "another user or lacks the permission bits.")
        w.rule("fix", f"Give the job's user access to {what} (`ls -l` shows owner and mode; "
               f"`chmod u+w` or `chown` as the owner), or write it into {_WRITABLE}, changing "
               f"the path at {where}.", "path", *w.frame_names())
    elif strerror.startswith("Is a directory") or errno == "21":
        w.rule("fix", f"{what.capitalize()} is a directory: open a file inside it at {where} "
               "(for example `" + (path or "folder") + "/<file>`), or fix the path.",
               "path", *w.frame_names())
    elif strerror.startswith("No space left") or errno == "28":
        w.rule("cause", "The file system the job writes to is full.")
        w.rule("fix", f"Free space or write to a file system with room (check with `df -h` "
               f"and `quota` on the node where the job runs; scratch file systems are usually "
               f"larger); the write is at {where}.", *w.frame_names())
    elif strerror.startswith("Disk quota") or errno == "122":
        w.rule("fix", f"Free space within your quota (`quota`, `du -sh`) or write to a file "
               f"system with quota left; the write is at {where}.", *w.frame_names())
    elif strerror.startswith("Read-only") or errno == "30":
        w.rule("cause", "The path is on a file system mounted read-only (on clusters, software "
               "and container mounts often are).")
        w.rule("fix", f"Write {what} to a writable location instead ({_WRITABLE}), changing the "
               f"path at {where}.", "path", *w.frame_names())
    else:
        w.rule("fix", f"Check {what} exists on the compute node, its permissions and the quota "
               f"(`df -h`, `quota`), then fix the path at {where}.", "path",
               *w.frame_names())
    _path_checks(w)


def _not_found(w: Writer, path: str | None, where: str) -> None:
    what = code(path) if path else "the file"
    if path and not path.startswith("/"):
        w.rule("cause", f"{what} is a relative path: it is looked up in the job's working "
               "directory, which is not necessarily the folder of the script.", "path")
        w.rule("fix", f"Make {what} exist in the folder the job runs in, or use an absolute path "
               f"(on a file system the compute nodes mount) at {where}; with SLURM, set the "
               "working directory with `#SBATCH --chdir` (`-D`).", "path", *w.frame_names())
    else:
        w.rule("fix", f"Create {what} or correct the path at {where}; check that its file "
               "system is mounted on the compute nodes.", "path", *w.frame_names())


def _not_executable(w: Writer, path: str) -> None:
    script, line = w.get("script"), w.get("script_line")
    w.fact("cause", f"Line {line} of {script} runs {path}, which may not be executed "
           "(`Permission denied`): it lacks the execute permission, or its file system is "
           "mounted `noexec`.", "script", "script_line", "path", key=True)
    w.rule("fix", f"Make it executable (`chmod +x {path}`) or run it through its interpreter "
           f"(`bash {path}`) at line {line} of {script}.", "path", "script", "script_line")
    _path_checks(w)


def _path_checks(w: Writer) -> None:
    """What the machine says now about the path (exists, owner, read-only, space)."""
    exists = w.check("path_exists")
    if exists is not None and exists.status == "ok" and w.get("errno") == "2":
        w.rule("fix", "The path exists on this machine now: it was created later, or the job "
               "ran on a node or in a folder where it does not exist.")


# -- GPUs --------------------------------------------------------------------------------


def gpu_error(w: Writer) -> None:
    error = w.get("cuda_error") or w.get("message") or w.result.key_line or ""
    if "No CUDA GPUs" in error or "no CUDA-capable device" in error:
        at = f" at {w.place(full=True)}" if w.has_frame else ""
        w.fact("cause", f"The job found no GPU: {code(error)}{at}; it was not given one (or "
               "the node has none).", "cuda_error", *w.frame_names(), key=True)
        w.rule("fix", "Request a GPU for the job: `#SBATCH --gres=gpu:1` (or `--gpus=1`, and "
               "your cluster's GPU partition; in adaptive-scheduler "
               "`extra_scheduler=[\"--gres=gpu:1\"]`); `nvidia-smi` in the job script shows "
               "what the job got.")
        return
    if "driver version is insufficient" in error:
        module = w.get("cuda_module")
        loaded = f" (the job loaded {module})" if module else ""
        w.fact("cause", f"The CUDA runtime the program uses{loaded} is newer than the NVIDIA "
               f"driver on the node: {code(error)}.", "cuda_module", "cuda_error", key=True)
        instead = f" instead of {module}" if module else ""
        w.rule("fix", f"Load a CUDA module the node's driver supports{instead} (`nvidia-smi` "
               "on the node prints the highest CUDA version its driver supports), or run on "
               "nodes with a newer driver.", "cuda_module")
        return
    if w.has("nccl_version") or "NCCL" in error:
        _nccl(w)
        return
    at = f" where it showed, {w.place(full=True)}," if w.has_frame else ""
    w.fact("cause", f"A CUDA call failed ({code(error)}); CUDA reports kernel errors "
           f"asynchronously, so the Python line{at} may not be the kernel that failed.",
           "cuda_error", *w.frame_names(), key=True)
    start = f", starting from {w.place()}" if w.has_frame else ""
    w.rule("fix", "Rerun with `CUDA_LAUNCH_BLOCKING=1` so the error surfaces at the kernel "
           "that fails, then fix the indices and tensor shapes used there (out-of-range "
           f"indices in embeddings or gathers are the usual cause){start}.", *w.frame_names())


def _nccl(w: Writer) -> None:
    version = f" (version {w.get('nccl_version')})" if w.has("nccl_version") else ""
    rank = f" on rank {w.get('rank')}" if w.has("rank") else ""
    node = f" (node {w.get('node')})" if w.has("node") else ""
    at = f" at {w.place(full=True)}" if w.has_frame else ""
    w.fact("cause", f"NCCL{version} failed{at}{rank}{node}: a system call, the network "
           "between the GPUs or a device failed.", "nccl_version", "rank", "node",
           *w.frame_names(), key=True)
    gpus = f" and the GPUs of {w.get('node')} (`nvidia-smi`)" if w.has("node") else ""
    w.rule("fix", "Rerun with `NCCL_DEBUG=INFO` to see which call failed; check that every rank "
           "reaches the same collective and that NCCL uses the right network interface "
           f"(`NCCL_SOCKET_IFNAME`){gpus}.", "node")


# -- MPI ---------------------------------------------------------------------------------


def mpi_error(w: Writer) -> None:
    rank = w.get("rank")
    said = w.get("rank_message")
    told = f" Rank {rank}'s own last message: {code(said)}." if rank and said else ""
    if w.has("mpi_errorcode"):
        w.fact("cause", f"Rank {rank} called MPI_Abort with error code "
               f"{w.get('mpi_errorcode')} in {w.get('communicator')}, which stopped every "
               f"rank.{told}", "rank", "mpi_errorcode", "communicator", "rank_message",
               key=True)
        reason = f" (it reported {code(said)})" if said else ""
        w.rule("fix", f"Fix what made rank {rank} abort{reason}: its input or the code path "
               f"that calls MPI_Abort with error code {w.get('mpi_errorcode')}.", "rank",
               "rank_message", "mpi_errorcode")
        return
    if w.has("mpi_error"):
        call = w.get("mpi_call")
        on = f" on rank {rank}" if rank else ""
        w.fact("cause", f"{call or 'An MPI call'} failed{on} with {code(w.get('mpi_error') or '')}"
               f": the call's arguments are invalid for its communicator.{told}", "mpi_call",
               "rank", "mpi_error", key=True)
        argument = ("the rank argument (a destination or source must be between 0 and the "
                    "communicator's size minus 1)" if "MPI_ERR_RANK" in (w.get("mpi_error") or "")
                    else "the argument the error names")
        w.rule("fix", f"Fix {argument} of the {call or 'MPI'} call in the code rank "
               f"{rank or 'that failed'} runs.", "mpi_call", "rank", "mpi_error")
        return
    if w.has("executable"):
        node = f" on node {w.get('node')}" if w.has("node") else ""
        exe = w.get("executable") or ""
        w.fact("cause", f"mpirun could not access or execute {exe}{node}: it is missing, not "
               "executable, or not on a file system the node mounts.", "executable", "node",
               key=True)
        w.rule("fix", f"Make {exe} exist and be executable on every node: check its name and "
               f"path (relative to the job's working directory), build it, or `chmod +x {exe}`.",
               "executable")
        return
    if rank and w.has("exit_code"):
        code_ = w.get("exit_code")
        w.fact("cause", f"Rank {rank} exited with exit code {code_}, so mpirun stopped the job; "
               f"the log does not say why.{told}", "rank", "exit_code", "rank_message",
               key=True)
        w.rule("fix", f"Find why rank {rank} exits with code {code_}: its own output and the "
               f"program's exit calls (`sys.exit({code_})`, `exit({code_})`).", "rank",
               "exit_code")
        return
    w.fact("cause", f"The MPI layer failed: {code(w.result.key_line or '')}.{told}", key=True)
    w.rule("fix", "Look at the first rank that failed, make sure the MPI library used at run "
           "time is the one mpi4py was built against, and launch with `srun`/`mpirun` as the "
           "cluster documents.")


# -- unknown and none ---------------------------------------------------------------------


def unknown(w: Writer) -> None:
    key = w.result.key_line or ""
    if w.result.key_line is None and not w.result.notes:
        none(w)
        return
    if w.has("see_file"):
        w.fact("cause", f"The program reports {code(key)} (log line "
               f"{w.result.key_line_number}).", key=True)
        w.rule("fix", f"Read {w.get('see_file')}, which the error line names, for why it failed "
               "(it is usually in the job's working directory); the log itself says no more.",
               "see_file")
        return
    if w.has("slurm_error"):
        error = w.get("slurm_error") or ""
        w.fact("cause", f"SLURM refused the job's request: {code(error)}.", "slurm_error",
               key=True)
        if "Memory specification" in error:
            w.rule("fix", "Lower the memory request (`--mem`/`--mem-per-cpu`) to what the "
                   "partition's nodes have: `sinfo -o '%n %m'` lists each node's memory in MB.")
        else:
            w.rule("fix", "Change the part of the request the message names (nodes, cores, "
                   "memory, time, partition) to what the cluster offers (`sinfo`, "
                   "`scontrol show partition`).")
        return
    if w.has("frame_file", "frame_line") and "cut" in " ".join(w.result.notes):
        w.fact("cause", f"The log ends inside a Python traceback, cut before its exception "
               f"line, at {w.place(full=True)}.", *w.frame_names(), key=True)
        w.rule("fix", f"Look at {w.place()}, where the traceback was cut, and get the complete "
               "log (the job may still be writing it, or the copy was truncated) to see the "
               "exception.", *w.frame_names())
        return
    last = (f" Its last output was {code(w.get('last_output') or '')}."
            if w.has("last_output") else "")
    if w.get("signal_name") == "Terminated":
        status = f", exit status {w.get('exit_code')}" if w.has("exit_code") else ""
        w.fact("cause", f"The process was stopped by SIGTERM (`Terminated`{status}); the log "
               f"does not show who sent it.{last}", "signal_name", "exit_code", "last_output",
               key=True)
        w.rule("fix", "Find out who sent SIGTERM (`scancel`, a time limit, adaptive-scheduler's "
               "kill manager or the system): for a SLURM job `sacct -j JOBID -o "
               "JobID,State,Reason,Elapsed,Timelimit`; resubmit if it was not intended.")
        return
    if w.has("exit_code"):
        status = w.get("exit_code")
        who = (f"Task {w.get('task')} on {w.get('node')}" if w.has("task", "node")
               else "The program")
        w.fact("cause", f"{who} exited with exit code {status}; the log shows no error "
               f"message.{last}", "task", "node", "exit_code", "last_output", key=True)
        w.rule("fix", f"Find where the program exits with code {status} (`sys.exit({status})`, "
               f"`exit({status})` or a wrapper script) and why; rerun it with the same input "
               "to see it.", "exit_code")
        return
    w.fact("cause", f"The log shows a failure ({code(key)}, log line "
           f"{w.result.key_line_number}) but no known failure pattern.{last}", "last_output",
           key=True)
    w.rule("fix", "Read the lines around the key line; run the job's function locally with the "
           "same input to reproduce it.")


def none(w: Writer) -> None:
    w.rule("cause", "The log shows no sign of a failure.")
    w.rule("fix", "Nothing to fix in this log; if the job was still marked failed, check the "
           "scheduler's accounting (`sacct`) and the other log files of the job.")
