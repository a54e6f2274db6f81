"""Failures without a known pattern, and logs without a failure."""

from __future__ import annotations

from .writer import Writer, code


def unknown(w: Writer) -> None:
    key = w.result.key_line or ""
    if w.result.key_line is None and not w.result.notes:
        none(w)
        return
    if w.has("see_file"):
        w.fact(
            "cause",
            f"The program reports {code(key)}.",
            key=True,
        )
        w.rule(
            "fix",
            f"Read {w.get('see_file')}, which the error line names, for why it failed "
            "(it is usually in the job's working directory); the log itself says no more.",
            "see_file",
        )
        return
    if w.has("slurm_error"):
        error = w.get("slurm_error") or ""
        w.fact("cause", f"SLURM refused the job's request: {code(error)}.", "slurm_error", key=True)
        if "Memory specification" in error:
            w.rule(
                "fix",
                "Lower the memory request (`--mem`/`--mem-per-cpu`) to what the "
                "partition's nodes have: `sinfo -o '%n %m'` lists each node's memory in MB.",
            )
        else:
            w.rule(
                "fix",
                "Change the part of the request the message names (nodes, cores, "
                "memory, time, partition) to what the cluster offers (`sinfo`, "
                "`scontrol show partition`).",
            )
        return
    if w.has("frame_file", "frame_line") and "cut" in " ".join(w.result.notes):
        w.fact(
            "cause",
            f"The log ends inside a Python traceback, cut before its exception "
            f"line, at {w.place(full=True)}.",
            *w.frame_names(),
            key=True,
        )
        w.rule(
            "fix",
            f"Look at {w.place()}, where the traceback was cut, and get the complete "
            "log (the job may still be writing it, or the copy was truncated) to see the "
            "exception.",
            *w.frame_names(),
        )
        return
    if w.has("task_error", "task") and not w.has("exit_code"):
        _task_ended(w)
        return
    last = (
        f" Its last output was {code(w.get('last_output') or '')}." if w.has("last_output") else ""
    )
    if w.get("signal_name") == "Terminated":
        status = f", exit status {w.get('exit_code')}" if w.has("exit_code") else ""
        w.fact(
            "cause",
            f"The process was stopped by SIGTERM (`Terminated`{status}); the log "
            f"does not show who sent it.{last}",
            "signal_name",
            "exit_code",
            "last_output",
            key=True,
        )
        w.rule(
            "fix",
            "Find out who sent SIGTERM (`scancel`, a time limit, adaptive-scheduler's "
            "kill manager or the system): for a SLURM job `sacct -j JOBID -o "
            "JobID,State,Reason,Elapsed,Timelimit`; resubmit if it was not intended.",
        )
        return
    if w.has("exit_code"):
        status = w.get("exit_code") or ""
        who = f"Task {w.get('task')} on {w.get('node')}" if w.has("task", "node") else "The program"
        w.fact(
            "cause",
            f"{who} exited with exit code {status}; the log shows no error message.{last}",
            "task",
            "node",
            "exit_code",
            "last_output",
            key=True,
        )
        w.rule(
            "fix",
            f"Find where the program exits with code {status} (`sys.exit({status})`, "
            f"`exit({status})` or a wrapper script) and why; rerun it with the same input "
            "to see it.",
            "exit_code",
        )
        return
    w.fact(
        "cause",
        f"The log shows a failure ({code(key)}) but no known failure pattern.{last}",
        "last_output",
        key=True,
    )
    w.rule(
        "fix",
        "Read the lines around the key line; run the job's function locally with the "
        "same input to reproduce it.",
    )


def _task_ended(w: Writer) -> None:
    """``srun: error: n1: task 0: Killed`` and other ends srun reports without a reason."""
    task, node, how = w.get("task"), w.get("node"), w.get("task_error") or ""
    w.fact(
        "cause",
        f"srun reports that task {task} on {node} ended with {code(how)}; the log shows no reason.",
        "task",
        "node",
        "task_error",
        key=True,
    )
    job = w.get("job_id") or "JOBID"
    if how == "Killed":
        w.rule(
            "cause",
            "SIGKILL usually comes from the out-of-memory killer, or from SLURM ending the step "
            "(a time limit, `scancel`).",
        )
    w.rule(
        "fix",
        f"Look up how job {job} ended: `sacct -j {job} -o JobID,State,Reason,Elapsed,Timelimit` "
        f"and `sacct -j {job} -o JobID,MaxRSS,ReqMem,State` (peak memory against the request); "
        "raise `--mem` or `--time` accordingly, or fix the program if it ended itself.",
        "job_id",
    )


def none(w: Writer) -> None:
    w.rule("cause", "The log shows no sign of a failure.")
    w.rule(
        "fix",
        "Nothing to fix in this log; if the job was still marked failed, check the "
        "scheduler's accounting (`sacct`) and the other log files of the job.",
    )
