"""Docs that ship with the assistant: the troubleshooting guide and the adaptive-scheduler API.

The API's docstrings are read from the installed package at run time (``inspect``), so
the index documents the version the user really runs. Both sources become ordinary doc
entries; each is one replacement group, so a new version replaces the old text.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator
from importlib import resources
from types import ModuleType
from typing import Any

from ..errors import AssistantError
from .chunking import Chunk, chunk_markdown, split_long
from .records import Entry, doc_entries

GUIDE_GROUP = "builtin:troubleshooting"
GUIDE_SOURCE = "troubleshooting.md"
API_GROUP = "api:adaptive_scheduler"


@functools.cache
def guide_text() -> str:
    """The troubleshooting guide shipped in ``adaptive_llm_local/data`` (the only copy; read
    once per process: every diagnosis and chat turn grounds against it)."""
    guide = resources.files("adaptive_llm_local").joinpath("data/troubleshooting.md")
    try:
        return guide.read_text("utf-8")
    except OSError as exc:
        raise AssistantError(
            f"The troubleshooting guide is missing from this installation ({exc}); "
            "reinstall adaptive-llm-local, or run `index add --no-builtin`."
        ) from None


def guide_entries() -> list[Entry]:
    return doc_entries(
        chunk_markdown(guide_text()),
        group=GUIDE_GROUP,
        source=GUIDE_SOURCE,
        name=GUIDE_SOURCE,
        doc_type="markdown",
        origin="builtin",
    )


def _public_objects(module: ModuleType) -> Iterator[tuple[str, Any]]:
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    for name in sorted(names):
        obj = getattr(module, name, None)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _span(obj: Any) -> tuple[str, int, int]:
    """Source file (relative to site-packages) and line range of ``obj``, when known."""
    with contextlib.suppress(TypeError, OSError):
        lines, start = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj) or ""
        marker = path.rfind("adaptive_scheduler")
        return (
            (path[marker:] if marker >= 0 else path),
            max(start, 1),
            max(start, 1) + len(lines) - 1,
        )
    return "", 0, 0


def _members(cls: type, package: str) -> Iterator[tuple[str, Any]]:
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        target = member.fget if isinstance(member, property) else member
        if not (inspect.isfunction(target) or inspect.ismethod(target)):
            continue
        if not getattr(target, "__module__", "").startswith(package) or not inspect.getdoc(member):
            continue
        yield name, member


def api_chunks(module: ModuleType) -> list[tuple[str, str, Chunk]]:
    """``(qualified name, source file, chunk)`` for every documented public class, function, method."""
    package = module.__name__.split(".")[0]
    out: list[tuple[str, str, Chunk]] = []

    def add(qualname: str, obj: Any, doc: str) -> None:
        path, start, end = _span(obj)
        text = f"{qualname}{_signature(obj)}\n\n{doc}"
        for piece in split_long(Chunk(text, 1, text.count("\n") + 1, qualname)):
            # cite the object's lines in its source file, whichever part of the docstring this is
            out.append((qualname, path, Chunk(piece.text, start, end, qualname)))

    for name, obj in _public_objects(module):
        qualname = f"{package}.{name}"
        doc = inspect.getdoc(obj) or ""
        if doc:
            add(qualname, obj, doc)
        if inspect.isclass(obj):
            for member_name, member in _members(obj, package):
                target = member.fget if isinstance(member, property) else member
                add(f"{qualname}.{member_name}", target, inspect.getdoc(member) or "")
    return out


def api_entries() -> tuple[list[Entry], str]:
    """Doc entries for the installed adaptive-scheduler, and its version ("" if not installed)."""
    try:
        import adaptive_scheduler
    except ImportError:
        return [], ""
    version = str(getattr(adaptive_scheduler, "__version__", ""))
    entries: list[Entry] = []
    for qualname, path, chunk in api_chunks(adaptive_scheduler):
        entries.extend(
            doc_entries(
                [chunk],
                group=API_GROUP,
                source=qualname,
                name=path or qualname,
                doc_type="python-api",
                origin="api",
                version=version,
            )
        )
    return entries, version
