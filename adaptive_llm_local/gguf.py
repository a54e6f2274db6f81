"""A GGUF file's metadata (its header), read without llama.cpp: what sizes a context.

llama.cpp allocates the key/value cache for the whole context window when it loads a
model; with a context far larger than memory it fails, or the kernel kills the process.
Reading the header first lets the caller say which setting is wrong before that happens.
The reader is bounded: it stops at the first key it does not need once it has what it
needs, and it refuses sizes no real header has.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from .regular_files import open_regular

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_KEYS = 1 << 16
_MAX_STRING = 1 << 24  # a chat template is a few KB; anything this big is not metadata
_MAX_ITEMS = 1 << 26
_WANTED = (
    "context_length",
    "block_count",
    "embedding_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
)


@dataclass(frozen=True)
class ModelShape:
    """What llama.cpp's key/value cache size depends on."""

    n_ctx_train: int
    n_layer: int
    n_head_kv: int
    key_length: int
    value_length: int

    def kv_cache_bytes(self, n_ctx: int, bytes_per_value: int = 2) -> int:
        """Bytes of the key/value cache for ``n_ctx`` tokens (f16 by default, as llama.cpp)."""
        per_token = self.n_layer * self.n_head_kv * (self.key_length + self.value_length)
        return n_ctx * per_token * bytes_per_value


def read_metadata(
    path: str | os.PathLike[str],
    wanted: Callable[[str], bool],
    done: Callable[[dict[str, Any]], bool] = lambda values: False,
) -> dict[str, Any] | None:
    """Metadata values of GGUF file ``path`` whose keys are ``wanted``.

    Reading stops at the first key not wanted once ``done(values)`` holds. ``None``
    when the file is not a GGUF (version 2+) file or its header is damaged.
    """
    try:
        with open_regular(path) as fh:
            return _read_keys(fh, wanted, done)
    except (OSError, ValueError, struct.error):
        return None


def read_string(path: str | os.PathLike[str], key: str) -> str | None:
    """The string value of metadata ``key`` (e.g. ``tokenizer.chat_template``); ``None``
    when the key is missing, is not a string, or the file is not a readable GGUF."""
    values = read_metadata(path, lambda name: name == key, lambda found: key in found)
    value = values.get(key) if values else None
    return value if isinstance(value, str) else None


def read_shape(path: str | os.PathLike[str]) -> ModelShape | None:
    """The shape of the model in GGUF file ``path``; ``None`` if its header does not say."""
    values = read_metadata(
        path, lambda key: key == "general.architecture" or key.endswith(_WANTED), _complete
    )
    if values is None:
        return None
    arch = values.get("general.architecture")
    if not isinstance(arch, str):
        return None
    get = {name: values.get(f"{arch}.{name}") for name in _WANTED}
    try:
        n_head = _largest(get["attention.head_count"])
        head_dim = _largest(get["embedding_length"]) // n_head
        return ModelShape(
            n_ctx_train=_largest(get["context_length"]),
            n_layer=_largest(get["block_count"]),
            n_head_kv=_largest(get["attention.head_count_kv"] or n_head),
            key_length=_largest(get["attention.key_length"] or head_dim),
            value_length=_largest(get["attention.value_length"] or head_dim),
        )
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _largest(value: Any) -> int:
    """An integer, or the largest of a per-layer list of them."""
    if isinstance(value, list):
        value = max(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"not a positive integer: {value!r}")
    return value


def _read_keys(
    fh: BinaryIO, wanted: Callable[[str], bool], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    if fh.read(4) != b"GGUF":
        raise ValueError("not a GGUF file")
    version, _n_tensors, n_keys = struct.unpack("<IQQ", _exact(fh, 20))
    if version < 2 or n_keys > _MAX_KEYS:
        raise ValueError(f"unsupported GGUF header (version {version}, {n_keys} keys)")
    values: dict[str, Any] = {}
    for _ in range(n_keys):
        key = _string(fh)
        kind = _unpack(fh, "<I")
        keep = wanted(key)
        if not keep and done(values):
            break  # e.g. the tokenizer's long arrays, after what is needed
        value = _value(fh, kind, keep=keep)
        if keep:
            values[key] = value
    return values


def _complete(values: dict[str, Any]) -> bool:
    arch = values.get("general.architecture")
    needed = ("context_length", "block_count", "embedding_length", "attention.head_count")
    return isinstance(arch, str) and all(f"{arch}.{name}" in values for name in needed)


def _value(fh: BinaryIO, kind: int, *, keep: bool) -> Any:
    if kind in _SCALARS:
        return _unpack(fh, _SCALARS[kind])
    if kind == _STRING:
        if keep:
            return _string(fh)
        fh.seek(_unpack(fh, "<Q"), os.SEEK_CUR)
        return None
    if kind != _ARRAY:
        raise ValueError(f"unknown GGUF value type {kind}")
    item_kind, count = struct.unpack("<IQ", _exact(fh, 12))
    if count > _MAX_ITEMS:
        raise ValueError(f"array of {count} items")
    if item_kind in _SCALARS and not keep:
        fh.seek(count * struct.calcsize(_SCALARS[item_kind]), os.SEEK_CUR)
        return None
    items = [_value(fh, item_kind, keep=keep) for _ in range(count)]
    return items if keep else None


def _string(fh: BinaryIO) -> str:
    length = _unpack(fh, "<Q")
    if length > _MAX_STRING:
        raise ValueError(f"string of {length} bytes")
    return _exact(fh, length).decode("utf-8", "replace")


def _unpack(fh: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _exact(fh, struct.calcsize(fmt)))[0]


def _exact(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ValueError("GGUF header cut short")
    return data
