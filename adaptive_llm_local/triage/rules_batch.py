"""Rules for what batch systems print: SLURM, PBS Pro/Torque/Moab, LSF, Grid Engine, Flux.

Each rule cites the message it was written from (``%s`` and friends are the
placeholders of the tool's own format string); the test lines in
``tests/test_triage_catalogue.py`` fill them with other values.
"""

from __future__ import annotations

from adaptive_llm_local.triage.rule import Rule

# slurmstepd req.c (20.11-25.x): "*** %s ON %s CANCELLED AT %s[ DUE TO ...] ***",
# entity "JOB %u" (batch step) or "STEP %u.%u"
_SLURM_JOB = r"\*\*\* JOB \S+ (?:ON \S+ )?CANCELLED AT \S+"
_SLURM_STEP = r"\*\*\* STEP \S+ (?:ON \S+ )?CANCELLED AT \S+"
# 25.05: "... CANCELLED AT %s DUE TO TASK FAILURE ***" is srun's kill after a failed task
_NOT_TASK_FAILURE = r"(?!\S)(?! DUE TO TASK FAILURE)"
TIME_LIMIT = "SLURM: job cancelled due to time limit"
NODE_FAILURE = "SLURM: job killed by a node failure"
OOM_KILL = "out-of-memory killer stopped the job (memory limit exceeded)"
_CANCELLED = "batch system: job cancelled"

# -- how the job ended: a verdict that yields to a cause printed before it -----------------
ENDINGS: tuple[Rule, ...] = (
    Rule(
        "slurm-job-time-limit",
        "time_limit",
        100,
        rf"{_SLURM_JOB} DUE TO TIME LIMIT",
        summary=TIME_LIMIT,
        keywords=("time limit",),
        ends="job",
    ),
    Rule(
        "slurm-step-time-limit",
        "time_limit",
        99,
        rf"{_SLURM_STEP} DUE TO TIME LIMIT",
        summary=TIME_LIMIT,
        keywords=("time limit",),
        ends="job",
    ),
    Rule(
        "time-limit-other",
        "time_limit",
        98,
        r"DUE TO TIME LIMIT",
        summary=TIME_LIMIT,
        keywords=("time limit",),
        ends="job",
    ),
    # PBS Pro mom_main.c and Torque mom_main.c: "=>> PBS: job killed: %s" with
    # "walltime %lu exceeded limit %lu" or "cput %lu exceeded limit %lu"
    Rule(
        "pbs-walltime",
        "time_limit",
        98,
        r"PBS: job killed: (?:walltime|cput) \d+ exceeded limit \d+",
        summary=TIME_LIMIT,
        keywords=("walltime", "cput"),
        ends="job",
    ),
    # Moab (mail and job output): "MOAB_INFO:  job exceeded wallclock limit"
    Rule(
        "moab-wallclock",
        "time_limit",
        98,
        r"\bjob exceeded wallclock limit\b",
        summary=TIME_LIMIT,
        keywords=("wallclock",),
        ends="job",
    ),
    # LSF termination reasons (bacct/bjobs -l, the job report): TERM_RUNLIMIT "job
    # killed after reaching LSF run time limit", TERM_CPULIMIT, TERM_DEADLINE
    Rule(
        "lsf-runlimit",
        "time_limit",
        98,
        r"\bTERM_(?:RUNLIMIT|CPULIMIT|DEADLINE)\b",
        summary=TIME_LIMIT,
        keywords=("term_runlimit", "term_cpulimit", "term_deadline"),
        ends="job",
    ),
    # Grid Engine execd (msg_execd.h): "job %u.%u exceeded hard wallclock time - initiate
    # terminate method", "job %u exceeds job hard limit "%s" of queue "%s" (%8.5f >
    # limit:%8.5f) - sending SIGKILL" with h_rt or h_cpu
    Rule(
        "sge-wallclock",
        "time_limit",
        98,
        r"exceeded hard wallclock time|exceeds job hard limit \"?[hs]_(?:rt|cpu)\b",
        summary=TIME_LIMIT,
        keywords=("wallclock", "hard limit"),
        ends="job",
    ),
    # Flux attach.c: "%.3fs: job.exception %s type=%s severity=%d %s"; the timeout note
    # is "resource allocation expired"
    Rule(
        "flux-timeout",
        "time_limit",
        98,
        r"job\.exception \S+ type=timeout\b|resource allocation expired",
        summary=TIME_LIMIT,
        keywords=("type=timeout", "allocation expired"),
        ends="job",
    ),
    Rule(
        "slurm-preemption",
        "cancelled",
        97,
        r"DUE TO PREEMPTION|\bPREEMPTED\b|\bTERM_PREEMPT\b",
        summary="SLURM: job preempted",
        keywords=("preempt",),
        ends="job",
    ),
    # slurmstepd: "... CANCELLED AT %s DUE TO JOB REQUEUE ***"; LSF TERM_REQUEUE_OWNER,
    # TERM_REQUEUE_ADMIN ("job killed and requeued by owner / root or LSF administrator")
    Rule(
        "job-requeued",
        "cancelled",
        97,
        r"DUE TO JOB REQUEUE|\bTERM_REQUEUE_(?:OWNER|ADMIN)\b",
        summary="batch system: job requeued",
        keywords=("requeue",),
        ends="job",
    ),
    Rule(
        "slurm-job-cancelled",
        "cancelled",
        95,
        _SLURM_JOB + _NOT_TASK_FAILURE,
        summary="SLURM: job cancelled",
        keywords=("cancelled at",),
        ends="job",
    ),
    Rule(
        "slurm-step-cancelled",
        "cancelled",
        94,
        _SLURM_STEP + _NOT_TASK_FAILURE,
        summary="SLURM: job cancelled",
        keywords=("cancelled at",),
        ends="step",
    ),
    # LSF: TERM_OWNER "job killed by owner", TERM_ADMIN "by root or LSF administrator",
    # TERM_FORCE_OWNER/ADMIN (without time for cleanup), TERM_BUCKET_KILL (bkill -b),
    # TERM_EXTERNAL_SIGNAL, TERM_WINDOW (queue run window closed), TERM_MC_RECALL
    Rule(
        "lsf-killed",
        "cancelled",
        95,
        r"\bTERM_(?:OWNER|ADMIN|FORCE_OWNER|FORCE_ADMIN|BUCKET_KILL|EXTERNAL_SIGNAL|WINDOW"
        r"|MC_RECALL)\b",
        summary=_CANCELLED,
        keywords=("term_",),
        ends="job",
    ),
    # Flux: "job.exception %s type=cancel severity=0 ..." (flux cancel)
    Rule(
        "flux-cancel",
        "cancelled",
        95,
        r"job\.exception \S+ type=cancel\b",
        summary=_CANCELLED,
        keywords=("type=cancel",),
        ends="job",
    ),
)

