"""Triage against the real fixture logs in tests/fixtures/logs (see produce_logs.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from adaptive_llm_local.triage import (
    CATEGORIES,
    RULES,
    Evidence,
    TriageResult,
    mask,
    redact,
    triage_file,
    triage_text,
)

LOGS = Path(__file__).parent / "fixtures" / "logs"
EXPECTED: dict[str, dict[str, str | None]] = json.loads((LOGS / "expected.json").read_text())
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
JSON_KEYS = [
    "category",
    "key_line",
    "exception",
    "signature",
    "evidence",
    "summary",
    "key_line_number",
    "truncated",
    "notes",
]


def _cleaned_lines(raw: bytes) -> list[str]:
    out = []
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        line = ANSI.sub("", line)
        if "\r" in line:
            parts = [p for p in line.split("\r") if p.strip()]
            line = parts[-1] if parts else ""
        out.append(line.rstrip())
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, TriageResult]:
    return {name: triage_file(LOGS / name) for name in EXPECTED}


def test_public_api() -> None:
    assert CATEGORIES == (
        "missing_module",
        "python_exception",
        "out_of_memory",
        "time_limit",
        "cancelled",
        "segfault",
        "file_error",
        "syntax_error",
        "gpu_error",
        "mpi_error",
        "node_failure",
        "unknown",
        "none",
    )
    assert callable(redact) and callable(mask) and callable(triage_text)
    ev = Evidence(3, "x")
    with pytest.raises(AttributeError):
        ev.line = 4  # type: ignore[misc]


def test_rules_are_valid_data() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.category in CATEGORIES
        assert rule.scope in ("line", "exception")
        assert rule.category != "none"


def test_fixture_coverage() -> None:
    per_category: dict[str, int] = defaultdict(int)
    for entry in EXPECTED.values():
        per_category[str(entry["category"])] += 1
    for category in CATEGORIES:
        assert per_category[category] >= 3, f"fewer than 3 fixtures for {category}"
    assert all(entry.get("produced") for entry in EXPECTED.values())
    for name in EXPECTED:
        assert (LOGS / name).stat().st_size <= 8 * 1024, f"{name} is not small"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str, results: dict[str, TriageResult]) -> None:
    expected = EXPECTED[name]
    result = results[name]
    assert result.category == expected["category"]
    assert result.exception == expected["exception"]
    assert result.key_line == expected["key_line"]
    raw = (LOGS / name).read_bytes()
    if result.key_line is None:
        assert result.key_line_number is None
        return
    if b"\x1b" in raw or b"\r" in raw:
        lines = _cleaned_lines(raw)
    else:
        lines = [line.rstrip() for line in raw.decode("utf-8", errors="replace").split("\n")]
    assert result.key_line in lines, "key line is not a verbatim line of the log"
    assert result.key_line_number is not None
    assert lines[result.key_line_number - 1] == result.key_line
    assert any(ev.line == result.key_line_number for ev in result.evidence)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_result_shape(name: str, results: dict[str, TriageResult]) -> None:
    result = results[name]
    data = result.to_json()
    assert list(data) == JSON_KEYS
    json.dumps(data)
    assert re.fullmatch(r"[0-9a-f]{16}", data["signature"])
    assert all(list(ev) == ["line", "text"] for ev in data["evidence"])
    assert len(result.evidence) <= 12
    assert len(result.context) <= 40
    positions = [ev.line for ev in result.evidence]
    assert positions == sorted(positions), "evidence must be sorted by line"
    for ev in [*result.evidence, *result.context]:
        assert result.has_line(ev.line)
    assert not result.has_line(10**9)
    assert result.summary
    assert result.source is not None and result.source.endswith(name)
    assert result.size_bytes == (LOGS / name).stat().st_size


def test_signatures_stable_within_groups_and_distinct_across(
    results: dict[str, TriageResult],
) -> None:
    groups: dict[str, set[str]] = defaultdict(set)
    for name, entry in EXPECTED.items():
        if entry.get("group"):
            groups[str(entry["group"])].add(results[name].signature)
    assert len(groups) >= 8
    for group, signatures in groups.items():
        assert len(signatures) == 1, f"group {group} has {len(signatures)} signatures"
    firsts = [next(iter(s)) for s in groups.values()]
    assert len(set(firsts)) == len(firsts), "two different failures share a signature"


def test_signature_differs_for_other_module_and_message_shape(
    results: dict[str, TriageResult],
) -> None:
    missing = [
        results[n].signature
        for n in (
            "missing_module/numpyx.log",
            "missing_module/nested_package.log",
            "missing_module/adaptive_helpers_a.log",
            "missing_module/slurm_srun_missing.log",
        )
    ]
    assert len(set(missing)) == len(missing)
    assert (
        results["python_exception/keyerror_a.log"].signature
        != results["python_exception/keyerror_other_key.log"].signature
    )


def test_same_bug_in_text_with_other_ids_paths_numbers() -> None:
    template = (
        "[{date}] job {job} starting on {host} in {path}\n"
        "Traceback (most recent call last):\n"
        '  File "{path}/run.py", line {line}, in <module>\n'
        "    import torchx\n"
        "ModuleNotFoundError: No module named 'torchx'\n"
        "srun: error: {host}: task 0: Exited with exit code 1\n"
    )
    a = triage_text(
        template.format(
            date="2024-01-02 10:00:00", job=123, host="node017", path="/scratch/a/run_1", line=3
        )
    )
    b = triage_text(
        template.format(
            date="2025-12-31 23:59:59", job=98765, host="cn4242", path="/home/b/x", line=217
        )
    )
    c = triage_text(
        template.format(date="x", job=1, host="h", path="/p", line=1).replace("torchx", "jaxx")
    )
    assert a.signature == b.signature != c.signature
    assert a.category == "missing_module" and a.exception == "ModuleNotFoundError"


def test_slurm_line_is_outer_truth_over_traceback(results: dict[str, TriageResult]) -> None:
    result = results["time_limit/python_sigterm_traceback.log"]
    assert result.category == "time_limit"
    assert result.exception is None
    text = (LOGS / "time_limit/python_sigterm_traceback.log").read_text()
    if "KeyboardInterrupt" in text:
        assert any("KeyboardInterrupt" in ev.text for ev in result.evidence)


def test_chain_root_is_first_exception(results: dict[str, TriageResult]) -> None:
    cause = results["python_exception/chained_cause.log"]
    assert cause.exception == "KeyError"
    assert any("RuntimeError" in ev.text for ev in cause.evidence), "last link is evidence too"
    during = results["python_exception/chained_during_handling.log"]
    assert during.exception == "ZeroDivisionError"
    assert any("NameError" in ev.text for ev in during.evidence)


def test_none_fixtures_have_no_key_line(results: dict[str, TriageResult]) -> None:
    for name, entry in EXPECTED.items():
        if entry["category"] == "none":
            assert results[name].key_line is None
            assert results[name].evidence == []


def test_triage_imports_no_heavy_dependencies() -> None:
    code = (
        "import sys, adaptive_llm_local.triage as t; "
        "heavy = {'llama_cpp', 'chromadb', 'langchain_core', 'langgraph', 'numpy'} & set(sys.modules); "
        "sys.exit(f'imported {heavy}' if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
