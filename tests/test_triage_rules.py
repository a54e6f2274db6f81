"""Every rule of the table is reachable: one example line per rule."""

from __future__ import annotations

import pytest

from adaptive_llm_local.triage.rules import (
    EXCEPTION_RULES,
    LINE_RULES,
    Rule,
    match_exception,
    match_line,
)

LINE_EXAMPLES = {
    "slurm-job-time-limit": (
        "slurmstepd: error: *** JOB 9 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***"
    ),
    "slurm-step-time-limit": (
        "slurmstepd: error: *** STEP 9.0 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***"
    ),
    "time-limit-other": "slurmstepd: error: *** JOB 9 ON n1 CANCELLED DUE TO TIME LIMIT ***",
    "pbs-walltime": "=>> PBS: job killed: walltime 3610 exceeded limit 3600",
    "moab-wallclock": "MOAB_INFO: job exceeded wallclock limit",
    "lsf-runlimit": "TERM_RUNLIMIT: job killed after reaching LSF run time limit.",
    "sge-wallclock": "job 51.1 exceeded hard wallclock time - initiate terminate method",
    "flux-timeout": "60.002s: job.exception f2Ab type=timeout severity=0 resource allocation expired",
    "job-requeued": (
        "slurmstepd: error: *** JOB 70 ON n2 CANCELLED AT 2026-01-01T00:00:00 DUE TO JOB REQUEUE ***"
    ),
    "lsf-killed": "TERM_FORCE_OWNER: job killed by owner without time for cleanup.",
    "flux-cancel": "3.100s: job.exception f9Zq type=cancel severity=0 by owner",
    "slurm-node-setup": "srun: Prolog failure on node n42",
    "lsf-host-lost": "TERM_ZOMBIE: job killed after being in the zombie state",
    "pbs-memory": "=>> PBS: job killed: vmem 4294967297kb exceeded limit 4294967296kb",
    "lsf-memlimit": "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit.",
    "sge-memory": (
        'job 77 exceeds job hard limit "h_rss" of queue "q@n1" (2.00000 > limit:1.00000) - '
        "sending SIGKILL"
    ),
    "glibc-abort": "free(): invalid pointer",
    "nccl-warn": "n1:1:1 [0] NCCL WARN NET/Socket : No usable listening interface found",
    "mpi-startup": "*** The MPI_Comm_rank() function was called before MPI_INIT was invoked.",
    "hydra-execvp": "[proxy:0:0@n1] HYDU_create_process: execvp error on file ./a.out (No such file "
    "or directory)",
    "torch-elastic-failed": "failed (exitcode: 1) local_rank: 0 (pid: 7) of binary: /usr/bin/python3",
    "environment-setup": "EnvironmentNameNotFound: Could not find conda environment: myenv",
    "hdf5-lock": "unable to lock file, errno = 37, error message = 'No locks available'",
    "fortran-file": "Fortran runtime error: End of file",
    "slurm-execve": "slurmstepd: error: execve(): ./sim: No such file or directory",
    "srun-mpi-plugin": "srun: error: cannot create mpi context for mpi/pmi2",
    "srun-launch": "srun: error: Application launch failed: Invalid job credential",
    "working-directory": "TERM_CWD_NOTEXIST: current working directory is not accessible",
    "slurm-task-failure": "slurmstepd: error: *** STEP 1.0 ON n1 FAILED (non-zero exit code or "
    "other failure mode) ***",
    "pbs-killed-other": "=>> PBS: job killed: ncpus 4.5 exceeded limit 4 (burst)",
    "fortran-error": "forrtl: severe (408): fort: (2): Subscript #1 of the array A has value 11",
    "slurm-node-failure": (
        "slurmstepd: error: *** JOB 28 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO NODE FAILURE, "
        "SEE SLURMCTLD LOG FOR DETAILS ***"
    ),
    "node-failure-other": "srun: error: Node failure on node042",
    "slurm-preemption": (
        "slurmstepd: error: *** JOB 4 ON n1 CANCELLED AT 2025-03-04T03:12:44 DUE TO PREEMPTION ***"
    ),
    "slurm-job-cancelled": "slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2026-01-01T00:00:00 ***",
    "slurm-step-cancelled": "slurmstepd: error: *** STEP 13.0 ON n1 CANCELLED AT 2026-01-01T00:00:00 ***",
    "slurm-oom-kill": "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=15.batch.",
    "srun-task-oom": "srun: error: n1: task 0: Out Of Memory",
    "bad-alloc": "terminate called after throwing an instance of 'std::bad_alloc'",
    "fatal-python-error": "Fatal Python error: Segmentation fault",
    "sigsegv": "./run.sh: line 4: 11248 Segmentation fault      ./solver",
    "c-assert": "mesh: mesh.c:8: main: Assertion `cells > 0' failed.",
    "sigabrt": "./run.sh: line 5: 11219 Aborted                 ./nl",
    "gpu-line": "-> CUDA driver version is insufficient for CUDA runtime version",
    "no-module-line": "/usr/bin/python3: No module named mylab",
    "shared-library": (
        "./solver: error while loading shared libraries: libsolver.so: cannot open shared "
        "object file: No such file or directory"
    ),
    "lmod-unknown": "Lmod has detected the following error:  The following module(s) are unknown:",
    "command-not-found": "./run.sh: line 3: python3.99: command not found",
    "shell-syntax": "/var/spool/slurmd/job00042/slurm_script: line 9: syntax error near unexpected "
    "token `done'",
    "mpi-err-code": "[vm:07599] *** MPI_ERR_RANK: invalid rank",
    "mpi-abort": "MPI_ABORT was invoked on rank 1 in communicator MPI_COMM_WORLD",
    "mpi-launch": "mpirun was unable to launch the specified application as it could not access",
    "killed": "./run.sh: line 3: 11229 Killed                  python alloc.py",
    "file-line": "cp: error writing 'out.h5': No space left on device",
    "mpi-orte": "[vm:10320] [[17582,0],0] ORTE_ERROR_LOG: Out of resource in file show_help.c",
    "mpirun-nonzero": "mpirun detected that one or more processes exited with non-zero status, thus",
    "mpi-primary-job": "Primary job  terminated normally, but 1 process returned",
    "srun-task-exit": "srun: error: n1: task 0: Exited with exit code 3",
    "slurm-error": "srun: error: Unable to allocate resources: Requested node configuration",
    "terminated": "./run.sh: line 2: 4242 Terminated              python train.py",
    "error-prefix": "ERROR: calibration failed for channel 12",
    "adaptive-runner-failed": '{"event": "runner status changed", "status": "failed"}',
    "exit-code": "solver finished with exit code 2",
    "error-level": "2025-01-01 10:00:00 ERROR root could not converge",
}

