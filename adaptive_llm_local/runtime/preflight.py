"""A start-up check that cannot crash the caller.

Before a process's first call into llama.cpp with a model, :func:`check` runs that model
in a child process (``python -m adaptive_llm_local.runtime.preflight_child``, a fresh interpreter,
never a fork of one that holds llama.cpp state): a batched decode and an embedding with
the intended settings. If the child dies from a signal, the next, safer
:class:`~adaptive_llm_local.runtime.preflight_plan.LoadPlan` is tried, and one line says which
settings were chosen. Results are kept per model file, llama.cpp build and CPU under
``$ADAPTIVE_LLM_HOME/.cache/preflight``, so later processes pay nothing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..children import inherited_env, neutral_cwd
from ..config import PACKAGE_DIR, Settings
from ..errors import ConfigError, LlamaCrashError
from ..models import ModelFile
from . import build as llama_build
from .cpu import CpuInfo, read_cpu_info
from .preflight_plan import (
    Attempt,
    LoadPlan,
    PreflightResult,
    cache_key,
    classify,
    failure_message,
    fallback_notice,
    ladder,
    model_identity,
)

log = logging.getLogger(__name__)

_RESULTS: dict[str, PreflightResult] = {}
_LOCK = threading.Lock()
_NOTICE_SHOWN = threading.Event()


def check(
    model: ModelFile,
    *,
    n_gpu_layers: int | None,
    n_threads: int | None,
    embedding: bool = False,
    settings: Settings,
) -> PreflightResult:
    """The settings that load ``model`` safely on this CPU (checked once, then cached).

    The child embeds a text of a few dozen tokens (a batched decode) and, unless
    ``embedding`` says the model only embeds, also decodes a chat prompt. ``settings``
    say whether to check, how long it may take, the pinned CPU variant and where results
    are kept (the caller's, never re-read from the environment here).

    Raises
    ------
    LlamaCrashError
        When llama.cpp crashes with every setting tried.
    ConfigError
        When ``ADAPTIVE_LLM_CPU_VARIANT`` names a variant this build does not have.
    """
    variants = llama_build.cpu_variants(llama_build.lib_dir())
    pinned = validated_variant(settings.cpu_variant, variants)
    if not settings.preflight:
        return PreflightResult(key="", attempts=(), plan=LoadPlan("default", True, pinned))
    cpu = read_cpu_info()
    stat = model.path.stat()
    key = cache_key(
        model=model_identity(str(model.path.resolve()), stat.st_size, stat.st_mtime_ns),
        build=llama_build.build_id(),
        cpu=cpu.fingerprint,
        n_gpu_layers=n_gpu_layers,
        pinned=pinned,
    )
    with _LOCK:
        result = _RESULTS.get(key) or _read_cache(settings, key)
        if result is None:
            request = {
                "model": str(model.path.resolve()),  # the child runs elsewhere
                "n_gpu_layers": n_gpu_layers,
                "n_threads": n_threads,
                "embedding": embedding,
                "fault": settings.preflight_fault,  # the test hook travels with the request
            }
            result = run_ladder(key, ladder(cpu, variants, pinned), request, settings)
            _announce(result, cpu)
            if result.cacheable:
                _write_cache(settings, result)
        if result.plan is not None:
            _RESULTS[key] = result
    if result.plan is None:
        raise LlamaCrashError(failure_message(result))
    return result


def validated_variant(pinned: str | None, variants: list[str]) -> str | None:
    """``ADAPTIVE_LLM_CPU_VARIANT`` when this build ships that variant.

    Raises
    ------
    ConfigError
        With the variants there are, or why there are none.
    """
    if pinned is None or pinned in variants:
        return pinned
    if not variants:
        raise ConfigError(
            f"ADAPTIVE_LLM_CPU_VARIANT={pinned} needs the portable llama.cpp build "
            "(`make install`); this one was built for a single CPU kind. Unset it."
        )
    raise ConfigError(
        f"ADAPTIVE_LLM_CPU_VARIANT={pinned} is not a CPU variant of this llama.cpp build; "
        f"choose one of {', '.join(variants)}."
    )


def run_ladder(
    key: str, plans: list[LoadPlan], request: dict[str, Any], settings: Settings
) -> PreflightResult:
    """Try ``plans`` in children until one survives; a non-crash outcome ends the search."""
    attempts: list[Attempt] = []
    report: dict[str, Any] = {}
    plan: LoadPlan | None = None
    for candidate in plans:
        attempt, report = run_child(candidate, request, settings)
        attempts.append(attempt)
        if attempt.outcome == "crashed":
            continue
        if attempt.outcome != "killed":
            plan = candidate
        if attempt.outcome == "error":  # the load in this process will raise the same, clearly
            log.debug("llama.cpp start-up check failed: %s", attempt.detail)
        if attempt.outcome == "timeout":
            log.warning(
                "The llama.cpp start-up check took over %.0f s (ADAPTIVE_LLM_PREFLIGHT_TIMEOUT); "
                "loading without it.",
                settings.preflight_timeout,
            )
        break
    return PreflightResult(
        key=key,
        attempts=tuple(attempts),
        plan=plan,
        cpu_variant=report.get("cpu_variant"),
        system_info=str(report.get("system_info", "")),
        checked_at=time.time(),
    )


def run_child(
    plan: LoadPlan, request: dict[str, Any], settings: Settings
) -> tuple[Attempt, dict[str, Any]]:
    """Run one step in a fresh interpreter; return what happened and the child's report.

    ``python -m`` puts the working directory first on ``sys.path``: the child gets
    ``-P`` and a working directory nobody but root may write, so a
    ``json.py`` or ``adaptive_llm_local/`` where the caller stands is never imported.
    """
    pythonpath = os.pathsep.join(
        p for p in (str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH")) if p
    )
    # the child must not start a check of its own
    env = inherited_env(ADAPTIVE_LLM_PREFLIGHT="0", PYTHONPATH=pythonpath)
    payload = json.dumps({**request, "plan": asdict(plan)})
    module = "adaptive_llm_local.runtime.preflight_child"
    command = [sys.executable, "-P", "-m", module, payload]  # -P: Python 3.11+, as required
    start = time.perf_counter()
    try:
        with neutral_cwd() as cwd:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=settings.preflight_timeout,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
    except subprocess.TimeoutExpired:
        return Attempt(plan.step, "timeout", seconds=time.perf_counter() - start), {}
    seconds = time.perf_counter() - start
    outcome, sig = classify(proc.returncode)
    report: dict[str, Any] = {}
    if outcome == "ok":
        lines = proc.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if lines else {}
        except ValueError:
            report = {}
    errors = proc.stderr.strip().splitlines()
    detail = errors[-1][:300] if errors and outcome != "ok" else ""
    return Attempt(plan.step, outcome, sig, detail, round(seconds, 3)), report


def cached(settings: Settings, key: str) -> PreflightResult | None:
    """The result this process or the cache holds for ``key`` (``doctor`` reads it)."""
    return _RESULTS.get(key) or _read_cache(settings, key)


def _announce(result: PreflightResult, cpu: CpuInfo) -> None:
    notice = fallback_notice(result, cpu)
    if notice and not _NOTICE_SHOWN.is_set():
        _NOTICE_SHOWN.set()
        log.warning(notice)


def _cache_file(settings: Settings, key: str) -> Path:
    return settings.cache_dir / "preflight" / f"{key}.json"


def _read_cache(settings: Settings, key: str) -> PreflightResult | None:
    path = _cache_file(settings, key)
    try:
        result = PreflightResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return result if result.key == key and result.plan is not None else None


def _write_cache(settings: Settings, result: PreflightResult) -> None:
    path = _cache_file(settings, result.key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result.to_json(), indent=1))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: the check simply runs again next time
        log.debug("could not cache the start-up check in %s: %s", path, exc)
