"""Read-only checks of the job's Python: can it find the missing module, which version.

The job's interpreter comes from the log (a ``.../bin/python`` path it prints, or the
environment its traceback's paths show); a child process of that interpreter looks the
top-level name up with ``importlib.util.find_spec`` (``imp.find_module`` on Python 2),
which finds a module without importing it, and reads the installed version from the
package metadata. Nothing is installed or imported from the missing package, and the
child is killed after the timeout.

An interpreter is only run when it and its environment's folders belong to root or to
the user running the check and nobody else may write them: a path in a log is not a
reason to run a program someone else controls.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import posixpath
import shutil
import stat
import subprocess

from ..triage.facts import Facts
from .check_result import CheckResult, CheckTimeout, bounded, skipped

# Runs under Python 2.7 and 3.x: no f-strings, nothing imported but the standard library.
_PROBE = r"""
import json, sys
name = sys.argv[1]
out = {"executable": sys.executable, "version": "%d.%d.%d" % tuple(sys.version_info[:3])}
try:
    import importlib.util
    spec = importlib.util.find_spec(name)
    out["found"] = spec is not None
    out["origin"] = (spec.origin or "") if spec is not None else ""
except ImportError:
    import imp
    try:
        handle, path, _ = imp.find_module(name)
        if handle:
            handle.close()
        out["found"], out["origin"] = True, path
    except ImportError:
        out["found"] = False
if out["found"]:
    try:
        from importlib import metadata
        dists = getattr(metadata, "packages_distributions", dict)().get(name) or [name]
        out["dist"] = dists[0]
        out["dist_version"] = metadata.version(dists[0])
    except Exception:
        pass
else:
    import difflib, pkgutil
    names = sorted(set(m[1] for m in pkgutil.iter_modules()))
    out["close"] = difflib.get_close_matches(name, names, 3, 0.75)
