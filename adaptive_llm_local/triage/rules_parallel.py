"""Rules for MPI (Open MPI, MPICH/Hydra, Intel MPI, PMI/PMIx), NCCL, CUDA and torch.distributed.

Each rule cites the message it was written from; the test lines in
``tests/test_triage_catalogue.py`` fill the placeholders with other values.
"""

from __future__ import annotations

from adaptive_llm_local.triage.rule import Rule

MPI_STARTUP = "MPI could not start: the launcher and the MPI library do not match"
LAUNCHER_ENV = "the program was not started by the launcher that sets its task variables"

LINE_RULES: tuple[Rule, ...] = (
    # -- GPUs ------------------------------------------------------------------------------
    # cudaGetErrorString/cuGetErrorName: "no CUDA-capable device is detected" (100),
    # "CUDA driver version is insufficient for CUDA runtime version" (35), "all
    # CUDA-capable devices are busy or unavailable" (46), "invalid device ordinal" (101),
    # "forward compatibility was attempted on non supported HW" (804), "system has
    # unsupported display driver / cuda driver combination" (803); NCCL
    # ncclGetErrorString: "unhandled system error", "unhandled cuda error", "remote
    # process exited or there was a network error"; the kernel's "NVRM: Xid (...): %d"
    Rule(
        "gpu-line",
        "gpu_error",
        65,
        r"CUDA error|cudaError\w*|CUDA_ERROR_\w+|no CUDA-capable device"
        r"|CUDA driver version is insufficient|NCCL error"
        r"|nccl(?:System|Internal|UnhandledCuda|Remote)Error|ncclInvalidUsage"
        r"|unhandled (?:system|cuda) error|remote process exited or there was a network error"
        r"|CUDNN_STATUS_\w+|CUBLAS_STATUS_\w+|Found no NVIDIA driver|NVIDIA-SMI has failed"
        r"|CUDA-capable devices? (?:is|are|is/are) busy or unavailable|invalid device ordinal"
        r"|forward compatibility was attempted on non supported HW"
        r"|unsupported display driver / cuda driver combination|\bXid\b[^\n]{0,80}?\b\d+\b",
        keywords=("cuda", "nccl", "cudnn", "cublas", "nvidia", "xid", "device ordinal"),
    ),
    # NCCL debug.cc: "%s:%d:%d [%d] %s:%d NCCL WARN %s" (WARN is only used for errors):
    # "Call to %s failed : %s", "socketStartConnect: Connect to %s failed : %s",
    # "socketProgress: Connection closed by remote peer %s", "NET/Socket : No usable
    # listening interface found"; above the generic file rule, whose wording its messages
    # may end with
    Rule("nccl-warn", "gpu_error", 59, r"\bNCCL WARN \S", keywords=("nccl warn",)),
    # -- MPI start-up: the launcher and the library disagree ----------------------------
    # Open MPI errhandler_predefined.c: "*** The %s() function was called before
    # MPI_INIT was invoked.", "*** An error occurred in %s" (MPI_Init, MPI_Init_thread);
    # help-ess-base.txt: "The application appears to have been direct launched using
    # "srun", but OMPI was not built with SLURM's PMI support"; help-mpi-runtime.txt /
    # help-orte-runtime.txt: "It looks like %s failed for some reason"; "Local abort
    # before MPI_INIT completed completed successfully"; "OPAL ERROR: %s in file %s at
    # line %d" and PMIx's "PMIX ERROR: %s in file %s at line %d"; MPICH simple_pmi.c
    # "PMII_singinit: execv failed"; MPICH "Fatal error in %s: " with MPI_Init,
    # PMPI_Init_thread or internal_Init; Intel MPI "MPI startup(): PMI server not found.
    # Please set I_MPI_PMI_LIBRARY variable if it is not a singleton case."
    Rule(
        "mpi-startup",
        "mpi_error",
        62,
        r"function was called before MPI_INIT was invoked|An error occurred in MPI_Init"
        r"|appears to have been direct launched using"
        r"|It looks like (?:MPI_INIT|MPI_Init\w*|ompi_mpi_init|orte_init|opal_init) failed"
        r"|Local abort before MPI_INIT completed|OPAL ERROR: |PMIX ERROR: "
        r"|PMII_singinit: \w+ failed|Fatal error in (?:P?MPI_Init\w*|internal_Init\w*)"
        r"|PMI server not found",
        summary=MPI_STARTUP,
        keywords=(
            "mpi_init",
            "direct launched",
            "looks like",
            "opal error",
            "pmix error",
            "pmii_singinit",
            "internal_init",
            "pmi server",
        ),
    ),
    Rule("mpi-err-code", "mpi_error", 62, r"\bMPI_ERR_[A-Z_]+", keywords=("mpi_err_",)),
    # Open MPI "MPI_ABORT was invoked on rank %d in communicator %s"; MPICH "Abort(%d)
    # on node %d (rank %d in comm %d): application called MPI_Abort(%s, %d)"
    Rule(
        "mpi-abort",
        "mpi_error",
        61,
        r"MPI_ABORT was invoked|MPI_Abort\(|application called MPI_Abort",
        keywords=("mpi_abort",),
    ),
    # help-orterun.txt: "%s was unable to launch the specified application as it could
    # not access...", "... find the specified executable"; MPICH "Fatal error in %s: ";
    # Hydra "BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES"
    Rule(
        "mpi-launch",
        "mpi_error",
        60,
        r"An error occurred in MPI_\w+|(?:mpirun|prterun|mpiexec) was unable to (?:launch|find"
        r"|start)|Fatal error in P?MPI_\w+|BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES"
        r"|PMIX_ERROR|PMI2?_\w+ failed|ompi_mpi_init|MPI_Init\S{0,40} failed",
        keywords=("mpi", "pmi", "bad termination", "was unable to"),
    ),
    # Hydra launch.c: "execvp error on file %s (%s)"
    Rule(
        "hydra-execvp",
        "missing_module",
        63,
        r"execvp error on file \S{1,300} \(No such file or directory\)",
        keywords=("execvp error",),
    ),
    Rule(
        "mpi-orte",
        "mpi_error",
        55,
        r"ORTE_ERROR_LOG|HYDU_\w+|HYDT_\w+|PMIx\w* [^\n]{0,200}?failed",
        keywords=("orte_error_log", "hydu_", "hydt_", "pmix"),
    ),
    # help-orterun.txt: "%s noticed that process rank %lu with PID %lu on node %s exited on
    # signal %d (%s).", "%s has exited due to process rank %lu with PID %lu on node %s
    # exiting improperly"; Hydra "one of the processes terminated badly; aborting"
    Rule(
        "mpirun-nonzero",
        "mpi_error",
        54,
        r"^(?:mpirun|prterun|mpiexec) detected that one or more processes exited with non-zero"
        r"|^(?:mpirun|prterun|orterun|mpiexec) noticed that process rank \d+"
        r"|^(?:mpirun|prterun|orterun|mpiexec) has exited due to process rank \d+"
        r"|one of the processes terminated badly",
        keywords=("mpirun", "prterun", "orterun", "mpiexec", "terminated badly"),
    ),
    Rule(
        "mpi-primary-job",
        "mpi_error",
        53,
        r"^Primary job +terminated normally, but \d+ process(?:es)? returned",
        keywords=("primary job",),
    ),
    # torch/distributed/elastic/multiprocessing/api.py: "failed (exitcode: %d) local_rank:
    # %s (pid: %d) of binary: %s"
    Rule(
        "torch-elastic-failed",
        "unknown",
        30,
        r"failed \(exitcode: -?\d+\) local_rank: ",
        keywords=("local_rank",),
    ),
)

