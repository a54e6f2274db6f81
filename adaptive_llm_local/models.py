"""Find and check GGUF files on local disk. Nothing here touches the network.

These are the files of the ``llama`` backend (``runtime.llama_backend``) and of the
offline bundle; a model elsewhere (a server) has none, and ``doctor`` checks a file only
where the model's capabilities name one (``local_file``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .config import CHECKOUT_DIR, Settings
from .errors import ModelCorruptError, ModelNotFoundError
from .regular_files import NotRegularFileError, file_kind, open_regular

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


def _not_a_model_file(path: Path, origin: str) -> ModelCorruptError | None:
    """Why ``path`` (which exists) cannot be a GGUF file: a folder, a FIFO, a device."""
    try:
        kind = file_kind(path.stat().st_mode)
    except OSError:
        return None  # missing or unreadable: the caller's message says so
    if kind is None:
        return None
    hint = f"Set {origin} to a .gguf file"
    if kind == "a folder":
        inside = sorted(p.name for p in path.glob("*.gguf"))[:5]
        hint += f" inside it ({', '.join(inside)})" if inside else ""
    return ModelCorruptError(f"Model path {path} is {kind}, not a GGUF file: not opened. {hint}.")


def _checked_path(path: Path, origin: str) -> Path:
    problem = _not_a_model_file(path, origin)
    if problem is not None:
        raise problem
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
        path = _checked_path(
            _resolve_name(settings.model, settings.models_dir), "ADAPTIVE_LLM_MODEL (--model)"
        )
        if not path.is_file():
            raise ModelNotFoundError(
                f"Model file not found: {path} (from ADAPTIVE_LLM_MODEL/--model). {_fix_hint(settings)}"
            )
    else:
        default = manifest.get("default_chat")
        path = settings.models_dir / default if default else settings.models_dir / "model.gguf"
        _checked_path(path, "ADAPTIVE_LLM_MODEL")
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
        path = _checked_path(
            _resolve_name(settings.embed_model, settings.models_dir), "ADAPTIVE_LLM_EMBED_MODEL"
        )
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
    _checked_path(path, "ADAPTIVE_LLM_MODEL")
    try:
        with open_regular(path) as fh:
            magic = fh.read(4)
    except NotRegularFileError as exc:
        raise ModelCorruptError(f"Model path {path} is {exc.kind}, not a GGUF file.") from None
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
    with open_regular(path) as fh:
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
