"""``make bundle``: one archive that installs the assistant on a machine with no network.

The archive holds every wheel the package needs at the versions installed here
(including the portable llama-cpp-python wheel from :mod:`adaptive_llm_local.install.wheel`),
the default model with its manifest and a ``SHA256SUMS`` file, and ``install.sh``. Run
on a machine with the network and the cluster's Python version::

    python -m adaptive_llm_local.install.bundle --out dist
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .. import __version__
from ..config import CHECKOUT_DIR, Settings
from ..models import MANIFEST_NAME, load_manifest, resolve_chat_model, sha256_of, verify_checksum
from . import wheel as llama_wheel

NAME = "adaptive-llm-local"


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def bundle_name() -> str:
    """``adaptive-llm-local-0.1.0-offline-py3.11-x86_64``: the Python and CPU it is for."""
    return f"{NAME}-{__version__}-offline-py{python_version()}-{platform.machine()}"


def constraints() -> str:
    """The versions installed in this environment, so the bundle holds what was tested."""
    frozen = _pip("freeze", "--exclude-editable", capture=True)
    return "\n".join(line for line in frozen.splitlines() if "==" in line) + "\n"


def collect_wheels(folder: Path, llama: Path, work: Path) -> None:
    """Every wheel the package needs into ``folder``: ours, llama.cpp's, the dependencies."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(llama, folder / llama.name)
    _pip("wheel", "--quiet", "--no-deps", "-w", str(folder), str(CHECKOUT_DIR))
    ours = next(folder.glob("adaptive_llm_local-*.whl"))
    pins = work / "constraints.txt"
    pins.write_text(constraints())
    _pip("wheel", "--quiet", "--prefer-binary", "-w", str(folder), "--find-links", str(folder),
         "-c", str(pins), str(ours))  # fmt: skip
    if not filecmp.cmp(folder / llama.name, llama, shallow=False):
        sys.exit("error: pip replaced the portable llama-cpp-python wheel; bundle not written")


def copy_model(settings: Settings, folder: Path) -> Path:
    """The default model, its manifest entry, and a ``SHA256SUMS`` the installer checks."""
    model = resolve_chat_model(settings)
    digest = verify_checksum(model) or sha256_of(model.path)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(settings.models_dir)
    entry = manifest.get("models", {}).get(model.name, {"sha256": digest})
    small = {"default_chat": model.name, "models": {model.name: entry}}
    (folder / MANIFEST_NAME).write_text(json.dumps(small, indent=2) + "\n")
    (folder / "SHA256SUMS").write_text(f"{digest}  {model.name}\n")
    shutil.copy2(model.path, folder / model.name)
    return folder / model.name


def build_bundle(out: Path, settings: Settings, llama: Path | None = None) -> Path:
    """Write ``out/<bundle_name()>.tar`` and return its path."""
    llama = llama or llama_wheel.build("portable")
    name = bundle_name()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".bundle-") as tmp:
        stage = Path(tmp) / name
        collect_wheels(stage / "wheels", llama, Path(tmp))
        copy_model(settings, stage / "models")
        script = importlib.resources.files("adaptive_llm_local") / "data" / "install-offline.sh"
        (stage / "install.sh").write_text(script.read_text())
        (stage / "install.sh").chmod(0o755)
        (stage / "PYTHON_VERSION").write_text(python_version() + "\n")
        partial = Path(tmp) / f"{name}.tar"
        with tarfile.open(partial, "w") as tar:  # wheels and GGUF files hardly compress
            tar.add(stage, arcname=name)
        archive = out / f"{name}.tar"
        partial.replace(archive)
    return archive


def _pip(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=capture, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"error: `pip {' '.join(args[:2])} …` failed (exit {done.returncode})")
    return done.stdout or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptive_llm_local.install.bundle")
    parser.add_argument("--out", default="dist", help="folder for the archive (default: dist)")
    parser.add_argument("--llama-wheel", help="llama-cpp-python wheel (default: the portable one)")
    args = parser.parse_args(argv)
    llama = Path(args.llama_wheel) if args.llama_wheel else None
    archive = build_bundle(Path(args.out), Settings.from_env(), llama)
    size = archive.stat().st_size / 1e6
    print(f"{archive} ({size:.0f} MB). On the cluster: tar xf {archive.name} && "
          f"sh {archive.name.removesuffix('.tar')}/install.sh")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
