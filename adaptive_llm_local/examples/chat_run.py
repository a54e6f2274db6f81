"""The example run of ``chat.ipynb``: one healthy learner and one whose code has a tab slip.

``example_learners.py`` (the learners) imports ``model_code.py`` inside the job, and
``model_code.py`` mixes a tab into space indentation, so every attempt of that job dies
with a ``TabError`` that points at the user's own line. The chat's ``/fix`` proposes the
indentation fix as a diff; once approved, the run's next attempt of the job succeeds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

LEARNERS = '''\
"""Learner functions of the example run (imported by reference in the jobs)."""


def peak(x):
    return x + 0.0025 / (0.0025 + (x - 0.1) ** 2)


def energy(x):
    from model_code import potential  # imported in the job, where it fails

    return potential(x)
'''

MODEL_CODE = "def potential(x):\n    y = x * x\n\treturn y + 1.0\n"
"""Line 3 is indented with a tab after a line indented with spaces: ``TabError``."""


def write_example_code(folder: Path) -> None:
    """Write ``example_learners.py`` and the broken ``model_code.py`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "example_learners.py").write_text(LEARNERS)
    (folder / "model_code.py").write_text(MODEL_CODE)


def build_example_run(folder: str | Path, *, retry_every: float = 10.0, goal: int = 12) -> Any:
    """A ``RunManager`` on the local scheduler over ``folder`` (created; not started).

    Parameters
    ----------
    folder
        The run's folder: code, data, logs and the database all live inside it (the
        chat's file tools may read and, after approval, write only there).
    retry_every
        Seconds between the job manager's looks for jobs to (re)start: a failed job is
        started again about this long after it died, so a fix can land in between.
    goal
        Points each learner computes before it is done.
    """
    import adaptive
    from adaptive_scheduler import RunManager

    from ..demo.learners import demo_run_kwargs, local_scheduler

    folder = Path(folder).resolve()
    write_example_code(folder)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the learners are pickled by reference
    import example_learners  # type: ignore[import-not-found]

    scheduler = local_scheduler(folder, extra_paths=[folder])
    learners = [
        adaptive.Learner1D(example_learners.peak, bounds=(-1.0, 1.0)),
        adaptive.Learner1D(example_learners.energy, bounds=(-1.0, 1.0)),
    ]
    fnames = [folder / "data" / "peak.pickle", folder / "data" / "energy.pickle"]
    kwargs = demo_run_kwargs(
        folder,
        scheduler=scheduler,
        n_good=0,
        failures=(),
        goal=goal,
        job_name="chat-example",
        job_manager_interval=retry_every,
        max_fails_per_job=50,
    )
    kwargs.update(learners=learners, fnames=fnames)
    return RunManager(**kwargs)


def learner_done(run_manager: Any, stem: str) -> bool:
    """Whether the run's learner saved as ``data/<stem>.pickle`` reached its goal."""
    for entry in run_manager.database_manager.as_dicts():
        fname = entry.get("fname")
        if fname is not None and Path(str(fname)).stem == stem:
            return bool(entry.get("is_done"))
    return False