EXCEPTION_EXAMPLES = {
    "exc-circular-import": (
        "ImportError",
        "cannot import name 'a' from partially initialized module 'm' "
        "(most likely due to a circular import) (/w/m.py)",
    ),
    "exc-syntax": ("IndentationError", "unexpected indent"),
    "exc-memory": ("numpy._core._exceptions._ArrayMemoryError", "Unable to allocate 3 GiB"),
    "exc-import": ("ImportError", "cannot import name 'loadz' from 'json'"),
    "exc-gpu": ("RuntimeError", "CUDA error: an illegal memory access was encountered"),
    "exc-file": ("OSError", "[Errno 28] No space left on device"),
    "exc-mpi": ("mpi4py.MPI.Exception", "MPI_ERR_COMM: invalid communicator"),
    "exc-keyboard-interrupt": ("KeyboardInterrupt", ""),
    "exc-any": ("__main__.ConvergenceError", "no convergence"),
    "exc-launcher-env": ("KeyError", "'SLURM_PROCID'"),
    "exc-native-signal": (
        "RuntimeError",
        "DataLoader worker (pid 3) is killed by signal: Bus error.",
    ),
    "exc-child-failed": ("torch.distributed.elastic.multiprocessing.errors.ChildFailedError", ""),
}


def test_every_rule_has_an_example() -> None:
    assert set(LINE_EXAMPLES) == {r.name for r in LINE_RULES}
    assert set(EXCEPTION_EXAMPLES) == {r.name for r in EXCEPTION_RULES}


@pytest.mark.parametrize("rule", LINE_RULES, ids=lambda r: r.name)
def test_line_rule(rule: Rule) -> None:
    example = LINE_EXAMPLES[rule.name]
    if rule.keywords:
        assert any(k in example.lower() for k in rule.keywords), "keywords miss the example"
    found = match_line(example)
    assert found is not None and found.name == rule.name


@pytest.mark.parametrize("rule", EXCEPTION_RULES, ids=lambda r: r.name)
def test_exception_rule(rule: Rule) -> None:
    qualified, message = EXCEPTION_EXAMPLES[rule.name]
    assert match_exception(qualified, message).name == rule.name
