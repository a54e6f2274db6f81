"""Test lines written from the message catalogues of the tools (their format strings).

Each entry fills a rule's format string (cited next to the rule in
``adaptive_llm_local/triage/rules_*.py``) with values other than the ones the tools'
sources and documentation show, and checks the category, the key line and the rule
that decided the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adaptive_llm_local.triage import triage_text
from adaptive_llm_local.triage.rules import RULES, match_exception, match_line
from adaptive_llm_local.triage.tracebacks import parse_exception_line


@dataclass(frozen=True)
class Line:
    """A log (one or more lines) and what triage must make of it."""

    rule: str
    category: str
    lines: tuple[str, ...]
    key: int = 0
    """Index in ``lines`` of the key line."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _tb(exception_line: str, *, rule: str, category: str) -> Line:
    """A traceback ending in ``exception_line`` (for the exception rules)."""
    lines = (
        "Traceback (most recent call last):",
        '  File "/scratch/u4/proj/run_sweep.py", line 57, in <module>',
        "    main(cfg)",
        exception_line,
    )
    return Line(rule, category, lines, 3)


CATALOGUE: tuple[Line, ...] = (
    # -- SLURM ------------------------------------------------------------------------------
    Line(
        "slurm-job-time-limit",
        "time_limit",
        (
            "slurmstepd: error: *** JOB 3300917 ON c-41-07 CANCELLED AT 2024-07-19T22:03:11 "
            "DUE TO TIME LIMIT ***",
        ),
    ),
    Line(
        "slurm-step-time-limit",
        "time_limit",
        (
            "slurmstepd: error: *** STEP 3300917.4 ON c-41-07 CANCELLED AT 2024-07-19T22:03:11 "
            "DUE TO TIME LIMIT ***",
        ),
    ),
    Line(
        "time-limit-other",
        "time_limit",
        ("slurmstepd-gpu3: error: *** JOB 88 ON gpu3 CANCELLED DUE TO TIME LIMIT ***",),
    ),
    Line(
        "slurm-preemption",
        "cancelled",
        (
            "slurmstepd: error: *** JOB 55120 ON a0311 CANCELLED AT 2025-11-02T01:12:40 DUE TO "
            "PREEMPTION ***",
        ),
    ),
    Line(
        "job-requeued",
        "cancelled",
        (
            "slurmstepd: error: *** JOB 7004 ON r2n18 CANCELLED AT 2022-08-14T16:40:02 DUE TO "
            "JOB REQUEUE ***",
        ),
    ),
    Line(
        "slurm-job-cancelled",
        "cancelled",
        (
            "slurmstepd: error: *** JOB 120034 ON node-b12 CANCELLED AT 2025-06-06T06:06:06 "
            "DUE to SIGNAL Terminated ***",
        ),
    ),
    Line(
        "slurm-job-cancelled",
        "cancelled",
        ("slurmstepd: error: *** JOB 9 ON lnx01 CANCELLED AT 2021-03-03T12:00:00 ***",),
    ),
    Line(
        "slurm-step-cancelled",
        "cancelled",
        ("slurmstepd: error: *** STEP 441.2 ON hpc-07 CANCELLED AT 2024-02-29T23:59:58 ***",),
    ),
    Line(
        "slurm-task-failure",
        "unknown",
        (
            "slurmstepd: error: *** STEP 610.0 ON tc12 CANCELLED AT 2025-09-09T10:10:10 DUE TO "
            "TASK FAILURE ***",
        ),
    ),
    Line(
        "slurm-task-failure",
        "unknown",
        (
            "slurmstepd: error: *** STEP 610.1 ON tc12 FAILED (non-zero exit code or other "
            "failure mode) ***",
        ),
    ),
    Line(
        "slurm-node-failure",
        "node_failure",
        (
            "slurmstepd: error: *** JOB 31 ON sm-2 CANCELLED AT 2020-12-01T01:02:03 DUE TO NODE "
            "FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***",
        ),
    ),
    Line("node-failure-other", "node_failure", ("srun: error: Node failure on gpu-c4",)),
    Line("slurm-node-setup", "node_failure", ("salloc: Prolog failure on node rome-113",)),
    Line(
        "slurm-node-setup", "node_failure", ("srun: error: Nodes cloud-[3-6] are still not ready",)
    ),
    Line(
        "slurm-node-setup",
        "node_failure",
        ("salloc: error: Something is wrong with the boot of the nodes.",),
    ),
    Line(
        "slurm-oom-kill",
        "out_of_memory",
        (
            "slurmstepd: error: Detected 3 oom_kill events in StepId=88120.batch. Some of the "
            "step tasks have been OOM Killed.",
        ),
    ),
    Line(
        "slurm-oom-kill",
        "out_of_memory",
        (
            "slurmstepd: error: Detected 2 oom-kill event(s) in StepId=77.0 cgroup. Some of your "
            "processes may have been killed by the cgroup out-of-memory handler.",
        ),
    ),
    Line(
        "slurm-oom-kill",
        "out_of_memory",
        (
            "slurmstepd: error: StepId=4411.3 exceeded memory limit (17179869185 > 17179869184), "
            "being killed",
        ),
    ),
    Line("srun-task-oom", "out_of_memory", ("srun: error: bigmem02: tasks 4-7: Out Of Memory",)),
    Line("srun-task-oom", "out_of_memory", ("srun: error: cn9: task 12: Out Of Memory",)),
    Line(
        "srun-task-oom",
        "out_of_memory",
        (
            "[812311.402] Memory cgroup out of memory: Killed process 33012 (julia) total-vm:"
            "9123400kB",
        ),
    ),
    Line(
        "srun-task-oom",
        "out_of_memory",
        ("Out of memory: Killed process 2210 (R) total-vm:40212kB, anon-rss:39000kB",),
    ),
    Line(
        "srun-task-oom",
        "out_of_memory",
        (
            "0.512s: flux-shell[1]: ERROR: oom: Memory cgroup out of memory: killed 2 tasks on "
            "fluke27.",
        ),
    ),
    Line(
        "slurm-execve",
        "missing_module",
        ("slurmstepd: error: execve(): mdrun_mpi: No such file or directory",),
    ),
    Line(
        "srun-mpi-plugin",
        "mpi_error",
        ("srun: error: cannot create mpi context for mpi/pmix_v5",),
    ),
    Line(
        "srun-mpi-plugin",
        "mpi_error",
        (
            "slurmstepd: error: mpi/pmix_v4: pmixp_coll_ring_reset_if_to: n31 [0]: "
            "pmixp_coll_ring.c:742: 0x1525a0015d30: collective timeout seq=0",
        ),
    ),
    Line(
        "srun-launch",
        "mpi_error",
        ("srun: error: timeout waiting for task launch, started 0 of 96 tasks",),
    ),
    Line(
        "srun-launch",
        "mpi_error",
        (
            "srun: error: Task launch for StepId=5060.0 failed on node q17: Invalid node name "
            "specified",
        ),
    ),
    Line(
        "working-directory",
        "file_error",
        (
            "slurmstepd: error: couldn't chdir to `/lustre/proj9/run42': No such file or "
            "directory: going to /tmp instead",
        ),
    ),
    Line("srun-task-exit", "unknown", ("srun: error: cx17: tasks 0-1: Exited with exit code 7",)),
    Line(
        "slurm-error",
        "unknown",
        (
            "sbatch: error: Batch job submission failed: Invalid account or account/partition "
            "combination specified",
        ),
    ),
    # -- PBS Pro, Torque, Moab --------------------------------------------------------------
    Line("pbs-walltime", "time_limit", ("=>> PBS: job killed: walltime 7260 exceeded limit 7200",)),
    Line("pbs-walltime", "time_limit", ("=>> PBS: job killed: cput 90061 exceeded limit 90000",)),
    Line(
        "pbs-memory",
        "out_of_memory",
        ("=>> PBS: job killed: mem 33554944kb exceeded limit 33554432kb",),
    ),
    Line(
        "pbs-memory",
        "out_of_memory",
        ("=>> PBS: job killed: vmem 5368709121 exceeded limit 5368709120",),
    ),
    Line(
        "pbs-memory",
        "out_of_memory",
        ("=>> PBS: job killed: mem job total 4400000 kb exceeded limit 4194304 kb",),
    ),
    Line("pbs-memory", "out_of_memory", ("=>> PBS: job killed: pvmem exceeded limit 2147483648",)),
    Line(
        "pbs-killed-other",
        "unknown",
        ("=>> PBS: job killed: ncpus 9.3 exceeded limit 8 (sum)",),
    ),
    Line(
        "working-directory",
        "file_error",
        ("PBS: chdir to '/home/q/missing_dir' failed: No such file or directory",),
    ),
    Line("moab-wallclock", "time_limit", ("MOAB_INFO:  job exceeded wallclock limit",)),
    # -- LSF ------------------------------------------------------------------------------
    Line(
        "lsf-runlimit",
        "time_limit",
        (
            "TERM_RUNLIMIT: job killed after reaching LSF run time limit.",
            "Exited with exit code 140.",
        ),
    ),
    Line(
        "lsf-runlimit",
        "time_limit",
        ("TERM_CPULIMIT: job killed after reaching LSF CPU usage limit.",),
    ),
    Line(
        "lsf-memlimit",
        "out_of_memory",
        (
            "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit.",
            "Exited with exit code 130.",
        ),
    ),
    Line(
        "lsf-memlimit",
        "out_of_memory",
        ("TERM_SWAP: job killed after reaching LSF swap usage limit.",),
    ),
    Line(
        "lsf-killed",
        "cancelled",
        ("TERM_OWNER: job killed by owner.", "Exited with exit code 130."),
    ),
    Line("lsf-killed", "cancelled", ("TERM_ADMIN: job killed by root or LSF administrator.",)),
    Line("slurm-preemption", "cancelled", ("TERM_PREEMPT: job killed after preemption.",)),
    Line(
        "job-requeued",
        "cancelled",
        ("TERM_REQUEUE_ADMIN: job killed and requeued by root or LSF administrator.",),
    ),
    Line("lsf-host-lost", "node_failure", ("TERM_REMOVE_HUNG_JOB: job removed from LSF system",)),
    Line(
        "working-directory",
        "file_error",
        (
            "TERM_CWD_NOTEXIST: current working directory not accessible or does not exist on "
            "the execution host",
        ),
    ),
    # -- Grid Engine, Flux ------------------------------------------------------------------
    Line(
        "sge-wallclock",
        "time_limit",
        ("job 90211.3 exceeded hard wallclock time - initiate terminate method",),
    ),
    Line(
        "sge-wallclock",
        "time_limit",
        (
            'job 6021 exceeds job hard limit "h_rt" of queue "long.q@n044" (86405.00000 > '
            "limit:86400.00000) - sending SIGKILL",
        ),
    ),
    Line(
        "sge-memory",
        "out_of_memory",
        (
            'job 6022 exceeds job hard limit "h_vmem" of queue "all.q@c12" (8589934593.00000 > '
            "limit:8589934592.00000) - sending SIGKILL",
        ),
    ),
    Line(
        "flux-timeout",
        "time_limit",
        ("7201.044s: job.exception fVt8Hq2R type=timeout severity=0 resource allocation expired",),
    ),
    Line(
        "flux-cancel",
        "cancelled",
        ("12.500s: job.exception f3bKx9 type=cancel severity=0 canceled by user",),
    ),
    # -- Open MPI, MPICH, Intel MPI, PMI ----------------------------------------------------
    Line(
        "mpi-startup",
        "mpi_error",
        (
            "*** The MPI_Comm_size() function was called before MPI_INIT was invoked.",
            "*** This is disallowed by the MPI standard.",
        ),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        (
            "[c3:77120] *** An error occurred in MPI_Init_thread",
            "[c3:77120] *** on a NULL communicator",
        ),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        (
            'The application appears to have been direct launched using "srun",',
            "but OMPI was not built with SLURM's PMI support and therefore cannot",
        ),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        (
            "It looks like MPI_INIT failed for some reason; your parallel process is",
            "likely to abort.",
        ),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        ("[cn5:01122] OPAL ERROR: Unreachable in file pmix3x_client.c at line 112",),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        ("[gpu2:33001] PMIX ERROR: NOT-FOUND in file dstore_base.c at line 1866",),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        ("PMII_singinit: execv failed: No such file or directory",),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        (
            "Abort(1614991) on node 3 (rank 3 in comm 0): Fatal error in internal_Init: Other "
            "MPI error, error stack:",
        ),
    ),
    Line(
        "mpi-startup",
        "mpi_error",
        (
            "MPI startup(): PMI server not found. Please set I_MPI_PMI_LIBRARY variable if it is "
            "not a singleton case.",
        ),
    ),
    Line("mpi-err-code", "mpi_error", ("[n9:2301] *** MPI_ERR_TRUNCATE: message truncated",)),
    Line(
        "mpi-abort",
        "mpi_error",
        ("MPI_ABORT was invoked on rank 5 in communicator MPI_COMM_WORLD",),
    ),
    Line(
        "mpi-abort",
        "mpi_error",
        (
            "Abort(17) on node 2 (rank 2 in comm 0): application called MPI_Abort(MPI_COMM_WORLD,"
            " 17) - process 2",
        ),
    ),
    Line(
        "mpi-launch",
        "mpi_error",
        ("prterun was unable to find the specified executable file, and therefore did not",),
    ),
    Line(
        "mpi-launch",
        "mpi_error",
        ("=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES",),
    ),
    Line(
        "hydra-execvp",
        "missing_module",
        (
            "[proxy:0:0@node-a1] HYDU_create_process (lib/utils/launch.c:73): execvp error on file "
            "./lbm3d (No such file or directory)",
        ),
    ),
    Line(
        "mpi-orte",
        "mpi_error",
        (
            "[mpiexec@login2] HYDT_bscu_wait_for_completion (tools/bootstrap/utils/bscu_wait.c:76)"
            ": one of the processes terminated badly; aborting",
        ),
    ),
    Line(
        "mpirun-nonzero",
        "mpi_error",
        (
            "prterun noticed that process rank 6 with PID 90210 on node x1000c0s1 exited on "
            "signal 15 (Terminated).",
        ),
    ),
    Line(
        "mpirun-nonzero",
        "mpi_error",
        (
            "mpirun has exited due to process rank 2 with PID 0 on",
            'node r3 calling "abort". This may have caused other processes',
        ),
    ),
    Line(
        "mpi-primary-job",
        "mpi_error",
        ("Primary job  terminated normally, but 2 processes returned",),
    ),
    # -- NCCL, CUDA, torch.distributed, TensorFlow, JAX -------------------------------------
    Line(
        "nccl-warn",
        "gpu_error",
        (
            "gpu-n4:5521:5609 [1] misc/socket.cc:484 NCCL WARN socketStartConnect: Connect to "
            "10.3.7.21<40221> failed : Connection refused",
        ),
    ),
    Line(
        "nccl-warn",
        "gpu_error",
        ("dgx7:9931:9931 [3] NCCL WARN Call to connect failed : Connection timed out",),
    ),
    Line(
        "gpu-line",
        "gpu_error",
        (
            "[rank2]: NCCL error in: /opt/torch/csrc/ProcessGroupNCCL.cpp:2011, unhandled system "
            "error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5",
        ),
    ),
    Line(
        "gpu-line",
        "gpu_error",
        (
            "2024-05-05 10:00:00.000 E external/xla/cuda_driver.cc:282] failed call to cuInit: "
            "CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected",
        ),
    ),
    Line(
        "gpu-line",
        "gpu_error",
        ("CUDA error: all CUDA-capable devices are busy or unavailable",),
    ),
    Line(
        "gpu-line",
        "gpu_error",
        ("NVRM: Xid (PCI:0000:3b:00): 79, pid=1121, GPU has fallen off the bus.",),
    ),
    Line(
        "bad-alloc",
        "out_of_memory",
        (
            "2024-05-05 10:00:01.4 W tensorflow/tsl/framework/bfc_allocator.cc:296] failed to "
            "allocate 3.2G (3435973836 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
            "Aborted (core dumped)",
        ),
    ),
    Line(
        "bad-alloc",
        "out_of_memory",
        ("gpu9:101:101 [0] include/alloc.h:48 NCCL WARN Cuda failure 2 'out of memory'",),
    ),
    Line(
        "torch-elastic-failed",
        "unknown",
        (
            "E0101 12:00:00.123 torch/distributed/elastic/multiprocessing/api.py:869] failed "
            "(exitcode: 1) local_rank: 2 (pid: 44512) of binary: /opt/venv/bin/python3",
        ),
    ),
    Line(
        "killed",
        "out_of_memory",
        ("  traceback : Signal 9 (SIGKILL) received by PID 31337",),
    ),
    _tb(
        "torch.distributed.DistBackendError: NCCL error in: /src/ProcessGroupNCCL.cpp:1970, "
        "remote process exited or there was a network error",
        rule="exc-gpu",
        category="gpu_error",
    ),
    _tb(
        "RuntimeError: Unknown backend: 'gpu' requested, but no platforms that are instances of "
        "gpu are present.",
        rule="exc-gpu",
        category="gpu_error",
    ),
    _tb(
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying "
        "to allocate 17179869184 bytes.",
        rule="exc-memory",
        category="out_of_memory",
    ),
    _tb(
        "RuntimeError: DataLoader worker (pid 8121) is killed by signal: Killed.",
        rule="exc-memory",
        category="out_of_memory",
    ),
    _tb(
        "RuntimeError: DataLoader worker (pid 8122) is killed by signal: Segmentation fault.",
        rule="exc-native-signal",
        category="segfault",
    ),
    _tb("KeyError: 'SLURM_LOCALID'", rule="exc-launcher-env", category="mpi_error"),
    _tb(
        "ValueError: Error initializing torch.distributed using env:// rendezvous: environment "
        "variable WORLD_SIZE expected, but not set",
        rule="exc-launcher-env",
        category="mpi_error",
    ),
    _tb(
        "mpi4py.MPI.Exception: MPI_ERR_TAG: invalid tag",
        rule="exc-mpi",
        category="mpi_error",
    ),
    _tb(
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:",
        rule="exc-child-failed",
        category="unknown",
    ),
    # -- Python's own messages --------------------------------------------------------------
    _tb(
        "ImportError: libmpi.so.12: cannot open shared object file: No such file or directory",
        rule="exc-import",
        category="missing_module",
    ),
    _tb(
        "OSError: libcublasLt.so.11: cannot open shared object file: No such file or directory",
        rule="exc-import",
        category="missing_module",
    ),
    _tb(
        "BlockingIOError: [Errno 11] Unable to synchronously create file (unable to lock file, "
        "errno = 11, error message = 'Resource temporarily unavailable')",
        rule="exc-file",
        category="file_error",
    ),
    _tb("SyntaxError: invalid syntax", rule="exc-syntax", category="syntax_error"),
    _tb(
        "ImportError: cannot import name 'Grid' from partially initialized module 'mesh' "
        "(most likely due to a circular import) (/w/mesh/__init__.py)",
        rule="exc-circular-import",
        category="python_exception",
    ),
    _tb("KeyboardInterrupt", rule="exc-keyboard-interrupt", category="cancelled"),
    _tb("ZeroDivisionError: float division by zero", rule="exc-any", category="python_exception"),
    # -- native crashes, Fortran, glibc, the kernel -----------------------------------------
    Line(
        "sigsegv",
        "segfault",
        ("Program received signal SIGSEGV: Segmentation fault - invalid memory reference.",),
    ),
    Line(
        "sigsegv",
        "segfault",
        ("forrtl: severe (174): SIGSEGV, segmentation fault occurred",),
    ),
    Line(
        "sigsegv",
        "segfault",
        (
            "[4432.118] lammps[2231]: segfault at 18 ip 00007f3a1c2b0e31 sp 00007ffc3a1b8d40 "
            "error 4 in liblammps.so[7f3a1c000000+2000000]",
        ),
    ),
    Line("sigsegv", "segfault", ("srun: error: hpc-k2: task 5: Bus error (core dumped)",)),
    Line("sigsegv", "segfault", ("srun: error: n12: task 0: Illegal instruction",)),
    Line(
        "glibc-abort",
        "segfault",
        ("*** stack smashing detected ***: terminated", "Aborted (core dumped)"),
    ),
    Line("glibc-abort", "segfault", ("double free or corruption (!prev)",)),
    Line("glibc-abort", "segfault", ("munmap_chunk(): invalid pointer",)),
    Line(
        "c-assert",
        "segfault",
        ("wave: grid.cpp:212: void Grid::step(): Assertion `dt > 0' failed.",),
    ),
    Line("fatal-python-error", "segfault", ("Fatal Python error: Bus error",)),
    Line(
        "sigabrt",
        "segfault",
        (
            "Program received signal SIGFPE: Floating-point exception - "
            "erroneous arithmetic operation.",
        ),
    ),
    Line(
        "bad-alloc",
        "out_of_memory",
        ("Operating system error: Cannot allocate memory", "Allocation would exceed memory limit"),
        1,
    ),
    Line("bad-alloc", "out_of_memory", ("forrtl: severe (41): insufficient virtual memory",)),
    Line(
        "fortran-file",
        "file_error",
        (
            "At line 31 of file io.f90 (unit = 12)",
            "Fortran runtime error: Cannot open file 'grid.nml': No such file or directory",
        ),
        1,
    ),
    Line(
        "fortran-file",
        "file_error",
        ("forrtl: severe (29): file not found, unit 8, file /work/t2/fort.8",),
    ),
    Line(
        "fortran-error",
        "unknown",
        ("Fortran runtime error: Index '11' of dimension 1 of array 'u' above upper bound of 10",),
    ),
    Line(
        "fortran-error",
        "unknown",
        ("forrtl: severe (151): allocatable array is already allocated",),
    ),
    # -- module systems, environments, loaders, shells --------------------------------------
    Line(
        "lmod-unknown",
        "missing_module",
        (
            "Lmod has detected the following error:  The following module(s) are unknown:",
            '"netcdf-fortran/9.1"',
        ),
    ),
    Line(
        "lmod-unknown",
        "missing_module",
        (
            "Lmod has detected the following error: These module(s) or extension(s) exist but "
            'cannot be loaded as requested: "hdf5/1.14.9"',
        ),
    ),
    Line(
        "lmod-unknown",
        "missing_module",
        ('Cannot load module "py-torch/2.1" without these module(s) loaded:',),
    ),
    Line(
        "lmod-unknown",
        "missing_module",
        ("ERROR: Unable to locate a modulefile for 'openmpi/9.9'",),
    ),
    Line(
        "environment-setup",
        "missing_module",
        ("CondaError: Run 'conda init' before 'conda activate'",),
    ),
    Line(
        "environment-setup",
        "missing_module",
        (
            "CommandNotFoundError: Your shell has not been properly configured to use 'conda "
            "activate'.",
        ),
    ),
    Line(
        "environment-setup",
        "missing_module",
        ("EnvironmentNameNotFound: Could not find conda environment: cryo-2",),
    ),
    Line(
        "environment-setup",
        "missing_module",
        ("/var/spool/slurm/d/job4040/slurm_script: line 6: conda: command not found",),
    ),
    Line(
        "environment-setup",
        "missing_module",
        ("/var/spool/pbs/mom_priv/jobs/211.pbs01.SC: 9: module: not found",),
    ),
    Line(
        "environment-setup",
        "missing_module",
        (
            "/var/spool/slurm/d/job4041/slurm_script: line 8: /home/e/envs/fit/bin/activate: No "
            "such file or directory",
        ),
    ),
    Line(
        "environment-setup",
        "missing_module",
        ("/var/spool/slurm/d/job4042/slurm_script: 7: .: Can't open /home/e/venv/bin/activate",),
    ),
    Line(
        "shared-library",
        "missing_module",
        (
            "ImportError: libhdf5_serial.so.103: cannot open shared object file: No such file or "
            "directory",
        ),
    ),
    Line(
        "shared-library",
        "missing_module",
        (
            "/opt/apps/vasp_std: error while loading shared libraries: libmkl_intel_lp64.so.2: "
            "cannot open shared object file: No such file or directory",
        ),
    ),
    Line("no-module-line", "missing_module", ("/usr/bin/python3.9: No module named scanpy",)),
    Line("command-not-found", "missing_module", ("./go.sh: line 12: gmx_mpi: command not found",)),
    Line(
        "shell-syntax",
        "syntax_error",
        ("/var/spool/slurm/d/job9/slurm_script: line 14: syntax error near unexpected token `fi'",),
    ),
    Line("killed", "out_of_memory", ("srun: error: fat03: task 1: Killed",)),
    Line(
        "hdf5-lock",
        "file_error",
        (
            "    major: File accessibility",
            "    minor: Unable to lock file, errno = 11",
            "HDF5-DIAG: unable to lock file, errno = 11, error message = 'Resource temporarily "
            "unavailable'",
        ),
        2,
    ),
    Line(
        "file-line",
        "file_error",
        (
            "/usr/bin/python3: can't open file '/work/xq/train_v9.py': [Errno 2] No such file or "
            "directory",
        ),
    ),
    Line("error-prefix", "unknown", ("Error: the mesh has 0 cells after refinement",)),
    Line("error-level", "unknown", ("[2025-01-01 00:00:07] CRITICAL optimizer diverged",)),
    Line("exit-code", "unknown", ("postprocess finished with exit status 4",)),
    Line(
        "adaptive-runner-failed",
        "unknown",
        ('{"event": "job finished", "status": "failed", "job": 12}',),
    ),
    Line(
        "terminated",
        "unknown",
        ("/var/spool/slurm/d/job5/slurm_script: line 4:  8812 Terminated              ./md_run",),
    ),
)


