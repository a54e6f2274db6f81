"""The pure half of the start-up check: the settings to try, what an outcome means, the notice.

llama.cpp can die with ``SIGILL`` inside a kernel the CPU claims to support (AMX tiles
under some hypervisors), or when a native build moved to an older CPU. The check loads
the model in a child process with each :class:`LoadPlan` of :func:`ladder` in turn, safest
last, and the first plan whose child survives is used. The I/O lives in
:mod:`adaptive_llm_local.runtime.preflight`.
"""

from __future__ import annotations

import hashlib
import signal
from dataclasses import asdict, dataclass, field
from typing import Any

from .cpu import CpuInfo, baseline_variant

# Signals by which llama.cpp itself dies on an unsupported instruction or a bad kernel; a
# child killed by anything else (SIGKILL from the OOM killer, Ctrl-C) says nothing about
# which settings are safe.
CRASH_SIGNALS = frozenset(
    {
        signal.SIGILL,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGABRT,
        signal.SIGSYS,
    }
)
_SIGNAL_MEANING = {
    "SIGILL": "illegal instruction",
    "SIGSEGV": "segmentation fault",
    "SIGBUS": "bus error",
    "SIGFPE": "arithmetic fault",
    "SIGABRT": "abort",
    "SIGSYS": "bad system call",
}


@dataclass(frozen=True)
class LoadPlan:
    """How llama.cpp loads a model.

    Parameters
    ----------
    step
        Name of this rung of the ladder: ``default``, ``no-extra-bufts``, ``cpu-<variant>``.
    use_extra_bufts
        llama.cpp's extra weight buffer types (AMX tiles, repacked weights).
    cpu_variant
        CPU variant library of a portable build; ``None`` lets llama.cpp choose.
    """

    step: str = "default"
    use_extra_bufts: bool = True
    cpu_variant: str | None = None

    def describe(self) -> str:
        parts = [f"use_extra_bufts={self.use_extra_bufts}"]
        parts.append(f"CPU variant {self.cpu_variant or 'chosen by llama.cpp'}")
        return ", ".join(parts)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadPlan:
        return cls(
            step=str(data["step"]),
            use_extra_bufts=bool(data["use_extra_bufts"]),
            cpu_variant=data.get("cpu_variant"),
        )


def ladder(cpu: CpuInfo, variants: list[str], pinned: str | None = None) -> list[LoadPlan]:
    """Settings to try, best first: as configured, without extra buffer types, baseline CPU.

    ``variants`` are the CPU variants the build ships (empty for a native build, which has
    no baseline to fall back to); ``pinned`` is the user's ``ADAPTIVE_LLM_CPU_VARIANT``.
    """
    plans = [
        LoadPlan("default", True, pinned),
        LoadPlan("no-extra-bufts", False, pinned),
    ]
    for variant in (baseline_variant(cpu, variants), "x64" if "x64" in variants else None):
        if variant and all(plan.cpu_variant != variant for plan in plans):
            plans.append(LoadPlan(f"cpu-{variant}", False, variant))
    return plans


@dataclass(frozen=True)
class Attempt:
    """What happened to one child: ``ok``, ``crashed`` (a crash signal), ``killed`` (another
    signal), ``error`` (a Python error, e.g. an unreadable model) or ``timeout``."""

    step: str
    outcome: str
    signal: str | None = None
    detail: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        if self.signal:
            return f"{self.step} died with {signal_text(self.signal)}"
        return f"{self.step}: {self.outcome}"


def signal_text(name: str) -> str:
    """``SIGILL (illegal instruction)``."""
    meaning = _SIGNAL_MEANING.get(name)
    return f"{name} ({meaning})" if meaning else name


def classify(returncode: int) -> tuple[str, str | None]:
    """Outcome and signal name of a child's exit status (negative: killed by that signal)."""
    if returncode == 0:
        return "ok", None
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return "killed", f"signal {-returncode}"
        return ("crashed" if sig in CRASH_SIGNALS else "killed"), sig.name
    return "error", None


@dataclass(frozen=True)
class PreflightResult:
    """The outcome of the start-up check for one model, build and CPU.

    ``plan`` is ``None`` when no settings survived (every child crashed or one was killed).
    """

    key: str
    attempts: tuple[Attempt, ...]
    plan: LoadPlan | None
    cpu_variant: str | None = None
    system_info: str = ""
    checked_at: float = 0.0
    cached: bool = field(default=False, compare=False)

    @property
    def cacheable(self) -> bool:
        """Only a child that ran to the end proves anything worth remembering."""
        return bool(self.attempts) and self.attempts[-1].outcome == "ok"

    @property
    def fell_back(self) -> bool:
        return self.plan is not None and len(self.attempts) > 1

    def crash_signal(self) -> str | None:
        return next((a.signal for a in self.attempts if a.outcome == "crashed"), None)

    def summary(self) -> str:
        """One line for ``doctor``: the outcome, and the fallback taken if any."""
        if self.plan is None:
            return "failed: " + "; ".join(a.describe() for a in self.attempts)
        last = self.attempts[-1] if self.attempts else None
        if last is None:
            return "skipped (ADAPTIVE_LLM_PREFLIGHT=0)"
        state = {"ok": "passed", "timeout": "timed out", "error": "failed"}.get(
            last.outcome, last.outcome
        )
        text = f"{state} at step {last.step}"
        if self.fell_back:
            crashed = [a.describe() for a in self.attempts[:-1]]
            text += f" after fallback ({'; '.join(crashed)})"
        return text + (" (cached)" if self.cached else "")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cached")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreflightResult:
        plan = data.get("plan")
        return cls(
            key=str(data["key"]),
            attempts=tuple(Attempt(**a) for a in data["attempts"]),
            plan=LoadPlan.from_json(plan) if plan else None,
            cpu_variant=data.get("cpu_variant"),
            system_info=str(data.get("system_info", "")),
            checked_at=float(data.get("checked_at", 0.0)),
            cached=True,
        )


def fallback_notice(result: PreflightResult, cpu: CpuInfo) -> str | None:
    """The one line a user sees when llama.cpp crashed and safer settings were chosen."""
    if not result.fell_back or result.plan is None:
        return None
    crash = result.crash_signal()
    what = signal_text(crash) if crash else "a crash"
    return (
        f"llama.cpp died with {what} on this CPU ({cpu.model_name or cpu.machine}) in a "
        f"start-up check; using safe settings instead: {result.plan.describe()}. "
        "`adaptive-llm-local doctor` shows the details."
    )


def failure_message(result: PreflightResult) -> str:
    """The error when no settings survived the start-up check."""
    tried = "; ".join(a.describe() for a in result.attempts)
    if result.attempts and result.attempts[-1].outcome == "killed":
        return (
            f"The start-up check of llama.cpp was killed from outside ({tried}); out of "
            "memory? Free memory or use a smaller model, then try again."
        )
    return (
        f"llama.cpp crashes on this CPU with every setting tried ({tried}). Rebuild it on "
        "this machine (`make install NATIVE=1`, or `make install` for the portable build), "
        "or set ADAPTIVE_LLM_CPU_VARIANT to a variant `doctor` lists."
    )


def cache_key(
    *, model: str, build: str, cpu: str, n_gpu_layers: int | None, pinned: str | None
) -> str:
    """24 hex digits naming one model file, llama.cpp build, CPU and configuration."""
    text = "\n".join([model, build, cpu, str(n_gpu_layers), str(pinned)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def model_identity(path: str, size: int, mtime_ns: int) -> str:
    """A model file as the cache sees it: replaced or edited files get a new identity."""
    return f"{path}:{size}:{mtime_ns}"
