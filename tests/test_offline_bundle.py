"""``make bundle`` for real: build the archive, install it with no network, diagnose a log.

Building needs the package index (it collects the wheels); installing and diagnosing run
inside ``unshare -rn``, a network namespace with nothing but loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from adaptive_llm_local.install import wheel as llama_wheel
from adaptive_llm_local.runtime import build as llama_build

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
LOG = "python_exception/keyerror_a.log"


def _offline() -> list[str]:
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    probe = subprocess.run([unshare or "false", "-rn", "true"], capture_output=True, check=False)
    if not (unshare and ip) or probe.returncode != 0:
        pytest.skip("unshare -rn is not available on this machine")
    return [unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user on the cluster: none of this checkout's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADAPTIVE_LLM_", "PIP_"))}
    return {**env, **extra}


def test_bundle_installs_and_diagnoses_with_the_network_off(tmp_path: Path) -> None:
    offline = _offline()
    kind = "portable" if llama_build.cpu_variants(llama_build.lib_dir()) else "native"
    wheel = llama_wheel.cached_wheel(kind)
    assert wheel is not None, f"no {kind} llama-cpp-python wheel cached: run `make install`"
    built = subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.install.bundle", "--out", str(tmp_path),
         "--llama-wheel", str(wheel)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (archive,) = tmp_path.glob("adaptive-llm-local-*-offline-*.tar")
    unpacked = tmp_path / "cluster"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (bundle,) = unpacked.iterdir()
    assert (bundle / "wheels" / wheel.name).is_file()

    venv = tmp_path / "venv"
    installed = subprocess.run(
        [*offline, "sh", str(bundle / "install.sh"), str(venv)],
        capture_output=True, text=True, timeout=1800, env=_clean_env(), check=False,
    )  # fmt: skip
    output = installed.stdout + installed.stderr
    assert installed.returncode == 0, output
    assert "SmolLM2-135M-Instruct.Q4_1.gguf: OK" in output and "ready" in output
    assert f'ADAPTIVE_LLM_HOME="{bundle}"' in (venv / "bin" / "activate").read_text()

    diagnosed = subprocess.run(
        [*offline, str(venv / "bin" / "adaptive-llm-local"), "diagnose", str(FIXTURES / LOG),
         "--json"],
        capture_output=True, text=True, timeout=600, check=False,
        env=_clean_env(ADAPTIVE_LLM_HOME=str(bundle)),
    )  # fmt: skip
    assert diagnosed.returncode == 0, diagnosed.stderr
    expected = json.loads((FIXTURES / "expected.json").read_text())[LOG]
    result = json.loads(diagnosed.stdout)
    assert result["category"] == expected["category"]
    assert result["key_line"] == expected["key_line"] and result["root_cause"]

    # a damaged model stops the installer before it creates anything
    with (bundle / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").open("ab") as fh:
        fh.write(b"\0")
    again = subprocess.run(
        [*offline, "sh", str(bundle / "install.sh"), str(tmp_path / "venv2")],
        capture_output=True, text=True, timeout=300, env=_clean_env(), check=False,
    )  # fmt: skip
    assert again.returncode != 0 and "FAILED" in again.stdout + again.stderr
    assert not (tmp_path / "venv2").exists()
