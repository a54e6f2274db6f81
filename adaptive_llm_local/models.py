"""Find and check GGUF files on local disk. Nothing here touches the network."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .config import CHECKOUT_DIR, Settings
from .errors import ModelCorruptError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"
MANIFEST_NAME = "manifest.json"
_HASH_CACHE = ".sha256-cache.json"


@dataclass(frozen=True)
class ModelFile:
    """A GGUF file on disk and what the manifest says about it."""

    path: Path
    expected_sha256: str | None = None
    expected_size: int | None = None

    @property
    def name(self) -> str:
        return self.path.name


def load_manifest(models_dir: Path) -> dict:
    """The manifest of ``models_dir``, falling back to the one shipped in the checkout."""
    for candidate in (models_dir / MANIFEST_NAME, CHECKOUT_DIR / "models" / MANIFEST_NAME):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return {"default_chat": None, "models": {}}


def _fix_hint(settings: Settings) -> str:
    return (
        "Run `make models` (needs the network once), or copy a GGUF file into "
        f"{settings.models_dir} and/or set ADAPTIVE_LLM_MODEL=/path/to/model.gguf."
    )


def _resolve_name(value: str, models_dir: Path) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and not path.exists() and (models_dir / value).exists():
        return models_dir / value
    return path


def resolve_chat_model(settings: Settings) -> ModelFile:
    """The chat GGUF to use: ``settings.model``, else the manifest default, else the only GGUF.

    Raises
    ------
    ModelNotFoundError
        With the path that was looked for and how to get a model.
    """
    manifest = load_manifest(settings.models_dir)
    known = manifest.get("models", {})
    if settings.model:
        path = _resolve_name(settings.model, settings.models_dir)
        if not path.is_file():
            raise ModelNotFoundError(
                f"Model file not found: {path} (from ADAPTIVE_LLM_MODEL/--model). {_fix_hint(settings)}"
            )
    else:
        default = manifest.get("default_chat")
        path = settings.models_dir / default if default else settings.models_dir / "model.gguf"
        if not path.is_file():
            others = [p for p in chat_candidates(settings.models_dir) if p != path]
            if len(others) == 1:
                path = others[0]
            else:
                raise ModelNotFoundError(f"Model file not found: {path}. {_fix_hint(settings)}")
    meta = known.get(path.name, {})
    return ModelFile(path=path, expected_sha256=meta.get("sha256"), expected_size=meta.get("size"))


def resolve_embed_model(settings: Settings) -> ModelFile | None:
    """A dedicated embedding GGUF, or ``None`` to use the chat model's own embeddings."""
    if settings.embed_model:
        path = _resolve_name(settings.embed_model, settings.models_dir)
        if not path.is_file():
            raise ModelNotFoundError(
                f"Embedding model not found: {path} (from ADAPTIVE_LLM_EMBED_MODEL). "
                "Point it at a GGUF file, or unset it to use the chat model's embeddings."
            )
        return ModelFile(path=path)
    found = sorted(settings.models_dir.glob("*embed*.gguf")) if settings.models_dir.is_dir() else []
    return ModelFile(path=found[0]) if found else None


def chat_candidates(models_dir: Path) -> list[Path]:
    """GGUF files in ``models_dir`` that are not embedding models."""
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.glob("*.gguf") if "embed" not in p.name.lower())


