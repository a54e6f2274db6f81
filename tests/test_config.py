"""Settings: every ``ADAPTIVE_LLM_*`` variable is read in config.py and reaches its user."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import ConfigError
from adaptive_llm_local.knowledge import (
    GUIDE,
    PIP_NAMES,
    PY2_MODULES,
    PY3_STDLIB_SINCE,
    REMOVED_MODULES,
)
from adaptive_llm_local.retrieval import Index, Thresholds
from adaptive_llm_local.retrieval.builtin import guide_text
from adaptive_llm_local.retrieval.calibration import DEFAULT

PACKAGE = Path(__file__).resolve().parent.parent / "adaptive_llm_local"


def test_index_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_HOME", str(tmp_path))
    monkeypatch.setenv("ADAPTIVE_LLM_INDEX_LOCK_TIMEOUT", "2.5")
    monkeypatch.setenv("ADAPTIVE_LLM_INDEX_MAX_DISTANCE", "0.1, 0.2,0.3,0.4")
    monkeypatch.delenv("ADAPTIVE_LLM_CHROMA_URL", raising=False)
    settings = Settings.from_env()
    assert settings.index_lock_timeout == 2.5
    assert settings.index_max_distance == (0.1, 0.2, 0.3, 0.4)
    index = Index(settings, embedder=object())  # type: ignore[arg-type]  # nothing is embedded
    assert index.thresholds == Thresholds(failure=0.1, text=0.2, doc=0.3, overlap=0.4)
    monkeypatch.delenv("ADAPTIVE_LLM_INDEX_MAX_DISTANCE")
    assert Index(Settings.from_env(), embedder=object()).thresholds == DEFAULT  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ADAPTIVE_LLM_INDEX_LOCK_TIMEOUT", "soon", "must be a number of seconds"),
        ("ADAPTIVE_LLM_INDEX_MAX_DISTANCE", "0.1,0.2", "must be four numbers"),
        ("ADAPTIVE_LLM_MAX_TOKENS", "many", "must be an integer"),
        ("ADAPTIVE_LLM_CHECKS", "maybe", "must be 1 or 0"),
        ("ADAPTIVE_LLM_CHECK_TIMEOUT", "soon", "must be a number of seconds"),
        ("ADAPTIVE_LLM_CHECK_TIMEOUT", "0", "must be a number of seconds, more than 0"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name} {message}"):
        Settings.from_env()


def test_machine_check_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPTIVE_LLM_CHECKS", raising=False)
    monkeypatch.delenv("ADAPTIVE_LLM_CHECK_TIMEOUT", raising=False)
    assert (Settings.from_env().checks, Settings.from_env().check_timeout) == (True, 5.0)
    monkeypatch.setenv("ADAPTIVE_LLM_CHECKS", "0")
    monkeypatch.setenv("ADAPTIVE_LLM_CHECK_TIMEOUT", "1.5")
    settings = Settings.from_env()
    assert (settings.checks, settings.check_timeout) == (False, 1.5)


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "ADAPTIVE_LLM_HOME": str(tmp_path), "ADAPTIVE_LLM_N_CTX": "lots"}
    done = subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", "doctor", "--no-load"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "ADAPTIVE_LLM_N_CTX must be an integer" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def _environment_reads(path: Path) -> list[str]:
    """``ADAPTIVE_LLM_*`` names this module reads from the environment (directly or by constant)."""
    tree = ast.parse(path.read_text())
    constants = {
        target.id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }

    def name_of(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name):
            return constants.get(expr.id)
        return None

    def is_environ(expr: ast.expr) -> bool:
        return isinstance(expr, ast.Attribute) and expr.attr == "environ"

    found = []
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            getenv = isinstance(func, ast.Attribute) and func.attr == "getenv"
            environ_get = (
                isinstance(func, ast.Attribute) and func.attr == "get" and is_environ(func.value)
            )
            if getenv or environ_get:
                key = node.args[0]
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            key = node.left
        name = name_of(key) if key is not None else None
        if name and name.startswith("ADAPTIVE_LLM_"):
            found.append(name)
    return found


def test_only_config_reads_adaptive_llm_variables(tmp_path: Path) -> None:
    readers = {
        str(path.relative_to(PACKAGE)): names
        for path in PACKAGE.rglob("*.py")
        if path.name != "config.py" and (names := _environment_reads(path))
    }
    assert readers == {}
    # the check finds such a read, also through a constant
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nLIMIT = 'ADAPTIVE_LLM_X'\nos.environ.get(LIMIT)\n")
    assert _environment_reads(probe) == ["ADAPTIVE_LLM_X"]


def test_the_troubleshooting_guide_covers_every_category() -> None:
    """One guide for people and the index; the short per-category table must match its sections."""
    text = guide_text()
    sections = set(re.findall(r"^## .*\(`(\w+)`\)$", text, re.M))
    assert sections == set(GUIDE) - {"none"}


def test_the_guide_lists_what_the_knowledge_tables_say() -> None:
    """knowledge.py's module tables and data/troubleshooting.md say the same."""
    text = " ".join(guide_text().split())
    for module, since in PY3_STDLIB_SINCE.items():
        assert f"`{module}` ({since})" in text, module
    for module, (version, way) in REMOVED_MODULES.items():
        assert f"`{module}`" in text and f"{version}: {way}" in text, module
    for old, new in PY2_MODULES.items():
        assert f"`{old}` → `{new}`" in text, old
    for name, package in PIP_NAMES.items():
        assert f"`{name}` → `{package}`" in text, name


def _guide_commands() -> list[re.Pattern[str]]:
    """The command templates of the guide's "Commands and settings" section as patterns."""
    text = guide_text()
    section = text.split("## Commands and settings the diagnoses name", 1)[1].split("\n## ", 1)[0]
    templates = re.findall(r"`([^`]+)`", " ".join(section.split()))
    placeholders = r"\b(?:JOBID|NODE|PACKAGE|INTERPRETER|FILE|SCRIPT|PROGRAM|OFFSET|MODULE|N)\b"
    patterns = []
    for template in templates:
        parts = re.split(f"({placeholders})", template)
        body = "".join(r"\S+" if re.fullmatch(placeholders, p) else re.escape(p) for p in parts)
        patterns.append(re.compile(body))
    return patterns


_COMMAND_WORDS = (
    "sacct",
    "sinfo",
    "scontrol",
    "scancel",
    "#SBATCH",
    "pip",
    "python",
    "bash",
    "chmod",
    "gdb",
    "addr2line",
    "ldd",
    "export",
    "df",
    "dmesg",
    "journalctl",
    "nvidia-smi",
    "ulimit",
    "kill",
    "extra_scheduler",
    "#PBS",
    "#BSUB",
)


def test_every_command_a_diagnosis_names_is_in_the_guide() -> None:
    """9b's grounding accepts a command only from the guide (or a check's result)."""
    from adaptive_llm_local.diagnose.explain import explain
    from adaptive_llm_local.triage import triage_file
    from adaptive_llm_local.triage.facts import extract_facts

    patterns = _guide_commands()
    logs = Path(__file__).resolve().parent / "fixtures" / "logs"
    seen = 0
    for log in sorted(logs.rglob("*.log")):
        result = triage_file(log)
        fix = explain(result, extract_facts(result)).fix_text
        for snippet in re.findall(r"`([^`]+)`", fix):
            first = snippet.split()[0].rsplit("/", 1)[-1] if snippet.split() else ""
            if not any(first.startswith(w) for w in _COMMAND_WORDS):
                continue
            seen += 1
            assert any(p.fullmatch(snippet) for p in patterns), (log.name, snippet)
    assert seen > 50
