"""The pure half of the start-up check: CPU facts, the fallback ladder, outcomes, cache keys."""

from __future__ import annotations

import signal

import pytest

from adaptive_llm_local.runtime.build import loaded_cpu_library, mapped_library
from adaptive_llm_local.runtime.cpu import CpuInfo, baseline_variant, parse_cpuinfo
from adaptive_llm_local.runtime.preflight_plan import (
    Attempt,
    LoadPlan,
    PreflightResult,
    cache_key,
    classify,
    failure_message,
    fallback_notice,
    ladder,
)

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx f16c fma avx2 bmi2 avx512f avx512bw amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2
"""
SAPPHIRE = parse_cpuinfo(CPUINFO)
OLD = CpuInfo("Intel(R) Xeon(R) CPU E5-2670", frozenset({"sse4_2", "avx"}))
PORTABLE = ["alderlake", "haswell", "icelake", "sandybridge", "sapphirerapids", "sse42", "x64"]


def test_cpuinfo_reads_the_first_processor() -> None:
    assert SAPPHIRE.model_name == "Intel(R) Xeon(R) Platinum 8480+"
    assert "amx_tile" in SAPPHIRE.flags
    assert SAPPHIRE.notable_flags()[-2:] == ["amx_tile", "amx_int8"]


def test_fingerprint_changes_with_any_flag_or_name() -> None:
    same = parse_cpuinfo(CPUINFO)
    fewer = CpuInfo(SAPPHIRE.model_name, SAPPHIRE.flags - {"amx_tile"})
    renamed = CpuInfo("another CPU", SAPPHIRE.flags)
    assert same.fingerprint == SAPPHIRE.fingerprint
    assert len({SAPPHIRE.fingerprint, fewer.fingerprint, renamed.fingerprint}) == 3


def test_baseline_variant_is_the_best_safe_one_the_cpu_runs() -> None:
    assert baseline_variant(SAPPHIRE, PORTABLE) == "haswell"
    assert baseline_variant(OLD, PORTABLE) == "sandybridge"
    assert baseline_variant(SAPPHIRE, []) is None


def test_ladder_of_a_portable_build_ends_with_baseline_variants() -> None:
    steps = [(p.step, p.use_extra_bufts, p.cpu_variant) for p in ladder(SAPPHIRE, PORTABLE)]
    assert steps == [
        ("default", True, None),
        ("no-extra-bufts", False, None),
        ("cpu-haswell", False, "haswell"),
        ("cpu-x64", False, "x64"),
    ]


def test_ladder_of_a_native_build_can_only_drop_extra_buffers() -> None:
    assert [p.step for p in ladder(SAPPHIRE, [])] == ["default", "no-extra-bufts"]


def test_ladder_keeps_a_pinned_variant_first_and_does_not_repeat_it() -> None:
    plans = ladder(SAPPHIRE, PORTABLE, pinned="x64")
    assert [(p.step, p.cpu_variant) for p in plans] == [
        ("default", "x64"),
        ("no-extra-bufts", "x64"),
        ("cpu-haswell", "haswell"),
    ]


@pytest.mark.parametrize(
    ("returncode", "outcome", "name"),
    [
        (0, "ok", None),
        (1, "error", None),
        (-signal.SIGILL, "crashed", "SIGILL"),
        (-signal.SIGSEGV, "crashed", "SIGSEGV"),
        (-signal.SIGKILL, "killed", "SIGKILL"),
    ],
)
def test_exit_status_classification(returncode: int, outcome: str, name: str | None) -> None:
    assert classify(returncode) == (outcome, name)


def _result(*attempts: Attempt, plan: LoadPlan | None) -> PreflightResult:
    return PreflightResult(key="k", attempts=attempts, plan=plan)


def test_fallback_notice_is_one_line_naming_signal_cpu_and_settings() -> None:
    result = _result(
        Attempt("default", "crashed", "SIGILL"),
        Attempt("no-extra-bufts", "ok"),
        plan=LoadPlan("no-extra-bufts", False),
    )
    notice = fallback_notice(result, SAPPHIRE)
    assert notice is not None and "\n" not in notice
    assert "SIGILL (illegal instruction)" in notice
    assert "Platinum 8480+" in notice and "use_extra_bufts=False" in notice
    assert result.fell_back and result.cacheable
    assert "after fallback (default died with SIGILL" in result.summary()


def test_no_notice_without_a_fallback() -> None:
    result = _result(Attempt("default", "ok"), plan=LoadPlan())
    assert fallback_notice(result, SAPPHIRE) is None
    assert result.summary() == "passed at step default"


def test_only_a_completed_child_is_worth_caching() -> None:
    assert not _result(Attempt("default", "timeout"), plan=LoadPlan()).cacheable
    assert not _result(Attempt("default", "error"), plan=LoadPlan()).cacheable


def test_failure_message_tells_apart_a_crash_and_an_outside_kill() -> None:
    crashed = _result(Attempt("default", "crashed", "SIGILL"), plan=None)
    killed = _result(Attempt("default", "killed", "SIGKILL"), plan=None)
    assert "Rebuild" in failure_message(crashed)
    assert "out of memory" in failure_message(killed)


def test_result_round_trips_through_json() -> None:
    result = _result(
        Attempt("default", "crashed", "SIGILL", "", 1.5),
        Attempt("cpu-haswell", "ok"),
        plan=LoadPlan("cpu-haswell", False, "haswell"),
    )
    again = PreflightResult.from_json(result.to_json())
    assert again == result and again.cached


def test_cache_key_changes_with_model_build_cpu_and_configuration() -> None:
    base = {"model": "m:1:2", "build": "b", "cpu": "c", "n_gpu_layers": None, "pinned": None}
    keys = {cache_key(**base)}
    for field, value in [
        ("model", "m:1:3"),
        ("build", "b2"),
        ("cpu", "c2"),
        ("n_gpu_layers", 0),
        ("pinned", "x64"),
    ]:
        keys.add(cache_key(**{**base, field: value}))
    assert len(keys) == 6


def test_loaded_cpu_library_is_found_in_a_maps_listing() -> None:
    maps = (
        "7f00-7f01 r-xp 0 08:01 1 /venv/lib/python3.11/site-packages/llama_cpp/lib/libggml-base.so\n"
        "7f02-7f03 r-xp 0 08:01 2 /venv/lib/python3.11/site-packages/llama_cpp/lib/libggml-cpu-haswell.so\n"
    )
    assert loaded_cpu_library(maps) == "libggml-cpu-haswell.so"
    assert loaded_cpu_library("7f 0 /x/libggml-cpu.so.0.25.3\n") == "libggml-cpu.so"
    assert loaded_cpu_library("7f 0 /x/libggml-base.so\n") is None


def test_the_libggml_that_libllama_loaded_is_found_by_its_soname_file() -> None:
    maps = (
        "7f00-7f01 r-xp 00000000 08:01 11   /v/llama_cpp/lib/libllama.so\n"
        "7f02-7f03 r-xp 00000000 08:01 12   /v/llama_cpp/lib/libggml.so.0\n"
        "7f04-7f05 rw-p 00000000 00:00 0 \n"
    )
    assert mapped_library(maps, "libggml") == "/v/llama_cpp/lib/libggml.so.0"
    assert mapped_library(maps, "libggml-base") is None
