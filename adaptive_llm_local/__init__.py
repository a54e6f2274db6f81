"""adaptive-llm-local: an offline assistant that diagnoses failed adaptive-scheduler jobs.

Everything runs on this machine: a quantized model through llama.cpp, a Chroma index of
past failures and docs, and a manager that attaches to a running ``RunManager``.
Heavy modules load on first use, so ``import adaptive_llm_local`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "attach": ("manager", "attach"),
    "Assistant": ("assistant", "Assistant"),
    "LLMManager": ("manager", "LLMManager"),
    "LocalScheduler": ("scheduler", "LocalScheduler"),
    "Diagnoser": ("diagnose", "Diagnoser"),
    "Diagnosis": ("diagnose", "Diagnosis"),
    "Settings": ("config", "Settings"),
    "triage_file": ("triage", "triage_file"),
}

__all__ = [
    "Assistant",
    "Diagnoser",
    "Diagnosis",
    "LLMManager",
    "LocalScheduler",
    "Settings",
    "__version__",
    "attach",
    "info",
    "triage_file",
]

if TYPE_CHECKING:
    from .assistant import Assistant
    from .config import Settings
    from .diagnose import Diagnoser, Diagnosis
    from .manager import LLMManager, attach
    from .scheduler import LocalScheduler
    from .triage import triage_file


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def info(*, load: bool = False) -> dict[str, Any]:
    """What this installation uses: model, llama.cpp build, GPU offload, index location.

    Parameters
    ----------
    load
        Load the model to report its load time and thread count.

    Returns
    -------
    dict
        ``ok``, ``problems`` (one sentence each, e.g. a bad ``ADAPTIVE_LLM_*`` value), and
        one entry per fact ``doctor`` shows.
    """
    from .config import Settings
    from .doctor import collect
    from .errors import ConfigError

    try:
        settings = Settings.from_env()
    except ConfigError as exc:  # a bad ADAPTIVE_LLM_* value: the one problem to report
        return {"ok": False, "problems": [str(exc)]}
    report = collect(settings, load=load)
    return {"ok": report["ok"], "problems": report["problems"], **{k: v for k, v in report["rows"]}}