# -- the node, and the batch system's memory kills: causes themselves ---------------------
NODES_AND_MEMORY: tuple[Rule, ...] = (
    Rule(
        "slurm-node-failure",
        "node_failure",
        100,
        r"DUE TO NODE FAILURE",
        summary=NODE_FAILURE,
        keywords=("node failure",),
    ),
    Rule(
        "node-failure-other",
        "node_failure",
        99,
        r"\bNODE_FAIL\b|\b[Nn]ode failure\b",
        summary=NODE_FAILURE,
        keywords=("node_fail", "node failure"),
    ),
    # slurmd req.c: "Prolog failure on node %s" (relayed by srun/salloc/sbatch);
    # srun/salloc allocate.c: "Nodes %s are still not ready", "Something is wrong with
    # the boot of the nodes." (cloud and powered-down nodes that never came up)
    Rule(
        "slurm-node-setup",
        "node_failure",
        96,
        r"Prolog failure on node \S+|Nodes \S+ are still not ready"
        r"|Something is wrong with the boot of the nodes",
        summary="SLURM: the node could not be set up for the job",
        keywords=("prolog failure", "not ready", "boot of the nodes"),
    ),
    # LSF: TERM_ZOMBIE, TERM_REMOVE_HUNG_JOB (host unreachable, job removed)
    Rule(
        "lsf-host-lost",
        "node_failure",
        97,
        r"\bTERM_(?:ZOMBIE|REMOVE_HUNG_JOB)\b",
        summary=NODE_FAILURE,
        keywords=("term_zombie", "term_remove_hung_job"),
    ),
    # task_cgroup_memory.c: 20.11-22.05 "Detected %lu oom-kill event(s) in %ps. Some of
    # your processes may have been killed by the cgroup out-of-memory handler.", 23.02+
    # "Detected %lu oom_kill event%s in %ps. Some of the step tasks have been OOM Killed.";
    # jobacct_gather: "%ps exceeded memory limit (%lu > %lu), being killed",
    # "Exceeded job memory limit"
    Rule(
        "slurm-oom-kill",
        "out_of_memory",
        90,
        r"Detected \d+ oom[-_]kill event|oom[-_]kill event|Exceeded (?:job|step) memory limit"
        r"|exceeded memory limit \(\d+ > \d+\)",
        summary=OOM_KILL,
        keywords=("oom", "memory limit"),
    ),
    # srun launch.c: "%s: %s %s: Out Of Memory" (hosts, "task"/"tasks", task list);
    # the kernel: "Out of memory: Killed process %d (%s)", "Memory cgroup out of memory:
    # Killed process ...", "oom-kill:constraint=..."; Flux shell oom.c: "Memory cgroup out
    # of memory: killed %lu task%s on %s."
    Rule(
        "srun-task-oom",
        "out_of_memory",
        89,
        r"tasks? [\d,\-\[\]]+: Out Of Memory|Out of memory: Kill(?:ed)? process"
        r"|[Mm]emory cgroup out of memory|\boom-kill:constraint=",
        summary=OOM_KILL,
        keywords=("out of memory", "oom-kill"),
    ),
    # PBS Pro: "mem %lukb exceeded limit %lukb", "vmem %lukb exceeded limit %lukb";
    # Torque: "mem %lu exceeded limit %lu", "vmem ...", "pvmem exceeded limit %lu",
    # "%s job total %lu %s exceeded limit %lu %s"; all after "=>> PBS: job killed: "
    Rule(
        "pbs-memory",
        "out_of_memory",
        90,
        r"PBS: job killed: p?v?mem\b",
        summary=OOM_KILL,
        keywords=("pbs: job killed",),
    ),
    # LSF: TERM_MEMLIMIT "job killed after reaching LSF memory usage limit", TERM_SWAP
    Rule(
        "lsf-memlimit",
        "out_of_memory",
        90,
        r"\bTERM_(?:MEMLIMIT|SWAP)\b",
        summary=OOM_KILL,
        keywords=("term_memlimit", "term_swap"),
    ),
    # Grid Engine: "exceeds job hard limit "h_vmem" of queue ..." (also h_rss, h_data)
    Rule(
        "sge-memory",
        "out_of_memory",
        90,
        r"exceeds job hard limit \"?h_(?:vmem|rss|data)\b",
        summary=OOM_KILL,
        keywords=("hard limit",),
    ),
)

