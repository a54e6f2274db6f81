"""GPU and MPI failures: CUDA, NCCL, ranks that abort or exit."""

from __future__ import annotations

from ...triage.rules_parallel import LAUNCHER_ENV, MPI_STARTUP
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
        w.rule(
            "fix",
            "If the job did request a GPU and the node has one, the GPU is not visible to "
            "the program: `CUDA_VISIBLE_DEVICES` set by hand to a device that does not exist "
            "(leave it to SLURM), or an NVIDIA driver that is not loaded on the node (after a "
            "kernel update `nvidia-smi` fails there): tell the administrators and avoid the "
            "node with `--exclude`.",
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


def _mpi_startup(w: Writer) -> None:
    """MPI could not start: the launcher and the MPI library (its PMI) do not match."""
    key = (w.result.key_line or "").strip()
    launcher = w.get("launcher")
    by = f" under {code(launcher)}" if launcher else ""
    w.fact(
        "cause",
        f"The MPI program could not start{by}: {code(key)}.",
        "launcher",
        key=True,
    )
    w.rule(
        "cause",
        "MPI start-up fails like this when the launcher and the MPI library do not match: "
        "`srun` starting a program whose MPI was not built for SLURM's PMI (or without "
        "`--mpi=pmix`), one MPI's `mpirun` starting a program built with another MPI, or a "
        "program started with no launcher at all.",
    )
    intel = "I_MPI_PMI_LIBRARY" in key or "PMI server not found" in key
    extra = (
        "; for Intel MPI under `srun`, point `I_MPI_PMI_LIBRARY` at SLURM's PMI library "
        "(`libpmi2.so`) or use Intel's `mpirun`"
        if intel
        else ""
    )
    w.rule(
        "fix",
        "Start the program with the launcher its MPI library expects: `srun --mpi=pmix` "
        "(`srun --mpi=list` shows the PMI types this SLURM offers) when the library supports "
        "SLURM's PMIx, otherwise that library's own `mpirun` or `mpiexec` inside the "
        "allocation; load the MPI module the program (or mpi4py) was built with before "
        f"starting it{extra}.",
        "launcher",
    )


def _launcher_env(w: Writer) -> None:
    name = w.get("key") or "a launcher variable"
    w.fact(
        "cause",
        f"The program reads {code(name)}, which only the launcher sets for each task it "
        "starts (SLURM's `srun` sets `SLURM_*`, `mpirun` sets `OMPI_COMM_WORLD_*` or "
        "`PMI_*`, torchrun sets `RANK` and `WORLD_SIZE`): the program was started another "
        "way (directly, on the login node, or by another launcher).",
        "key",
        key=True,
    )
    w.frame_facts(caller=False)
    at = f" at {w.place()}" if w.has_frame else ""
    w.rule(
        "fix",
        "Start the program with the launcher whose variables it reads (`srun` inside the "
        f"allocation for `SLURM_*`), or read the variable{at} with a default "
        "(`os.environ.get(...)`) or from the launcher that does start it.",
        "key",
        *w.frame_names(),
    )


def mpi_error(w: Writer) -> None:
    if w.result.summary == MPI_STARTUP:
        _mpi_startup(w)
        return
    if w.result.summary == LAUNCHER_ENV:
        _launcher_env(w)
        return
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
