"""Child processes never run what is planted where they look, and crafted files never crash.

Modules named like everything the module check's probe and the start-up check's child
import (``json.py``, ``os.py``, ``site.py``, ``sitecustomize.py``, an ``importlib/``
package, a ``.pth`` with an ``import`` line, ...) are planted next to the failing
script, next to the log, in the folder ``diagnose`` runs in, and in the job
environment's site-packages; each writes a marker file if it ever runs. Real
interpreters (this venv's, the system's, Python 2.7 and 3.6 when there), a second real
user who owns the planted folder, the real ``adaptive-llm-local diagnose`` in a
subprocess, and the real start-up check child.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptive_llm_local.agent.edits import compiles
from adaptive_llm_local.agent.fixes import fix_indentation
from adaptive_llm_local.config import PACKAGE_DIR, Settings
from adaptive_llm_local.diagnose.check_python import import_name_check
from adaptive_llm_local.diagnose.checks import CheckResult, run_checks
from adaptive_llm_local.runtime import preflight
from adaptive_llm_local.runtime.preflight_plan import LoadPlan
from adaptive_llm_local.triage import triage_file
from adaptive_llm_local.triage.facts import extract_facts

pytestmark = pytest.mark.hostile("child processes")

REPO = PACKAGE_DIR.parent
SITE = next(p for p in sys.path if p.endswith("site-packages"))
# everything the probe, the preflight child and Python's start-up import by these names
MODULES = (
    "json",
    "os",
    "io",
    "site",
    "sitecustomize",
    "usercustomize",
    "difflib",
    "pkgutil",
    "imp",
    "keyword",
    "tokenize",
    "encodings",
    "importlib",
    "adaptive_llm_local",
    "llama_cpp",
)
PACKAGES = {"importlib", "encodings", "adaptive_llm_local"}
PYTHONS = [
    str(p)
    for p in (
        Path(sys.executable),
        Path("/usr/bin/python3"),
        Path.home() / ".pyenv" / "versions" / "3.6.15" / "bin" / "python3.6",
        Path.home() / ".pyenv" / "versions" / "2.7.18" / "bin" / "python2.7",
    )
    if p.exists()
]


def plant(folder: Path, markers: Path, tag: str, names: tuple[str, ...] = MODULES) -> None:
    """Modules (and a ``.pth``) in ``folder`` that leave ``markers/<tag>-<name>`` if run."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        code = code_for(markers, tag, name) + "\n"
        if name in PACKAGES:
            (folder / name).mkdir(exist_ok=True)
            (folder / name / "__init__.py").write_text(code)
        else:
            (folder / f"{name}.py").write_text(code)
    (folder / "planted.pth").write_text(f"import sys; {code_for(markers, tag, 'pth')}\n")


def code_for(markers: Path, tag: str, name: str) -> str:
    """One line that leaves a marker, even run while ``io`` or ``builtins.open`` is not set up."""
    return f"__import__('_io').open({str(markers / f'{tag}-{name}')!r}, 'w').close()"


def marker_dir(root: Path) -> Path:
    markers = root / "markers"
    markers.mkdir()
    markers.chmod(0o777)  # whoever runs a planted file can leave its mark
    return markers


def write_log(folder: Path, script: Path, exception: str, library: str | None = None) -> Path:
    lib = f'  File "{library}", line 9, in inner\n    pass\n' if library else ""
    log = folder / f"job-{uuid.uuid4().hex[:6]}.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        f'  File "{script}", line 3, in <module>\n    work()\n{lib}{exception}\n'
    )
    return log


def checks(log: Path, **kwargs: object) -> dict[str, CheckResult]:
    result = triage_file(log)
    found = run_checks(result, extract_facts(result), **kwargs)  # type: ignore[arg-type]
    return {c.name: c for c in found}


@pytest.fixture(scope="module")
def job_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real venv (root's, 0755) whose site-packages holds planted startup files."""
    root = tmp_path_factory.mktemp("jobenv")
    markers = marker_dir(root)
    env = root / "env"
    base = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = next(env.glob("lib/python3*/site-packages"))
    plant(site, markers, "venvsite", ("sitecustomize", "usercustomize"))
    (site / "zz_hook.pth").write_text(f"import sys; {code_for(markers, 'venvsite', 'hook')}\n")
    (site / "realpkg").mkdir()
    (site / "realpkg" / "__init__.py").write_text("")
    return env / "bin" / "python", markers


# -- the module check ------------------------------------------------------------------------


@pytest.mark.hostile("child processes", cases=25)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    places=st.sets(st.sampled_from(("script", "log", "cwd")), min_size=1),
    names=st.sets(st.sampled_from(MODULES), min_size=1).map(lambda s: tuple(sorted(s))),
    missing=st.sampled_from(("numpyx", "helpers_here", "json", "pkgutil", "sitecustomize")),
    python=st.sampled_from([*PYTHONS, "venv"]),
)
def test_nothing_planted_next_to_the_job_ever_runs_in_the_module_check(
    tmp_path_factory: pytest.TempPathFactory,
    job_venv: tuple[Path, Path],
    places: set[str],
    names: tuple[str, ...],
    missing: str,
    python: str,
) -> None:
    root = tmp_path_factory.mktemp("planted")
    markers = marker_dir(root)
    folders = {p: root / p for p in ("script", "log", "cwd")}
    for place, folder in folders.items():
        folder.mkdir()
        if place in places:
            plant(folder, markers, place, names)
    (folders["script"] / "helpers_here.py").write_text(code_for(markers, "script", "helpers"))
    interpreter = str(job_venv[0]) if python == "venv" else python
    log = write_log(
        folders["log"], folders["script"] / "run.py", f"ImportError: No module named {missing}"
    )
    with contextlib.chdir(folders["cwd"]):
        found = checks(log, interpreter=interpreter, timeout=20.0)["module_findable"]
    assert sorted(os.listdir(markers)) == [] and os.listdir(job_venv[1]) == []
    assert found.status in ("ok", "problem"), found  # the check ran
    planted_there = missing == "helpers_here" or ("script" in places and missing in names)
    if planted_there:  # found where the job would have found it, and not run
        assert found.status == "ok" and str(folders["script"]) in found.detail["origin"], found
    elif missing == "numpyx":
        assert found.status == "problem", found