EXCEPTION_RULES: tuple[Rule, ...] = (
    Rule(
        "exc-gpu",
        "gpu_error",
        82,
        r"\bCUDA\b|cuda\w*Error|CUDA_ERROR_|cudaError|\bNCCL\b|nccl\w+Error|DistBackendError"
        r"|cuDNN|CUDNN_STATUS_|CUBLAS_STATUS_|NVIDIA driver|NVML|no CUDA-capable device"
        r"|No CUDA GPUs|no platforms that are instances of gpu|Unknown backend:? '?gpu\b",
        scope="exception",
    ),
    # A variable the launcher sets for every task: SLURM's srun (SLURM_PROCID,
    # SLURM_LOCALID, ...), Open MPI's mpirun (OMPI_COMM_WORLD_RANK), PMI, torchrun
    # (RANK, WORLD_SIZE, MASTER_ADDR); torch rendezvous.py: "Error initializing
    # torch.distributed using env:// rendezvous: environment variable %s expected, but
    # not set"
    Rule(
        "exc-launcher-env",
        "mpi_error",
        80,
        r"^KeyError: '(?:SLURM_\w+|OMPI_COMM_WORLD_\w+|PMIX?_\w+|PMI_\w+|MASTER_ADDR|MASTER_PORT"
        r"|WORLD_SIZE|RANK|LOCAL_RANK|LOCAL_WORLD_SIZE)'|environment variable \w+ expected, "
        r"but not set",
        scope="exception",
        summary=LAUNCHER_ENV,
    ),
    Rule("exc-mpi", "mpi_error", 80, r"MPI_ERR_|\bmpi4py\b|^MPI\.Exception", scope="exception"),
    # torch elastic errors/__init__.py: torchrun's ChildFailedError only reports that a
    # worker failed ("exitcode  : %d (pid: %d)", "traceback : Signal %d (%s) received by
    # PID %d"); the worker's own error, when the log has it, is the cause
    Rule(
        "exc-child-failed",
        "unknown",
        29,
        r"(?:^|\.)ChildFailedError(?::|$)",
        scope="exception",
        note="torchrun reports that a worker failed; the worker's own error is the cause",
    ),
)
