"""The start-up check for real: children that die by a real SIGILL, fallbacks, the cache.

This machine's CPU runs every llama.cpp kernel, so the fault is injected: with
``ADAPTIVE_LLM_PREFLIGHT_FAULT=<steps>`` the check's child kills itself with SIGILL at
those steps, right after loading the model, before its batched decode.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import ConfigError, LlamaCrashError
from adaptive_llm_local.models import ModelFile
from adaptive_llm_local.runtime import LocalModel, preflight
from adaptive_llm_local.runtime import build as llama_build
from adaptive_llm_local.runtime.cpu import CpuInfo, read_cpu_info

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
LOG = FIXTURES / "missing_module" / "numpyx.log"
NOTICE = "died with SIGILL"
PORTABLE = bool(llama_build.cpu_variants(llama_build.lib_dir()))


@pytest.fixture
def cache(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty check cache, and a process that has checked nothing and said nothing yet."""
    path = tmp_path / "cache"
    monkeypatch.setenv("ADAPTIVE_LLM_CACHE_DIR", str(path))
    monkeypatch.delenv("ADAPTIVE_LLM_PREFLIGHT_FAULT", raising=False)
    monkeypatch.setattr(preflight, "_RESULTS", {})
    monkeypatch.setattr(preflight, "_NOTICE_SHOWN", threading.Event())
    return path


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The steps run in child processes (the real children, counted)."""
    steps: list[str] = []
    real = preflight.run_child

    def counted(*args: object, **kwargs: object) -> object:
        steps.append(args[0].step)  # type: ignore[attr-defined]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(preflight, "run_child", counted)
    return steps


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def _check(model_path: Path) -> preflight.PreflightResult:
    return preflight.check(
        ModelFile(model_path), n_gpu_layers=None, n_threads=None, settings=Settings.from_env()
    )


def test_a_sigill_in_the_check_gives_a_working_model_with_safe_settings_and_one_notice(
    cache: Path,
    model_path: Path,
    children: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_PREFLIGHT_FAULT", "default")
    caplog.set_level(logging.WARNING, logger="adaptive_llm_local")
    settings = Settings.from_env()
    chat = LocalModel(ModelFile(model_path), n_ctx=512, settings=settings)
    embedder = LocalModel(ModelFile(model_path), n_ctx=512, embedding=True, settings=settings)
    answer = chat.chat([{"role": "user", "content": "Name one planet."}], max_tokens=8)
    vectors = embedder.embed(["out of memory", "no module named foo"])

    assert answer.text and len(vectors) == 2
    assert children == ["default", "no-extra-bufts"]  # one check serves both models
    for model in (chat, embedder):
        assert model.plan is not None and model.plan.step == "no-extra-bufts"
        assert model._llama.model_params.use_extra_bufts is False
    notices = [r.getMessage() for r in caplog.records if NOTICE in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "use_extra_bufts=False" in notices[0]
    assert "after fallback" in chat.describe()["preflight"]
    # the patched defaults were put back: a model without the fallback keeps extra buffers
    plain = LocalModel(ModelFile(model_path), n_ctx=256, plan=preflight.LoadPlan())
    assert plain.load().model_params.use_extra_bufts is True


def test_the_cli_survives_the_fault_says_so_once_and_later_runs_pay_nothing(
    cache: Path, model_path: Path
) -> None:
    first = cli("diagnose", str(LOG), "--json", ADAPTIVE_LLM_PREFLIGHT_FAULT="default")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["category"] == "missing_module"
    assert first.stderr.count(NOTICE) == 1
    assert list((cache / "preflight").glob("*.json"))

    doctor = cli("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    rows = dict(json.loads(doctor.stdout)["rows"])
    assert rows["start-up check"].endswith("(cached)")
    assert "after fallback (default died with SIGILL" in rows["start-up check"]
    assert rows["load settings"].startswith("use_extra_bufts=False")
    assert NOTICE not in doctor.stderr


def test_when_no_extra_buffers_are_not_enough_the_baseline_variant_or_a_clear_error(
    cache: Path,
) -> None:
    done = cli("doctor", "--json", ADAPTIVE_LLM_PREFLIGHT_FAULT="default,no-extra-bufts")
    if PORTABLE:
        assert done.returncode == 0, done.stdout + done.stderr
        rows = dict(json.loads(done.stdout)["rows"])
        assert rows["CPU variant in use"] == "haswell"
        assert "CPU variant haswell" in rows["load settings"]
        assert done.stderr.count(NOTICE) == 1
    else:  # a native build has no baseline variant: the caller gets an error, not a crash
        assert done.returncode == 1
        problems = " ".join(json.loads(done.stdout)["problems"])
        assert "crashes on this CPU with every setting tried" in problems


def test_every_step_crashing_raises_a_clear_error_in_process(
    cache: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = "default,no-extra-bufts,cpu-haswell,cpu-sandybridge,cpu-sse42,cpu-x64"
    monkeypatch.setenv("ADAPTIVE_LLM_PREFLIGHT_FAULT", steps)
    with pytest.raises(LlamaCrashError, match="SIGILL"):
        LocalModel(ModelFile(model_path), n_ctx=256, settings=Settings.from_env()).load()
    assert not list(cache.glob("preflight/*.json"))  # a failure is not remembered


def test_cache_is_reused_and_invalidated_by_model_build_and_cpu(
    cache: Path,
    model_path: Path,
    tmp_path: Path,
    children: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _check(model_path)
    assert children and not first.cached
    runs = len(children)  # one step here; more on a CPU where the first step faults for real

    def checked_again(path: Path) -> bool:
        """Check as a new process would; whether it found the result in the cache."""
        before = len(children)
        monkeypatch.setattr(preflight, "_RESULTS", {})
        result = _check(path)
        assert len(children) == before + (0 if result.cached else runs)
        return result.cached

    assert checked_again(model_path)

    copy = tmp_path / "model-copy.gguf"
    shutil.copyfile(model_path, copy)
    assert not checked_again(copy)
    assert checked_again(copy)
    os.utime(copy, ns=(1, 1))  # the same path, replaced by another file
    assert not checked_again(copy)

    monkeypatch.setattr(llama_build, "build_id", lambda folder=None: "another-build")
    assert not checked_again(model_path)
    assert checked_again(model_path)

    cpu = read_cpu_info()
    dropped = max(cpu.flags)  # one flag this CPU has (not every CPU here has avx512f)
    older = CpuInfo(cpu.model_name, cpu.flags - {dropped}, cpu.machine)
    monkeypatch.setattr(preflight, "read_cpu_info", lambda: older)
    assert not checked_again(model_path)


def test_build_id_changes_when_a_library_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "libllama.so").write_bytes(b"one")
    before = llama_build.build_id(tmp_path)
    assert llama_build.build_id(tmp_path) == before
    (tmp_path / "libllama.so").write_bytes(b"rebuilt")
    assert llama_build.build_id(tmp_path) != before


def test_a_check_that_takes_too_long_is_given_up_and_not_cached(
    cache: Path,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_PREFLIGHT_TIMEOUT", "0.05")
    result = _check(model_path)
    assert [a.outcome for a in result.attempts] == ["timeout"]
    assert result.plan is not None and result.plan.step == "default"
    assert not list(cache.glob("preflight/*.json"))
    assert any("ADAPTIVE_LLM_PREFLIGHT_TIMEOUT" in r.getMessage() for r in caplog.records)


def test_the_check_can_be_switched_off(
    cache: Path, model_path: Path, children: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_PREFLIGHT", "0")
    result = _check(model_path)
    assert children == [] and result.plan == preflight.LoadPlan()
    assert result.summary().startswith("skipped")


def test_an_unknown_pinned_variant_is_a_clear_error(
    cache: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_CPU_VARIANT", "pentium4")
    with pytest.raises(ConfigError, match="ADAPTIVE_LLM_CPU_VARIANT=pentium4"):
        _check(model_path)


def test_doctor_shows_cpu_features_build_and_variant(cache: Path) -> None:
    done = cli("doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = dict(json.loads(done.stdout)["rows"])
    cpu = read_cpu_info()
    assert rows["CPU"] == (cpu.model_name or cpu.machine)
    assert set(rows["CPU features"].split()) == set(cpu.notable_flags())
    expected_kind = "portable" if PORTABLE else "single CPU variant"
    assert rows["llama.cpp build"].startswith(expected_kind)
    assert rows["CPU variant in use"] != "not loaded yet"
    assert rows["start-up check"].startswith("passed at step ")
    assert "CPU :" in rows["llama.cpp features"]
    assert Settings.from_env().cache_dir == cache
