"""What SLURM decided: time limits, cancellations, node failures."""

from __future__ import annotations

from .writer import Writer, code


def job_name(w: Writer) -> str:
    job = w.get("job_id")
    return f"job {job}" if job else "the job"


def slurm_limits(w: Writer, *fields: str) -> dict[str, str]:
    """What SLURM's records (a check) say about the job: time limit, elapsed, memory."""
    check = w.check("slurm_job")
    return {k: v for k in fields if check is not None and (v := check.detail.get(k))}


def time_limit(w: Writer) -> None:
    key = w.result.key_line or ""
    if "DUE TO TIME LIMIT" not in key:
        _other_scheduler_time_limit(w, key)
        return
    job = job_name(w)
    at = f" at {w.get('cancelled_at')}" if w.has("cancelled_at") else ""
    on = f" on node {w.get('node')}" if w.has("node") else ""
    w.fact(
        "cause",
        f"SLURM cancelled {job}{at}{on} because it reached its time limit (`DUE TO TIME LIMIT`).",
        "job_id",
        "cancelled_at",
        "node",
        key=True,
    )
    w.rule("cause", "The job ran longer than its `--time` allows, so SLURM stopped it.")
    known = slurm_limits(w, "time_limit", "elapsed")
    limit = known.get("time_limit") or w.get("time_limit")
    above = f" above {limit}" if limit else ""
    sacct = (
        f"; `sacct -j {w.get('job_id')} -o JobID,Timelimit,Elapsed,State` shows its limit "
        "and how long it ran"
        if w.has("job_id")
        else ""
    )
    w.rule(
        "fix",
        f"Raise the time limit of {job}{above} (`#SBATCH --time=`, or "
        f'`extra_scheduler=["--time=..."]` in adaptive-scheduler){sacct}.',
        "job_id",
        "time_limit",
        checks=("slurm_job",) if known else (),
    )
    _save_progress(w)


# how each batch system names its run-time limit, keyed by a word of its message
_TIME_OPTIONS = (
    ("PBS: job killed: cput", "`#PBS -l cput=`"),
    ("PBS", "`#PBS -l walltime=`"),
    ("TERM_CPULIMIT", "`#BSUB -c`"),
    ("TERM_DEADLINE", "the deadline of `bsub -t`"),
    ("TERM_", "`#BSUB -W`"),
    ("job exceeded wallclock limit", "`#PBS -l walltime=` (or `#MSUB -l walltime=`)"),
    ("wallclock time", "`-l h_rt=` in the `qsub` options"),
    ("h_rt", "`-l h_rt=` in the `qsub` options"),
    ("h_cpu", "`-l h_cpu=` in the `qsub` options"),
    ("job.exception", "`flux batch -t` (or `--time-limit`)"),
    ("allocation expired", "`flux batch -t` (or `--time-limit`)"),
)


def _other_scheduler_time_limit(w: Writer, key: str) -> None:
    """PBS/Torque (``walltime N exceeded limit M``, in seconds), Moab, LSF (``TERM_RUNLIMIT``),
    Grid Engine (``h_rt``) and Flux (``type=timeout``)."""
    pbs = "PBS" in key
    limit, used = w.get("time_limit"), w.get("elapsed")
    numbers = f": it ran {used} s against a limit of {limit} s" if pbs and limit and used else ""
    w.fact(
        "cause",
        f"The batch system stopped the job at its run-time limit ({code(key.strip())}){numbers}.",
        "time_limit",
        "elapsed",
        key=True,
    )
    above = f" above {limit} s" if pbs and limit else ""
    option = next((o for marker, o in _TIME_OPTIONS if marker in key), "the job's time request")
    w.rule("fix", f"Raise the job's run-time limit{above} ({option}).", "time_limit")
    _save_progress(w)


def _save_progress(w: Writer) -> None:
    w.rule(
        "fix",
        "Or split the work into shorter jobs and save results periodically "
        "(`save_interval`), so a job that hits the limit loses little.",
    )