sys.stdout.write(json.dumps(out))
"""


def interpreter_candidates(facts: Facts, given: str | None = None) -> list[str]:
    """The job's Python as the log shows it: a path it prints, else its environment's."""
    if given:
        return [given]
    found = [p for p in facts.all("interpreter") if posixpath.basename(p).startswith("python")]
    prefix, version = facts.get("python_prefix"), facts.get("python_version")
    if prefix:
        short = ".".join((version or "").split(".")[:2])
        names = [f"python{short}"] if short else []
        found += [posixpath.join(prefix, "bin", n) for n in (*names, "python3", "python")]
    return list(dict.fromkeys(found))


def _trusted(path: str) -> str | None:
    """Why ``path`` must not be run, or None when it and its folders are safe to run."""
    me = os.getuid()
    real = os.path.realpath(path)
    for item in dict.fromkeys(
        (real, posixpath.dirname(path), posixpath.dirname(posixpath.dirname(path)))
    ):
        try:
            st = os.stat(item)
        except (OSError, ValueError) as exc:
            return f"{item} cannot be read ({getattr(exc, 'strerror', None) or exc})"
        if st.st_uid not in (0, me):
            return f"{item} belongs to uid {st.st_uid}, not to you or root"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return f"{item} may be written by other users"
    if not (os.path.isfile(real) and os.access(real, os.X_OK)):
        return f"{real} is not an executable file"
    return None


def module_checks(
    facts: Facts, *, timeout: float, interpreter: str | None = None
) -> list[CheckResult]:
    """``module_findable`` (and ``module_close_match``) for the log's missing module."""
    module = facts.get("top_module")
    if not module:
        return []
    candidates = [c for c in interpreter_candidates(facts, interpreter) if os.path.lexists(c)]
    if not candidates:
        shown = interpreter_candidates(facts, interpreter)
        why = (
            f"the job's Python ({', '.join(shown)}) is not on this machine"
            if shown
            else "the log does not show which Python the job ran"
        )
        return [skipped("module_findable", f"Not checked whether `{module}` is installed: {why}.")]
    python = candidates[0]
    refused = _trusted(python)
    if refused:
        return [skipped("module_findable", f"Not checked with {python}: {refused}.")]
    folder = posixpath.dirname(facts.get("frame_file") or "")
    cwd = folder if folder and posixpath.isabs(folder) and os.path.isdir(folder) else "/"
    try:
        proc = subprocess.run(
            [python, "-E", "-c", _PROBE, module],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        answer = json.loads(proc.stdout)
    except subprocess.TimeoutExpired:
        return [skipped("module_findable", f"{python} did not answer within {timeout:g} s.")]
    except (OSError, ValueError) as exc:
        return [skipped("module_findable", f"{python} could not be asked: {exc}.")]
    version = answer.get("version", "?")
    who = f"{python} (Python {version})"
    near = (
        f", looking next to {posixpath.basename(facts.get('frame_file') or '')} as the job did"
        if cwd != "/"
        else ""
    )
    detail = {"interpreter": python, "python_version": version, "module": module}
    if answer.get("found"):
        origin = answer.get("origin") or ""
        dist_version = answer.get("dist_version")
        installed = f", version {dist_version} of {answer.get('dist')}" if dist_version else ""
        detail.update(origin=origin, version=dist_version or "")
        return [
            CheckResult(
                "module_findable",
                "ok",
                f"{who} finds `{module}` on this machine now{near}: {origin}{installed}.",
                detail,
            )
        ]
    results = [
        CheckResult(
            "module_findable",
            "problem",
            f"{who} cannot find `{module}` on this machine either{near} "
            "(looked up without importing, PYTHONPATH ignored).",
            detail,
        )
    ]
    close = [str(c) for c in answer.get("close", [])]
    if close:
        names = ", ".join(f"`{c}`" for c in close)
        results.append(
            CheckResult(
                "module_close_match",
                "problem",
                f"{who} has {names}, the closest installed "
                f"name{'s' if len(close) > 1 else ''} to `{module}`.",
                {**detail, "close": ",".join(close)},
            )
        )
    return results


def import_name_check(facts: Facts, *, timeout: float) -> list[CheckResult]:
    """``import_name_defined``: does the module file the log names define the name?

    Parses the file (``ast``, nothing runs) for the names it defines at top level.
    """
    name, path, module = facts.get("import_name"), facts.get("module_file"), facts.get("module")
    if not (name and path and module):
        return []
    if not path.endswith(".py") or not os.path.isfile(path):
        return [skipped("import_name_defined", f"{path} is not a Python file on this machine.")]
    try:
        if os.path.getsize(path) > 2_000_000:
            return [skipped("import_name_defined", f"{path} is too large to read.")]
        names = bounded(lambda: _top_level_names(path), timeout)
    except (OSError, SyntaxError, ValueError, CheckTimeout) as exc:
        return [skipped("import_name_defined", f"{path} could not be read: {exc}.")]
    detail = {"module": module, "file": path, "name": name}
    if name in names:
        return [
            CheckResult(
                "import_name_defined",
                "ok",
                f"{path} defines `{name}` on this machine now: the job loaded another `{module}`.",
                detail,
            )
        ]
    close = difflib.get_close_matches(name, sorted(names), 3, 0.6)
    hint = (
        f"; the closest names it defines are {', '.join(f'`{c}`' for c in close)}" if close else ""
    )
    detail["close"] = ",".join(close)
    return [
        CheckResult(
            "import_name_defined", "problem", f"{path} does not define `{name}`{hint}.", detail
        )
    ]


def _top_level_names(path: str) -> set[str]:
    with open(path, "rb") as fh:
        tree = ast.parse(fh.read(), filename=path)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def command_check(facts: Facts) -> list[CheckResult]:
    """``command_on_path``: is the program the shell did not find on this machine's PATH?"""
    command = facts.get("missing_command")
    if not command:
        return []
    found = shutil.which(command)
    if found:
        return [
            CheckResult(
                "command_on_path",
                "ok",
                f"`{command}` is {found} on this machine's PATH: the job's PATH "
                "differs (a `module load` or environment missing in the job script).",
                {"command": command, "path": found},
            )
        ]
    close = _close_on_path(command)
    hint = f"; it has {', '.join(f'`{c}`' for c in close)}" if close else ""
    return [
        CheckResult(
            "command_on_path",
            "problem",
            f"`{command}` is not on this machine's PATH either{hint}.",
            {"command": command, "close": ",".join(close)},
        )
    ]


def _close_on_path(command: str) -> list[str]:
    names: set[str] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names.update(e.name for e in os.scandir(folder) if e.name[:2] == command[:2])
        except OSError:
            continue
    return difflib.get_close_matches(command, sorted(names), 3, 0.8)
