"""Build llama-cpp-python once per version and build flags, keep the wheel, install from it.

``make install`` runs ``python -m adaptive_llm_local.install.wheel portable --install``.
pip's own wheel cache is keyed by the sdist's URL, not by ``CMAKE_ARGS``, so a plain
``pip install`` silently reuses whatever was built first; this module builds with
``--no-cache-dir`` into a folder named after the version and the flags
(``~/.cache/adaptive-llm-local/wheels/llama-cpp-python-<version>-<kind>-<hash>/``) and
installs that wheel. A fresh clone on a machine that has the folder compiles nothing.

Kinds
-----
portable
    Every x86-64 CPU variant, chosen at run time (``GGML_BACKEND_DL``,
    ``GGML_CPU_ALL_VARIANTS``; the variant libraries land next to ``libllama.so``).
native
    Only this machine's CPU (``-march=native``): may crash on other CPUs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config import wheel_cache_dir

VERSION = "0.3.36"
PACKAGE = "llama-cpp-python"
# LLAVA_BUILD=OFF: the multimodal library is never used here and takes minutes to build.
FLAGS = {
    "portable": (
        "-DGGML_NATIVE=OFF",
        "-DGGML_BACKEND_DL=ON",
        "-DGGML_CPU_ALL_VARIANTS=ON",
        "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib",
        "-DLLAVA_BUILD=OFF",
    ),
    "native": ("-DGGML_NATIVE=ON", "-DLLAVA_BUILD=OFF"),
}


def wheel_dir(kind: str, version: str = VERSION, cache: Path | None = None) -> Path:
    """The cache folder for one version and kind; its name changes with the flags."""
    flags = " ".join(FLAGS[kind])
    digest = hashlib.sha256(flags.encode()).hexdigest()[:10]
    return (cache or wheel_cache_dir()) / f"{PACKAGE}-{version}-{kind}-{digest}"


def cached_wheel(kind: str, version: str = VERSION, cache: Path | None = None) -> Path | None:
    """The built wheel of ``kind``, or ``None`` when it was never built here."""
    folder = wheel_dir(kind, version, cache)
    wheels = sorted(folder.glob("llama_cpp_python-*.whl")) if folder.is_dir() else []
    return wheels[-1] if wheels else None


def build(kind: str, version: str = VERSION, cache: Path | None = None) -> Path:
    """Compile the wheel into the cache (minutes; nothing when it is there already)."""
    found = cached_wheel(kind, version, cache)
    if found is not None:
        return found
    target = wheel_dir(kind, version, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    env = {**os.environ, "CMAKE_ARGS": " ".join(FLAGS[kind])}
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        sdist, out = Path(tmp) / "sdist", Path(tmp) / target.name
        print(f"Building {PACKAGE} {version} ({kind}) once into {target} …", flush=True)
        start = time.perf_counter()
        # the source archive may come from pip's HTTP cache; the build must not
        _run([*pip, "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", str(sdist),
              f"{PACKAGE}=={version}"], env)  # fmt: skip
        archive = next(sdist.iterdir())
        _run([*pip, "wheel", "--quiet", "--no-deps", "--no-cache-dir", "-w", str(out),
              str(archive)], env)  # fmt: skip
        minutes = (time.perf_counter() - start) / 60
        print(f"Built {PACKAGE} {version} ({kind}) in {minutes:.1f} min.", flush=True)
        try:
            os.replace(out, target)
        except OSError:  # another build finished first: keep its wheel
            if cached_wheel(kind, version, cache) is None:
                raise
    found = cached_wheel(kind, version, cache)
    assert found is not None
    return found


def install(wheel: Path) -> None:
    """Install ``wheel`` into this interpreter's environment, replacing any other build."""
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
          str(wheel)], dict(os.environ))  # fmt: skip


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"error: `{' '.join(command[:4])} …` failed (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adaptive_llm_local.install.wheel")
    parser.add_argument("kind", choices=sorted(FLAGS))
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--install", action="store_true", help="install it into this venv")
    parser.add_argument("--path", action="store_true", help="only print the cached wheel's path")
    args = parser.parse_args(argv)
    if args.path:
        found = cached_wheel(args.kind, args.version)
        if found is None:
            return 1
        print(found)
        return 0
    wheel = build(args.kind, args.version)
    if args.install:
        install(wheel)
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