def test_the_venvs_own_pth_hooks_are_listed_not_run(job_venv: tuple[Path, Path]) -> None:
    python, markers = job_venv
    log_dir = Path(os.path.dirname(python)).parent
    log = write_log(log_dir, Path("/nowhere/run.py"), "ModuleNotFoundError: No module named 'x1'")
    found = checks(log, interpreter=str(python))["module_findable"]
    assert found.status == "problem" and os.listdir(markers) == []
    assert "zz_hook.pth" in found.detail["pth_hooks_not_run"]
    log.write_text(log.read_text().replace("'x1'", "'realpkg'"))
    found = checks(log, interpreter=str(python))["module_findable"]
    assert found.status == "ok" and "site-packages/realpkg" in found.detail["origin"], found


@contextlib.contextmanager
def throwaway_user() -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create a second user")
    name = f"plant{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"useradd failed: {done.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o1777])
def test_a_folder_another_user_wrote_runs_nothing_as_root(tmp_path: Path, mode: int) -> None:
    markers = marker_dir(tmp_path)
    scratch = tmp_path / "scratch"
    with throwaway_user() as other:
        plant(scratch, markers, "other")
        (scratch / "run.py").write_text("import helpers\n")
        for path in (scratch, *scratch.rglob("*")):
            os.chown(path, other.pw_uid, other.pw_gid)
        scratch.chmod(mode)
        log = write_log(
            scratch, scratch / "run.py", "ModuleNotFoundError: No module named 'helpers'", None
        )
        os.chown(log, other.pw_uid, other.pw_gid)
        for python in PYTHONS:
            with contextlib.chdir(scratch):
                found = checks(log, interpreter=python, timeout=20.0)["module_findable"]
            assert os.listdir(markers) == [], python
            assert found.status == "problem", (python, found)