def cancelled(w: Writer) -> None:
    job = job_name(w)
    if w.get("cancel_reason") == "PREEMPTION":
        w.fact(
            "cause",
            f"{job.capitalize()} was preempted at {w.get('cancelled_at')} on node "
            f"{w.get('node')}: a higher-priority job took its resources (`DUE TO "
            "PREEMPTION`).",
            "job_id",
            "cancelled_at",
            "node",
            "cancel_reason",
            key=True,
        )
        w.rule(
            "fix",
            f"Resubmit {job} with `--requeue` so SLURM requeues it after a "
            "preemption, or submit it to a partition or QOS that is not preemptible; save "
            "results periodically so a preempted job loses little.",
            "job_id",
        )
        return
    if w.get("exception") == "KeyboardInterrupt":
        where = f" while at {w.place(full=True)}" if w.has_frame else ""
        w.fact(
            "cause",
            f"The Python process received SIGINT (`KeyboardInterrupt`){where}: it was "
            "interrupted from outside (Ctrl-C, "
            "`kill -INT`, `scancel --signal=INT`); the code itself did not fail.",
            "exception",
            *w.frame_names(),
            key=True,
        )
        w.rule(
            "fix",
            "Nothing to change in the code: rerun the job without interrupting it; "
            "if a script or the scheduler sent SIGINT, find out which (for a SLURM job "
            "`sacct -j JOBID -o JobID,State,Reason`).",
        )
        return
    when = f" at {w.get('cancelled_at')}" if w.has("cancelled_at") else ""
    on = f" on node {w.get('node')}" if w.has("node") else ""
    w.fact(
        "cause",
        f"{job.capitalize()} was cancelled{when}{on}, without a reason in the log: by "
        "`scancel` (you, an "
        "administrator) or by adaptive-scheduler's kill manager.",
        "job_id",
        "cancelled_at",
        "node",
        key=True,
    )
    sacct = (
        f"`sacct -j {w.get('job_id')} -o JobID,State,Reason`"
        if w.has("job_id")
        else "`sacct -j JOBID -o JobID,State,Reason`"
    )
    w.rule(
        "fix",
        f"Find out who cancelled {job}: {sacct}; if it was the kill manager, check "
        "its `error` patterns; resubmit if the cancellation was not intended.",
        "job_id",
    )


def node_failure(w: Writer) -> None:
    job, node = job_name(w), w.get("node")
    key = w.result.key_line or ""
    if "Prolog failure" in key or "not ready" in key or "boot of the nodes" in key:
        _node_setup(w, key, node)
        return
    on = f"Node {node}" if node else "The node"
    w.fact(
        "cause",
        f"{on} failed while {job} ran (`NODE FAILURE`); the job itself did not cause it.",
        "node",
        "job_id",
        key=True,
    )
    exclude = (
        f"if node {node} fails again, tell the administrators and keep away from it with "
        f"`--exclude={node}`"
        if node
        else "tell the administrators when one node fails repeatedly"
    )
    w.rule(
        "fix",
        f"Resubmit {job} (with `--requeue` SLURM requeues it by itself; "
        f"adaptive-scheduler restarts failed jobs); {exclude}.",
        "job_id",
        "node",
    )


def _node_setup(w: Writer, key: str, node: str | None) -> None:
    """A prolog that failed, or nodes that never booted: the node, not the job."""
    job = job_name(w)
    prolog = "Prolog failure" in key
    what = (
        "the site's prolog (the set-up script SLURM runs on a node before the job) failed"
        if prolog
        else "the nodes allocated to it did not come up (cloud or powered-down nodes that "
        "never booted)"
    )
    w.fact(
        "cause",
        f"{job.capitalize()} could not start: {what} ({code(key.strip())}); the job itself "
        "did not run.",
        "node",
        "job_id",
        key=True,
    )
    avoid = f" and keep away from node {node} with `--exclude={node}`" if node else ""
    w.rule(
        "fix",
        f"Resubmit {job}{avoid}; tell the administrators, who see the reason with "
        "`sinfo -R` (SLURM drains a node whose prolog fails).",
        "job_id",
        "node",
    )


# -- memory ------------------------------------------------------------------------------
