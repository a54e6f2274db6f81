"""Which CPU this process runs on: model name, feature flags, and a short fingerprint.

The fingerprint keys cached start-up checks (see :mod:`adaptive_llm_local.runtime.preflight`): a
home folder shared by a login node and older compute nodes keeps one result per CPU kind.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

# Features that decide which llama.cpp kernels can run, in the order doctor shows them.
NOTABLE_FLAGS = (
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "avx2",
    "bmi2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vbmi",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)

# What each x86 CPU variant of llama.cpp (GGML_CPU_ALL_VARIANTS) needs, as /proc/cpuinfo flags.
_X86_VARIANT_NEEDS = {
    "x64": (),
    "sse42": ("sse4_2",),
    "sandybridge": ("sse4_2", "avx"),
    "haswell": ("sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"),
}
# Safe fallbacks, best first: plain AVX2/FMA/F16C kernels, no AVX-512, no AMX.
BASELINE_VARIANTS = ("haswell", "sandybridge", "sse42", "x64")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU model name and its feature flags."""

    model_name: str
    flags: frozenset[str]
    machine: str = "x86_64"

    @property
    def fingerprint(self) -> str:
        """16 hex digits that change when the model name, architecture or any flag changes."""
        text = "\n".join([self.machine, self.model_name, *sorted(self.flags)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def notable_flags(self) -> list[str]:
        """The flags among :data:`NOTABLE_FLAGS` this CPU has."""
        return [flag for flag in NOTABLE_FLAGS if flag in self.flags]

    def supports_variant(self, variant: str) -> bool:
        """Whether a baseline llama.cpp CPU variant can run here (unknown names: ``False``)."""
        needs = _X86_VARIANT_NEEDS.get(variant)
        return needs is not None and all(flag in self.flags for flag in needs)


def parse_cpuinfo(text: str, machine: str = "x86_64") -> CpuInfo:
    """Model name and flags of the first processor in ``/proc/cpuinfo`` text."""
    model_name = ""
    flags: frozenset[str] = frozenset()
    for line in text.splitlines():
        if not line.strip():
            if model_name or flags:
                break
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "cpu") and not model_name:
            model_name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model_name=model_name, flags=flags, machine=machine)


def baseline_variant(cpu: CpuInfo, available: list[str]) -> str | None:
    """The best of :data:`BASELINE_VARIANTS` that this CPU runs and the build has."""
    for variant in BASELINE_VARIANTS:
        if variant in available and cpu.supports_variant(variant):
            return variant
    return None


def read_cpu_info() -> CpuInfo:
    """This machine's CPU (from ``/proc/cpuinfo``; elsewhere from :mod:`platform`)."""
    machine = platform.machine() or "unknown"
    try:
        return parse_cpuinfo(CPUINFO.read_text(errors="replace"), machine)
    except OSError:
        return CpuInfo(
            model_name=platform.processor() or machine, flags=frozenset(), machine=machine
        )