@pytest.mark.parametrize("entry", CATALOGUE, ids=[f"{e.rule}-{i}" for i, e in enumerate(CATALOGUE)])
def test_catalogue_line(entry: Line) -> None:
    result = triage_text(entry.text)
    assert result.category == entry.category, result.notes
    assert result.key_line == entry.lines[entry.key]
    rule = next(r for r in RULES if r.name == entry.rule)
    if rule.scope == "line":
        found = match_line(entry.lines[entry.key])
        assert found is not None and found.name == rule.name
        assert not rule.keywords or any(k in entry.text.lower() for k in rule.keywords)
    else:
        parsed = parse_exception_line(entry.lines[entry.key])
        assert parsed is not None
        _name, qualified, message = parsed
        assert match_exception(qualified, message).name == rule.name


LSF_REPORT = """Sender: LSF System <lsfadmin@hpc-m1>
Subject: Job 4242: <fit_all> in cluster <c7> Done

Job <fit_all> was submitted from host <login3> by user <ana> in cluster <c7> at Mon Jan  8
------------------------------------------------------------

Successfully completed.

Resource usage summary:

    CPU time :                                   12.00 sec.
    Max Memory :                                 100 MB

The output (if any) follows:

fit done: chi2=1.02
"""


def test_the_lsf_job_report_of_a_job_that_succeeded_or_exited() -> None:
    assert triage_text(LSF_REPORT).category == "none"
    failed = LSF_REPORT.replace("Successfully completed.", "Exited with exit code 3.")
    result = triage_text(failed)
    assert result.category == "unknown" and result.key_line == "Exited with exit code 3."


def test_an_nccl_warning_that_ends_like_a_file_error_stays_nccl() -> None:
    line = "n3:1:1 [0] misc/shmutils.cc:72 NCCL WARN Error: failed to open /dev/shm/nccl-x1: No such file or directory"
    assert triage_text(line + "\n").category == "gpu_error"


def test_every_rule_has_a_catalogue_line() -> None:
    assert {r.name for r in RULES} <= {e.rule for e in CATALOGUE}
