"""Rules checked against fresh output of this Python and, when present, of a real SLURM."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from adaptive_llm_local.triage import triage_file, triage_text

PROGRAMS = {
    "missing_module": (
        "import json\nprint('start', flush=True)\nimport adaptive_llm_nonexistent_mod\n",
        "ModuleNotFoundError",
        "ModuleNotFoundError: No module named 'adaptive_llm_nonexistent_mod'",
    ),
    "python_exception": (
        """
        def read(d, k):
            try:
                return d[k]
            except KeyError as exc:
                raise RuntimeError(f"missing {k}") from exc

        read({}, "alpha")
        """,
        "KeyError",
        "KeyError: 'alpha'",
    ),
    "syntax_error": ("def f(:\n    pass\n", "SyntaxError", None),
    "file_error": ("open('no/such/input.csv')\n", "FileNotFoundError", None),
    "out_of_memory": (
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, 300 * 2**20))
        blocks = [bytearray(50 * 2**20) for _ in range(20)]
        """,
        "MemoryError",
        "MemoryError",
    ),
}


@pytest.mark.parametrize("category", sorted(PROGRAMS))
def test_fresh_python_failure(category: str, tmp_path: Path) -> None:
    source, exception, key_line = PROGRAMS[category]
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(source).lstrip())
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    result = triage_text(proc.stdout)
    assert result.category == category, proc.stdout
    assert result.exception == exception
    assert result.key_line is not None and result.key_line in proc.stdout.splitlines()
    if key_line is not None:
        assert result.key_line == key_line


def test_fresh_segfault_under_bash(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text(
        f"#!/bin/bash\n{sys.executable} -c 'import ctypes; ctypes.string_at(0)'\necho done $?\n"
    )
    out = subprocess.run(
        ["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ).stdout
    result = triage_text(out)
    assert result.category == "segfault", out


# -- SLURM ----------------------------------------------------------------------------------


def _require_slurm() -> None:
    required = os.environ.get("ADAPTIVE_LLM_REQUIRE_SLURM") == "1"
    if shutil.which("sbatch") is None:
        if required:
            pytest.fail("ADAPTIVE_LLM_REQUIRE_SLURM=1 but sbatch is not on PATH")
        pytest.skip("sbatch not on PATH (run tests/slurm/start-slurm.sh)")
    ping = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, check=False)
    if ping.returncode != 0 or not ping.stdout.strip():
        if required:
            pytest.fail(f"SLURM does not answer: {ping.stderr.strip()}")
        pytest.skip("SLURM is installed but not running (run tests/slurm/start-slurm.sh)")


def _sbatch(tmp_path: Path, script: str, *args: str) -> tuple[str, Path]:
    tmp_path.chmod(0o755)
    job = tmp_path / "job.sh"
    job.write_text(textwrap.dedent(script).lstrip())
    out = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--oversubscribe",
            "-o",
            str(tmp_path / "slurm-%j.out"),
            "-D",
            str(tmp_path),
            *args,
            str(job),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    job_id = out.strip().split(";")[0]
    return job_id, tmp_path / f"slurm-{job_id}.out"


def _wait(job_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = subprocess.run(
            ["squeue", "-h", "-j", job_id], capture_output=True, text=True, check=False
        ).stdout
        if not queued.strip():
            time.sleep(0.5)
            return
        time.sleep(0.5)
    subprocess.run(["scancel", job_id], check=False)
    pytest.fail(f"SLURM job {job_id} did not finish within {timeout} s")


@pytest.mark.slurm
def test_slurm_srun_python_failure(tmp_path: Path) -> None:
    _require_slurm()
    job_id, out = _sbatch(
        tmp_path,
        f"""
        #!/bin/bash
        echo "job $SLURM_JOB_ID"
        srun --oversubscribe {sys.executable} -c 'import adaptive_llm_missing_mod'
        """,
        "--time=00:02:00",
        "--mem=256M",
    )
    _wait(job_id)
    result = triage_file(out)
    text = out.read_text()
    assert "srun: error:" in text
    assert result.category == "missing_module", text
    assert result.key_line == "ModuleNotFoundError: No module named 'adaptive_llm_missing_mod'"


@pytest.mark.slurm
def test_slurm_scancel(tmp_path: Path) -> None:
    _require_slurm()
    job_id, out = _sbatch(
        tmp_path,
        """
        #!/bin/bash
        for i in $(seq 1 120); do echo "step $i"; sleep 1; done
        """,
        "--time=00:05:00",
        "--mem=64M",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and "step 2" in out.read_text()):
        time.sleep(0.5)
    subprocess.run(["scancel", job_id], check=True)
    _wait(job_id)
    result = triage_file(out)
    assert result.category == "cancelled", out.read_text()
    assert result.key_line is not None and f"JOB {job_id}" in result.key_line


@pytest.mark.slurm
def test_slurm_memory_limit(tmp_path: Path) -> None:
    _require_slurm()
    mode = Path("/etc/slurm/adaptive-llm-mode")
    if not mode.exists() or mode.read_text().strip() != "cgroup":
        pytest.skip("SLURM runs without cgroup memory enforcement here")
    job_id, out = _sbatch(
        tmp_path,
        f"""
        #!/bin/bash
        {sys.executable} -c 'b = [bytearray(20 * 2**20) for _ in range(50)]'
        """,
        "--time=00:02:00",
        "--mem=100M",
    )
    _wait(job_id)
    result = triage_file(out)
    assert result.category == "out_of_memory", out.read_text()
    assert result.key_line is not None and "oom-kill" in result.key_line


@pytest.mark.slurm
def test_start_slurm_script_is_idempotent() -> None:
    _require_slurm()
    if os.geteuid() != 0:
        pytest.skip("start-slurm.sh needs root")
    script = Path(__file__).parent / "slurm" / "start-slurm.sh"
    proc = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready (mode:" in proc.stdout
    assert "restarting" not in proc.stdout, "an unchanged setup must not restart SLURM"
