"""What SLURM on this machine says about the log's job: limits, use, state.

``scontrol show job`` knows jobs that ended a few minutes ago (``MinJobAge``); ``sacct``
knows older ones when accounting is enabled. Both are run with a timeout and only read,
found through absolute ``PATH`` entries and started outside the folders the log names
(:mod:`adaptive_llm_local.children`).
A job whose records point at another output file than the log is another job with the
same number (another cluster, or the counter started over) and is not reported.
"""

from __future__ import annotations

import os
import re
import subprocess

from ..children import inherited_env, neutral_cwd, which
from .check_result import CheckResult, skipped

_SACCT_FIELDS = "JobID,State,Timelimit,Elapsed,ReqMem,MaxRSS,ExitCode,NodeList"


def _run(command: list[str], timeout: float) -> tuple[int, str, str]:
    program = which(command[0])
    if program is None:
        return 127, "", f"{command[0]} is not on this machine's PATH"
    try:
        with neutral_cwd() as cwd:
            proc = subprocess.run(
                [program, *command[1:]],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                cwd=cwd,
                env=inherited_env(),
                stdin=subprocess.DEVNULL,
                check=False,
            )
    except subprocess.TimeoutExpired:
        return 124, "", f"{command[0]} did not answer within {timeout:g} s"
    except (OSError, ValueError) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr.strip()


def _scontrol(job: str, timeout: float) -> dict[str, str] | None:
    code, out, _ = _run(["scontrol", "-o", "show", "job", job], timeout)
    if code != 0 or not out.strip():
        return None
    fields: dict[str, str] = {}
    for token in out.split():
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    mem = next(
        (p.split("=", 1)[1] for p in fields.get("ReqTRES", "").split(",") if p.startswith("mem=")),
        "",
    )
    return {
        "source": "scontrol",
        "state": fields.get("JobState", ""),
        "reason": fields.get("Reason", ""),
        "time_limit": fields.get("TimeLimit", ""),
        "elapsed": fields.get("RunTime", ""),
        "req_mem": mem or fields.get("MinMemoryNode", ""),
        "node_list": fields.get("NodeList", ""),
        "exit_code": fields.get("ExitCode", ""),
        "stdout": fields.get("StdOut", ""),
    }


def _sacct(job: str, timeout: float) -> dict[str, str] | str:
    """The job's accounting record, or why there is none."""
    code, out, err = _run(["sacct", "-j", job, "-n", "-P", "-o", _SACCT_FIELDS], timeout)
    if code != 0:
        return err or f"sacct exited with {code}"
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    rows = [r for r in rows if len(r) == len(_SACCT_FIELDS.split(","))]
    main = next((r for r in rows if r[0] == job), None)
    if main is None:
        return f"sacct has no record of job {job}"
    peaks = [r[5] for r in rows if r[5]]
    return {
        "source": "sacct",
        "state": main[1],
        "time_limit": main[2],
        "elapsed": main[3],
        "req_mem": main[4],
        "max_rss": max(peaks, key=_bytes) if peaks else "",
        "exit_code": main[6],
        "node_list": main[7],
    }


def _bytes(size: str) -> float:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    number = size.rstrip("KMGTn")
    try:
        return float(number) * units.get(size[-1:], 1)
    except ValueError:
        return 0.0


def slurm_check(
    job: str | None, *, log: str | None, category: str, timeout: float
) -> list[CheckResult]:
    """``slurm_job``: the job's state, time limit and memory as SLURM recorded them."""
    if not job:
        return []
    if not re.fullmatch(r"\d+(?:[_+]\d+)?", job):
        return [skipped("slurm_job", f"{job!r} is not a SLURM job id: SLURM was not asked.")]
    if not (which("scontrol") or which("sacct")):
        return [
            skipped(
                "slurm_job",
                f"Not checked what SLURM recorded for job {job}: SLURM's "
                "commands (`scontrol`, `sacct`) are not on this machine.",
            )
        ]
    record: dict[str, str] | None = _scontrol(job, timeout) if which("scontrol") else None
    why = f"`scontrol` no longer knows job {job}"
    if record is None and which("sacct"):
        found = _sacct(job, timeout)
        if isinstance(found, str):
            why = f"{why}, and sacct: {found}"
        else:
            record = found
    if record is None:
        return [skipped("slurm_job", f"Not checked what SLURM recorded for job {job}: {why}.")]
    stdout = record.get("stdout", "")
    if log and stdout and os.path.realpath(stdout) != os.path.realpath(log):
        return [
            skipped(
                "slurm_job",
                f"SLURM's job {job} on this machine writes to {stdout}, not "
                "to this log: it is another job with the same number.",
            )
        ]
    parts = [f"state {record['state']}" if record.get("state") else ""]
    if record.get("time_limit"):
        parts.append(f"time limit {record['time_limit']}")
    if record.get("elapsed"):
        parts.append(f"ran {record['elapsed']}")
    if record.get("req_mem"):
        parts.append(f"memory requested {record['req_mem']}")
    if record.get("max_rss"):
        parts.append(f"peak memory {record['max_rss']}")
    if record.get("node_list"):
        parts.append(f"on {record['node_list']}")
    state = record.get("state", "")
    confirms = (
        (category == "time_limit" and state.startswith("TIMEOUT"))
        or (category == "out_of_memory" and state.startswith("OUT_OF_ME"))
        or (category == "cancelled" and state.startswith("CANCELLED"))
        or (category == "node_failure" and state.startswith("NODE_FAIL"))
    )
    text = (
        f"SLURM's records for job {job} ({record['source']}): "
        + ", ".join(p for p in parts if p)
        + "."
    )
    return [
        CheckResult(
            "slurm_job",
            "problem" if confirms else "ok",
            text,
            {k: v for k, v in record.items() if v},
        )
    ]
