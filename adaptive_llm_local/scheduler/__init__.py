"""`LocalScheduler`: run adaptive-scheduler jobs as processes on this machine.

adaptive-scheduler's own ``LocalMockScheduler`` cannot be driven by a ``RunManager``
(it raises ``NotImplementedError`` when ``start_job`` receives ``index``, which the
``JobManager`` always passes). `LocalScheduler` is a complete `BaseScheduler`: every
job is a real OS process in its own session, its stdout and stderr go to the
``.out`` file adaptive-scheduler records in ``output_logs``, and `LocalScheduler.queue`
reports a job until its process has exited, so the ``RunManager`` notices dead jobs,
records them in ``database_manager.failed`` and restarts them as it would on SLURM.

When a job ends abnormally the scheduler appends one line to its ``.out`` file, in
the spirit of ``slurmstepd: error: *** JOB 123 ON node CANCELLED AT ... ***``::

    localscheduler: error: *** JOB 7 (adaptive-scheduler-2) KILLED BY SIGNAL 9 (SIGKILL) AT 2025-01-01T12:00:00 ***
    localscheduler: error: *** JOB 8 (adaptive-scheduler-3) EXITED WITH CODE 1 AT 2025-01-01T12:00:01 ***
    localscheduler: error: *** JOB 9 (adaptive-scheduler-4) CANCELLED AT 2025-01-01T12:00:02 ***

Pure logic lives apart from process handling: :mod:`.epilogue` (exit-status decoding,
epilogue lines), :mod:`.options` (per-job settings, log-file names), :mod:`.network`
(:func:`loopback_url`); :mod:`.processes` starts, reaps and kills the processes and
:mod:`.local` is the scheduler adaptive-scheduler talks to.
"""

from __future__ import annotations

from .epilogue import EPILOGUE_PREFIX, describe_returncode, format_epilogue, returncode_from_waitid
from .local import LocalScheduler
from .network import loopback_url
from .options import broadcast_per_job, expand_job_id, job_id_candidates

__all__ = [
    "EPILOGUE_PREFIX",
    "LocalScheduler",
    "broadcast_per_job",
    "describe_returncode",
    "expand_job_id",
    "format_epilogue",
    "job_id_candidates",
    "loopback_url",
    "returncode_from_waitid",
]
