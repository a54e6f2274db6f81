"""Cause and fix sentences per failure category, written from a log's facts and checks.

One module per family of failures; each public function takes a
:class:`~.writer.Writer` and adds ``rule`` and ``fact`` sentences to it.
:func:`adaptive_llm_local.diagnose.explain.explain` picks the function of the category.
"""

from __future__ import annotations

from collections.abc import Callable

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

BY_CATEGORY: dict[str, Callable[[Writer], None]] = {
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

__all__ = ["BY_CATEGORY", "Writer"]