def check_header(model: ModelFile) -> None:
    """Cheap sanity check before llama.cpp sees the file: it exists, is a GGUF, has the right size.

    Raises
    ------
    ModelNotFoundError, ModelCorruptError
    """
    path = model.path
    if not path.exists():
        raise ModelNotFoundError(
            f"Model file not found: {path}. Run `make models` or set ADAPTIVE_LLM_MODEL."
        )
    if path.is_dir():
        raise ModelCorruptError(
            f"Model path is a directory, not a GGUF file: {path}. Set ADAPTIVE_LLM_MODEL to the .gguf file."
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelCorruptError(f"Cannot read model file {path}: {exc.strerror}.") from None
    if magic != GGUF_MAGIC:
        raise ModelCorruptError(
            f"Model file {path} is not a GGUF file (it starts with {magic!r}, not b'GGUF'). "
            "Delete it and run `make models`, or point ADAPTIVE_LLM_MODEL at a valid .gguf."
        )
    size = path.stat().st_size
    if model.expected_size is not None and size != model.expected_size:
        raise ModelCorruptError(
            f"Model file {path} is {size} bytes but should be {model.expected_size} "
            "(an interrupted copy?). Delete it and run `make models`."
        )


def sha256_of(path: Path, *, use_cache: bool = True) -> str:
    """sha256 of a file, cached by (size, mtime) next to it so big models hash once."""
    stat = path.stat()
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    cache_file = path.parent / _HASH_CACHE
    cache: dict[str, str] = {}
    if use_cache and cache_file.is_file():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    value = digest.hexdigest()
    if use_cache:
        cache[key] = value
        try:
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(cache, indent=1))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # read-only models folder: hashing again next time is fine
    return value


def verify_checksum(model: ModelFile) -> str | None:
    """Check the sha256 against the manifest; return the digest, or ``None`` when unknown.

    Raises
    ------
    ModelCorruptError
        When the manifest knows the file and the digest differs.
    """
    if model.expected_sha256 is None:
        return None
    digest = sha256_of(model.path)
    if digest != model.expected_sha256:
        raise ModelCorruptError(
            f"Model file {model.path} has sha256 {digest[:16]}… but the manifest expects "
            f"{model.expected_sha256[:16]}…. Delete it and run `make models`."
        )
    return digest


# --- GGUF metadata (read without llama.cpp) ----------------------------------------------

_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_GGUF_MAX_STRING = 1 << 24  # a chat template is a few KB; anything this big is not metadata


def gguf_string(path: Path, key: str) -> str | None:
    """The string value of metadata ``key`` in a GGUF file (e.g. ``tokenizer.chat_template``).

    Reads only the header (the metadata comes before the tensors), without loading the
    model; ``None`` when the key is missing or the file is not a GGUF version 2+ file.
    """
    import struct

    def read(fh: BinaryIO, fmt: str) -> int:
        size = struct.calcsize(fmt)
        data = fh.read(size)
        if len(data) != size:
            raise EOFError
        return int(struct.unpack(fmt, data)[0])

    def skip_value(fh: BinaryIO, kind: int) -> None:
        if kind in _GGUF_SCALARS:
            fh.seek(_GGUF_SCALARS[kind], os.SEEK_CUR)
        elif kind == _GGUF_STRING:
            fh.seek(read(fh, "<Q"), os.SEEK_CUR)
        elif kind == _GGUF_ARRAY:
            item, count = read(fh, "<I"), read(fh, "<Q")
            if item in _GGUF_SCALARS:
                fh.seek(_GGUF_SCALARS[item] * count, os.SEEK_CUR)
            else:
                for _ in range(count):
                    skip_value(fh, item)
        else:
            raise ValueError(kind)

    try:
        with Path(path).open("rb") as fh:
            if fh.read(4) != GGUF_MAGIC or read(fh, "<I") < 2:
                return None
            read(fh, "<Q")  # tensors
            for _ in range(read(fh, "<Q")):
                length = read(fh, "<Q")
                if length > _GGUF_MAX_STRING:
                    return None
                name = fh.read(length).decode("utf-8", "replace")
                kind = read(fh, "<I")
                if name == key and kind == _GGUF_STRING:
                    size = read(fh, "<Q")
                    if size > _GGUF_MAX_STRING:
                        return None
                    return fh.read(size).decode("utf-8", "replace")
                skip_value(fh, kind)
    except (OSError, EOFError, ValueError):
        return None
    return None
