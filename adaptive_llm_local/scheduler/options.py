"""Per-job settings and log-file names, as adaptive-scheduler expects them (pure functions)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def expand_job_id(template: str | Path, variable: str, job_id: str) -> Path:
    """Replace the job-id placeholder in a log-file name, as adaptive-scheduler does.

    Parameters
    ----------
    template
        A name from ``scheduler.log_fname(name)`` or ``scheduler.output_fnames(name)``.
    variable
        The scheduler's ``_JOB_ID_VARIABLE``, e.g. ``"${JOB_ID}"``.
    job_id
        The concrete job id.

    """
    path = Path(template)
    return path.with_name(path.name.replace(variable, job_id))


def broadcast_per_job(values: dict[str, Any]) -> dict[str, Any]:
    """Make every per-job setting a tuple when any of them is one.

    adaptive-scheduler's `BaseScheduler` indexes ``cores``, ``executor_type``,
    ``num_threads`` and the ``extra_*`` settings by job as soon as ``cores`` is a tuple;
    its ``SLURM`` broadcasts single values the same way.

    Parameters
    ----------
    values
        Setting name to a single value or a tuple (one entry per learner);
        ``None`` stands for "not set".

    Returns
    -------
    dict
        The same keys; unchanged when no value is a tuple, otherwise every value is a
        tuple of the common length.

    Raises
    ------
    ValueError
        When tuples of different lengths are given.

    """
    lengths = {len(v) for v in values.values() if isinstance(v, tuple)}
    if not lengths:
        return dict(values)
    if len(lengths) > 1:
        msg = f"All per-job tuples must have the same length, got lengths {sorted(lengths)}."
        raise ValueError(msg)
    (n,) = lengths
    return {
        k: v if isinstance(v, tuple) else tuple(copy.deepcopy(v) for _ in range(n))
        for k, v in values.items()
    }


def job_id_candidates(counter: Iterator[int]) -> Iterator[str]:
    """Job ids to try, in order: decimal strings like the ids of SLURM."""
    return (str(n) for n in counter)
