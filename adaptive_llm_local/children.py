"""Child processes the library starts while it runs, kept apart from the folders it inspects.

A program picks up files from the folder it starts in: Python puts the working directory
first on ``sys.path`` for ``-c`` and ``-m`` (so a ``json.py`` there runs on ``import
json``), and an empty or relative entry of ``PATH`` or ``LD_LIBRARY_PATH`` means that
folder. A failed job's folder, its log's folder and the folder ``diagnose`` was started
in may be writable by other users (a shared scratch space), so every child the library
starts at run time (the module check, ``scontrol``/``sacct``, the llama.cpp start-up
check) runs in a folder only root may write (:func:`neutral_cwd`), and finds programs and
libraries through absolute ``PATH`` and ``LD_LIBRARY_PATH`` entries only. A folder a
check looks at is handed to the child as data (an argument), never as its working
directory or a place to import from.

The jobs the scheduler runs on purpose, and the install and bench tools, are not run
through here.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_SEARCH_PATHS = ("PATH", "LD_LIBRARY_PATH")
_MINIMAL = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


def absolute_entries(value: str | None) -> str:
    """``value`` (a ``:``-separated search path) with its empty and relative entries dropped."""
    return os.pathsep.join(p for p in (value or "").split(os.pathsep) if os.path.isabs(p))


def search_path() -> str:
    """This process's ``PATH`` without entries that mean the working directory."""
    return absolute_entries(os.environ.get("PATH", os.defpath)) or os.defpath


def which(program: str) -> str | None:
    """The absolute path of ``program`` found through :func:`search_path`, or ``None``."""
    if os.sep in program:
        return program if os.path.isabs(program) else None
    found = shutil.which(program, path=search_path())
    return os.path.abspath(found) if found else None


def inherited_env(**extra: str) -> dict[str, str]:
    """This process's environment with ``PATH``/``LD_LIBRARY_PATH`` made absolute, plus ``extra``."""
    env = dict(os.environ)
    _clean(env)
    env.update(extra)
    return env


def minimal_env(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """Only what a program needs to start: search paths (absolute entries), home, locale."""
    source = os.environ if source is None else source
    env = {k: source[k] for k in (*_SEARCH_PATHS, *_MINIMAL) if k in source}
    _clean(env)
    return env


def _clean(env: dict[str, str]) -> None:
    env["PATH"] = absolute_entries(env.get("PATH", os.defpath)) or os.defpath
    if "LD_LIBRARY_PATH" in env:
        kept = absolute_entries(env["LD_LIBRARY_PATH"])
        if kept:
            env["LD_LIBRARY_PATH"] = kept
        else:
            del env["LD_LIBRARY_PATH"]


@contextmanager
def neutral_cwd() -> Iterator[str]:
    """A working directory nobody but root may write: ``/``, else a fresh private folder.

    ``/`` belongs to root and only root may write it on any sane system, and using it
    writes nothing (the checks promise not to write); where it is not so, an empty folder
    only this user may enter (``mkdtemp``, mode 0700) is made and removed afterwards.

    Yields
    ------
    str
        The folder's absolute path: the child's working directory.
    """
    if _root_only("/"):
        yield "/"
        return
    path = tempfile.mkdtemp(prefix="adaptive-llm-child-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _root_only(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