# -- what the batch system says about starting the job's processes ----------------------
LAUNCH: tuple[Rule, ...] = (
    # slurmstepd mgr.c: "execve(): %s: %m", "execve(): bad interpreter(%s): %m"
    Rule(
        "slurm-execve",
        "missing_module",
        63,
        r"execve\(\): (?:bad interpreter\([^)\n]{1,300}\): )?\S{1,300}: No such file or directory",
        keywords=("execve",),
    ),
    # srun: "cannot create %s context for %s" (mpi plugin), and the mpi/pmi2, mpi/pmix
    # plugins' own errors ("mpi/pmix_v4: pmixp_...: ...")
    Rule(
        "srun-mpi-plugin",
        "mpi_error",
        59,
        r"^(?:srun|slurmstepd[\w-]{0,60}): error: (?:cannot create mpi context|mpi/pmi)",
        keywords=("mpi context", "mpi/pmi"),
    ),
    # step_launch.c: "timeout waiting for task launch, started %d of %d tasks";
    # srun launch.c: "Task launch for %ps failed on node %s: %m", "Application launch
    # failed: %m"
    Rule(
        "srun-launch",
        "mpi_error",
        57,
        r"timeout waiting for task launch|Task launch for \S+ failed on node"
        r"|Application launch failed",
        keywords=("task launch", "launch failed"),
    ),
    # slurmstepd mgr.c: "couldn't chdir to `%s': %m: going to /tmp instead";
    # Torque: "PBS: chdir to '%.256s' failed: %s"; LSF: TERM_CWD_NOTEXIST
    Rule(
        "working-directory",
        "file_error",
        59,
        r"couldn't chdir to [`']|PBS: chdir to \S|\bTERM_CWD_NOTEXIST\b",
        keywords=("chdir", "term_cwd_notexist"),
    ),
)

# -- failure signs without a cause ---------------------------------------------------------
SIGNS: tuple[Rule, ...] = (
    # srun launch.c: "%s: %s %s: Exited with exit code %d", "%s: %s %s: %s%s" (strsignal)
    Rule(
        "srun-task-exit",
        "unknown",
        30,
        r"^srun: error: .{0,500}(?:[Ee]xited with exit code [1-9]|tasks? [\d,\-\[\]]+: [A-Z])",
        keywords=("srun: error",),
    ),
    # slurmstepd req.c: "*** %s ON %s FAILED (non-zero exit code or other failure mode)
    # ***", 25.05 "... CANCELLED AT %s DUE TO TASK FAILURE ***"
    Rule(
        "slurm-task-failure",
        "unknown",
        30,
        r"\*\*\* (?:JOB|STEP) \S+ (?:ON \S+ )?FAILED \(|CANCELLED AT \S+ DUE TO TASK FAILURE",
        keywords=("failed (", "task failure"),
    ),
    # PBS/Torque: "=>> PBS: job killed: %s" for the other limits (ncpus, mppe, ...)
    Rule(
        "pbs-killed-other",
        "unknown",
        35,
        r"PBS: job killed: ",
        keywords=("pbs: job killed",),
    ),
    Rule(
        "slurm-error",
        "unknown",
        25,
        r"^(?:srun|sbatch|salloc|slurmstepd(?:-\S+)?|scontrol): error: ",
        keywords=(": error: ",),
    ),
)

RULES: tuple[Rule, ...] = ENDINGS + NODES_AND_MEMORY + LAUNCH + SIGNS
