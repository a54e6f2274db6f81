"""How a job ended, in words, and the line the scheduler appends to its log (pure functions)."""

from __future__ import annotations

import datetime as _dt
import os
import signal

EPILOGUE_PREFIX = "localscheduler: error:"
"""Start of every line the scheduler itself writes into a job's ``.out`` file."""


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_returncode(returncode: int | None) -> str:
    """Describe how a job's leading process ended.

    Parameters
    ----------
    returncode
        ``subprocess.Popen.returncode`` convention: the exit code, ``-N`` when killed
        by signal ``N``, ``None`` when unknown.

    Returns
    -------
    str
        For example ``"EXITED WITH CODE 0"``, ``"KILLED BY SIGNAL 9 (SIGKILL)"`` or
        ``"EXITED WITH CODE 137 (128+SIGKILL)"`` (a shell whose child was killed).

    """
    if returncode is None:
        return "ENDED WITH UNKNOWN STATUS"
    if returncode < 0:
        return f"KILLED BY SIGNAL {-returncode} ({_signal_name(-returncode)})"
    text = f"EXITED WITH CODE {returncode}"
    if 128 < returncode < 128 + 65:
        text += f" (128+{_signal_name(returncode - 128)})"
    return text


def format_epilogue(
    job_id: str,
    job_name: str,
    returncode: int | None,
    *,
    cancelled: bool,
    when: _dt.datetime,
) -> str | None:
    """Line the scheduler appends to a job's output when the job did not succeed.

    Parameters
    ----------
    job_id, job_name
        Identify the job.
    returncode
        See `describe_returncode`.
    cancelled
        Whether the job ended because `LocalScheduler.cancel` was called.
    when
        Time of the end of the job.

    Returns
    -------
    str or None
        The line (without newline), or ``None`` for a job that exited with code 0
        and was not cancelled.

    """
    if cancelled:
        what = "CANCELLED"
    elif returncode == 0:
        return None
    else:
        what = describe_returncode(returncode)
    stamp = when.isoformat(timespec="seconds")
    return f"{EPILOGUE_PREFIX} *** JOB {job_id} ({job_name}) {what} AT {stamp} ***"


def returncode_from_waitid(si_code: int, si_status: int) -> int:
    """Convert an ``os.waitid`` result to the ``Popen.returncode`` convention."""
    if si_code == os.CLD_EXITED:
        return si_status
    return -si_status  # CLD_KILLED or CLD_DUMPED: si_status is the signal
