"""GPU and MPI failures: CUDA, NCCL, ranks that abort or exit."""

from __future__ import annotations

from .writer import Writer, code


def gpu_error(w: Writer) -> None:
    error = w.get("cuda_error") or w.get("message") or w.result.key_line or ""
    if "No CUDA GPUs" in error or "no CUDA-capable device" in error:
        at = f" at {w.place(full=True)}" if w.has_frame else ""
        w.fact(
            "cause",
            f"The job found no GPU: {code(error)}{at}; it was not given one (or "
            "the node has none).",
            "cuda_error",
            *w.frame_names(),
            key=True,
        )
        w.rule(
            "fix",
            "Request a GPU for the job: `#SBATCH --gres=gpu:1` (or `--gpus=1`, and "
            "your cluster's GPU partition; in adaptive-scheduler "
            '`extra_scheduler=["--gres=gpu:1"]`); `nvidia-smi` in the job script shows '
            "what the job got.",
        )
        return
    if "driver version is insufficient" in error:
        module = w.get("cuda_module")
        loaded = f" (the job loaded {module})" if module else ""
        w.fact(
            "cause",
            f"The CUDA runtime the program uses{loaded} is newer than the NVIDIA "
            f"driver on the node: {code(error)}.",
            "cuda_module",
            "cuda_error",
            key=True,
        )
        instead = f" instead of {module}" if module else ""
        w.rule(
            "fix",
            f"Load a CUDA module the node's driver supports{instead} (`nvidia-smi` "
            "on the node prints the highest CUDA version its driver supports), or run on "
            "nodes with a newer driver.",
            "cuda_module",
        )
        return
    if w.has("nccl_version") or "NCCL" in error:
        _nccl(w)
        return
    at = f" where it showed, {w.place(full=True)}," if w.has_frame else ""
    w.fact(
        "cause",
        f"A CUDA call failed ({code(error)}); CUDA reports kernel errors "
        f"asynchronously, so the Python line{at} may not be the kernel that failed.",
        "cuda_error",
        *w.frame_names(),
        key=True,
    )
    start = f", starting from {w.place()}" if w.has_frame else ""
    w.rule(
        "fix",
        "Rerun with `CUDA_LAUNCH_BLOCKING=1` so the error surfaces at the kernel "
        "that fails, then fix the indices and tensor shapes used there (out-of-range "
        f"indices in embeddings or gathers are the usual cause){start}.",
        *w.frame_names(),
    )


def _nccl(w: Writer) -> None:
    version = f" (version {w.get('nccl_version')})" if w.has("nccl_version") else ""
    rank = f" on rank {w.get('rank')}" if w.has("rank") else ""
    node = f" (node {w.get('node')})" if w.has("node") else ""
    at = f" at {w.place(full=True)}" if w.has_frame else ""
    w.fact(
        "cause",
        f"NCCL{version} failed{at}{rank}{node}: a system call, the network "
        "between the GPUs or a device failed.",
        "nccl_version",
        "rank",
        "node",
        *w.frame_names(),
        key=True,
    )
    gpus = f" and the GPUs of {w.get('node')} (`nvidia-smi`)" if w.has("node") else ""
    w.rule(
        "fix",
        "Rerun with `NCCL_DEBUG=INFO` to see which call failed; check that every rank "
        "reaches the same collective and that NCCL uses the right network interface "
        f"(`NCCL_SOCKET_IFNAME`){gpus}.",
        "node",
    )


# -- MPI ---------------------------------------------------------------------------------


def mpi_error(w: Writer) -> None:
    rank = w.get("rank")
    said = w.get("rank_message")
    told = f" Rank {rank}'s own last message: {code(said)}." if rank and said else ""
    if w.has("mpi_errorcode"):
        w.fact(
            "cause",
            f"Rank {rank} called MPI_Abort with error code "
            f"{w.get('mpi_errorcode')} in {w.get('communicator')}, which stopped every "
            f"rank.{told}",
            "rank",
            "mpi_errorcode",
            "communicator",
            "rank_message",
            key=True,
        )
        reason = f" (it reported {code(said)})" if said else ""
        w.rule(
            "fix",
            f"Fix what made rank {rank} abort{reason}: its input or the code path "
            f"that calls MPI_Abort with error code {w.get('mpi_errorcode')}.",
            "rank",
            "rank_message",
            "mpi_errorcode",
        )
        return
    if w.has("mpi_error"):
        call = w.get("mpi_call")
        on = f" on rank {rank}" if rank else ""
        w.fact(
            "cause",
            f"{call or 'An MPI call'} failed{on} with {code(w.get('mpi_error') or '')}"
            f": the call's arguments are invalid for its communicator.{told}",
            "mpi_call",
            "rank",
            "mpi_error",
            key=True,
        )
        argument = (
            "the rank argument (a destination or source must be between 0 and the "
            "communicator's size minus 1)"
            if "MPI_ERR_RANK" in (w.get("mpi_error") or "")
            else "the argument the error names"
        )
        w.rule(
            "fix",
            f"Fix {argument} of the {call or 'MPI'} call in the code rank "
            f"{rank or 'that failed'} runs.",
            "mpi_call",
            "rank",
            "mpi_error",
        )
        return
    if w.has("executable"):
        node = f" on node {w.get('node')}" if w.has("node") else ""
        exe = w.get("executable") or ""
        w.fact(
            "cause",
            f"mpirun could not access or execute {exe}{node}: it is missing, not "
            "executable, or not on a file system the node mounts.",
            "executable",
            "node",
            key=True,
        )
        w.rule(
            "fix",
            f"Make {exe} exist and be executable on every node: check its name and "
            f"path (relative to the job's working directory), build it, or `chmod +x {exe}`.",
            "executable",
        )
        return
    if rank and w.has("exit_code"):
        code_ = w.get("exit_code")
        w.fact(
            "cause",
            f"Rank {rank} exited with exit code {code_}, so mpirun stopped the job; "
            f"the log does not say why.{told}",
            "rank",
            "exit_code",
            "rank_message",
            key=True,
        )
        w.rule(
            "fix",
            f"Find why rank {rank} exits with code {code_}: its own output and the "
            f"program's exit calls (`sys.exit({code_})`, `exit({code_})`).",
            "rank",
            "exit_code",
        )
        return
    w.fact("cause", f"The MPI layer failed: {code(w.result.key_line or '')}.{told}", key=True)
    w.rule(
        "fix",
        "Look at the first rank that failed, make sure the MPI library used at run "
        "time is the one mpi4py was built against, and launch with `srun`/`mpirun` as the "
        "cluster documents.",
    )


# -- unknown and none ---------------------------------------------------------------------