# -- the real CLI ------------------------------------------------------------------------------


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "adaptive-llm-local"
    if script.exists():  # as a user runs it: its own folder, not the cwd, is on sys.path
        return [sys.executable, str(script)]
    return [sys.executable, "-P", "-m", "adaptive_llm_local.cli"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*cli_command(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_real_diagnose_in_a_planted_folder_runs_nothing(tmp_path: Path, home: Path) -> None:
    markers = marker_dir(tmp_path)
    folders = {p: tmp_path / p for p in ("script", "log", "cwd")}
    for place, folder in folders.items():
        plant(folder, markers, place)
    log = write_log(
        folders["log"],
        folders["script"] / "run.py",
        "ModuleNotFoundError: No module named 'helpers_gone'",
        f"{SITE}/foo/bar.py",
    )
    done = run_cli("diagnose", str(log), "--json", "--no-index", cwd=folders["cwd"])
    assert os.listdir(markers) == []
    assert done.returncode == 0, done.stderr[-2000:]
    found = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert found["module_findable"]["status"] == "problem", found


# -- the start-up check's child ----------------------------------------------------------------


@pytest.mark.parametrize("pythonpath", ["", ".", ":"])
def test_the_preflight_child_imports_nothing_from_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pythonpath: str
) -> None:
    markers = marker_dir(tmp_path)
    here = tmp_path / "shared"
    plant(here, markers, "cwd")
    monkeypatch.chdir(here)
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    monkeypatch.setenv("PATH", f".:{os.environ.get('PATH', '')}")
    missing = tmp_path / "no-such-model.gguf"
    attempt, _ = preflight.run_child(
        LoadPlan(), {"model": str(missing), "n_gpu_layers": 0}, Settings.from_env()
    )
    assert os.listdir(markers) == []
    assert attempt.outcome == "error" and "no-such-model" in attempt.detail, attempt


def test_a_relative_model_path_still_reaches_the_preflight_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(preflight, "_RESULTS", {})
    (tmp_path / "m.gguf").symlink_to(model_path)
    monkeypatch.chdir(tmp_path)
    from adaptive_llm_local.models import ModelFile

    result = preflight.check(
        ModelFile(Path("m.gguf")), n_gpu_layers=0, n_threads=None, settings=Settings.from_env()
    )
    assert result.plan is not None and result.attempts[-1].outcome == "ok", result
    assert not [a for a in result.attempts if a.outcome == "error"], result


# -- files a log names, crafted to break a parser ----------------------------------------------

CRAFTED = {
    "unary_minus": b"-" * 200_000 + b"1\n",
    "open_brackets": b"[" * 100_000 + b"\n",
    "closed_brackets": b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "attribute_chain": b"x = a" + b".a" * 400_000 + b"\n",
    "call_chain": b"x = a" + b"()" * 400_000 + b"\n",
    "huge_line": b"x = " + b"1+" * 900_000 + b"1\n",
    "nested_ifs": b"".join(b"\t" * i + b"if 1:\n" for i in range(1_400)) + b"\t" * 1_400 + b"x=1\n",
    "many_lines": b"a=1\n" * 499_000 + b"def loads():\n    pass\n",
    "not_chain": b"not " * 200_000 + b"1\n",
    "bad_encoding": b"# -*- coding: no-such -*-\nx = 1\n",
    "nul_bytes": b"x = 1\0\0\n",
}


def _crafted(folder: Path, name: str) -> Path:
    path = folder / f"{name}.py"
    if name == "one_gigabyte":
        with path.open("wb") as fh:
            fh.write(b"def loads():\n    pass\n")
            fh.truncate(1 << 30)  # sparse: a 1 GB file that takes no disk
    else:
        path.write_bytes(CRAFTED[name])
    return path


def _import_name_log(folder: Path, module: Path) -> Path:
    return write_log(
        folder,
        folder / "run.py",
        f"ImportError: cannot import name 'loadz' from '{module.stem}' ({module})",
    )


@pytest.mark.parametrize("name", [*CRAFTED, "one_gigabyte"])
def test_a_crafted_module_file_is_a_clean_skip_or_an_answer(tmp_path: Path, name: str) -> None:
    module = _crafted(tmp_path, name)
    result = triage_file(_import_name_log(tmp_path, module))
    # Tokenizing the 2 MB many_lines file takes ~5 s on a slow 2-core CPU: give it room, the
    # bound on the wait is what is tested.
    timeout = 20.0 if name == "many_lines" else 5.0
    start = time.monotonic()
    found = import_name_check(extract_facts(result), timeout=timeout)
    assert time.monotonic() - start < timeout + 10
    assert len(found) == 1 and found[0].name == "import_name_defined"
    assert found[0].status in ("skipped", "problem"), found
    assert "\n" not in found[0].text and len(found[0].text) < 400, found[0].text
    if name == "many_lines":
        assert "the closest names it defines are `loads`" in found[0].text


def test_a_fifo_named_by_the_log_is_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "mod.py"
    os.mkfifo(fifo)
    result = triage_file(_import_name_log(tmp_path, fifo))
    start = time.monotonic()
    found = import_name_check(extract_facts(result), timeout=2.0)
    assert found[0].status == "skipped" and time.monotonic() - start < 10


def test_reading_a_crafted_file_stays_within_bounded_memory(tmp_path: Path) -> None:
    """In a fresh process: its peak memory is what the check costs (ast took over 1 GB)."""
    paths = [str(_crafted(tmp_path, n)) for n in ("many_lines", "huge_line", "unary_minus")]
    code = textwrap.dedent(
        f"""
        import resource, sys
        from adaptive_llm_local.diagnose.check_python import import_name_check
        from adaptive_llm_local.triage.facts import Fact, Facts
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for path in {paths!r}:
            names = dict(import_name="loadz", module="m", module_file=path)
            facts = Facts(tuple(Fact(k, v) for k, v in names.items()))
            print(import_name_check(facts, timeout=20.0)[0].status)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb = int(done.stdout.split()[-1])
    assert grown_mb < 200, done.stdout


@pytest.mark.parametrize("name", ["unary_minus", "attribute_chain", "call_chain", "not_chain"])
def test_crafted_sources_never_crash_the_chats_edit_checks(name: str) -> None:
    text = CRAFTED[name].decode()[:250_000]  # what the sandbox lets a tool read
    assert compiles("job.py", text) is False
    assert fix_indentation("job.py", "x = 1\n  " + text, 2) is None


@pytest.mark.parametrize("name", ["unary_minus", "attribute_chain", "many_lines"])
def test_the_real_diagnose_survives_a_log_naming_a_crafted_file(
    tmp_path: Path, home: Path, name: str
) -> None:
    module = _crafted(tmp_path, name)
    log = _import_name_log(tmp_path, module)
    start = time.monotonic()
    done = run_cli("diagnose", str(log), "--json", "--no-index", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    found = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert found["import_name_defined"]["status"] in ("skipped", "problem"), found
    assert time.monotonic() - start < 300
