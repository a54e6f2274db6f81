"""A path the agent names, checked as text: inside the root, printable, not too long.

The first of the sandbox's two checks (:mod:`.nofollow` is the second, while opening):
no NUL byte, no control, line-break, bidi or invisible character, no ``~``, not too
long, and inside the root after ``..`` and symbolic links are resolved.
langchain-community's ``FileManagementToolkit`` stops after a check like this one.
"""

from __future__ import annotations

import os

from ..visible import hidden_in_name, visible
from .errors import ToolError

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255


def refuse_hidden(path: str, where: str = "the path") -> None:
    """Refuse a path holding a control, line-break, bidi or invisible character.

    Such a name can make an approval prompt show something else than what is written
    (a newline starts a fake diff line, a bidi override shows ``txt.py`` as ``yp.txt``);
    the message names the character by its escape and shows the path escaped.
    """
    found = hidden_in_name(path)
    if found is not None:
        index, escape, kind = found
        shown = visible(path[:200], name=True) + ("…" if len(path) > 200 else "")
        raise ToolError(
            f"{where} {shown} holds a {kind} ({escape}, character {index + 1}); "
            "names with control, line-break, bidi or invisible characters are refused"
        )


def is_notebook(path: str) -> bool:
    return path.lower().endswith(".ipynb")


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def checked_relative(user_path: object, real_root: str, given_root: str) -> str:
    """``user_path`` relative to ``real_root`` (``"."`` is the root itself).

    ``given_root`` is the root as it was named (before its own links were resolved): an
    absolute path under either name is inside.

    Raises
    ------
    ToolError
        For a path that is not text, has a NUL byte or a control, line-break, bidi
        or invisible character (:func:`refuse_hidden`), starts with ``~``, is too
        long, or leads outside the root (``..``, absolute, or a symbolic link).
    """
    if not isinstance(user_path, str):
        raise ToolError(f"a path must be text, got {type(user_path).__name__}")
    path = user_path.strip() or "."
    if "\x00" in path:
        raise ToolError("the path contains a NUL byte; refused")
    refuse_hidden(user_path)
    too_long = len(path) > MAX_PATH_CHARS or any(
        len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in path.split("/")
    )
    if too_long:
        raise ToolError(f"the path is too long ({len(path)} characters); refused")
    if path.startswith("~"):
        raise ToolError(f"{path}: `~` is not expanded here; give a path inside the run folder")
    candidate = path if os.path.isabs(path) else os.path.join(real_root, path)
    lexical = os.path.normpath(candidate)
    if not any(inside(lexical, root) for root in (real_root, given_root)):
        if os.path.isabs(path):
            raise ToolError(f"{path}: absolute path outside the run folder {real_root}; refused")
        raise ToolError(f"{path}: `..` leads outside the run folder; refused")
    resolved = os.path.realpath(candidate)
    if not inside(resolved, real_root):
        raise ToolError(
            f"{path}: a symbolic link on this path leads outside the run folder; refused"
        )
    rel = os.path.relpath(resolved, real_root)
    refuse_hidden(rel, "a symbolic link on this path leads to")
    return rel
