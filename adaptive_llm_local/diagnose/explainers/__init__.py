"""Cause and fix sentences per failure category, written from a log's facts and checks.

One module per family of failures; each public function takes a
:class:`~.writer.Writer` and adds ``rule`` and ``fact`` sentences to it.
:func:`adaptive_llm_local.diagnose.explain.explain` picks the function of the category.
:func:`registry` checks the table against ``triage.CATEGORIES`` when this package is
imported, so a category without an explainer (or a guide entry) fails loudly instead of
being explained as ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ...knowledge import GUIDE
from ...triage import CATEGORIES
from .exceptions import python_exception
from .files import file_error
from .gpu_mpi import gpu_error, mpi_error
from .memory import out_of_memory
from .modules import missing_module
from .native import segfault
from .outcomes import none, unknown
from .scheduler import cancelled, node_failure, time_limit
from .syntax import syntax_error
from .writer import Writer

Explainer = Callable[[Writer], None]


def registry(
    explainers: Mapping[str, Explainer], guide: Mapping[str, object] = GUIDE
) -> dict[str, Explainer]:
    """``explainers`` as the table :func:`~..explain.explain` uses, once checked.

    Raises
    ------
    ValueError
        A category of ``triage.CATEGORIES`` has no explainer or no guide entry
        (``knowledge.GUIDE``), or an explainer is registered for a category triage
        does not have.
    """
    problems = [f"{c!r} has no explainer" for c in CATEGORIES if c not in explainers]
    problems += [f"{c!r} has no guide entry" for c in CATEGORIES if c not in guide]
    problems += [f"{c!r} is not a triage category" for c in explainers if c not in CATEGORIES]
    if problems:
        raise ValueError(f"failure categories out of step: {'; '.join(problems)}")
    return dict(explainers)


BY_CATEGORY: dict[str, Explainer] = registry(
    {
        "missing_module": missing_module,
        "python_exception": python_exception,
        "syntax_error": syntax_error,
        "out_of_memory": out_of_memory,
        "time_limit": time_limit,
        "cancelled": cancelled,
        "segfault": segfault,
        "file_error": file_error,
        "gpu_error": gpu_error,
        "mpi_error": mpi_error,
        "node_failure": node_failure,
        "unknown": unknown,
        "none": none,
    }
)

__all__ = ["BY_CATEGORY", "Explainer", "Writer", "registry"]
