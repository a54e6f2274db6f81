"""Read-only checks of the job's Python: can it find the missing module, which version.

The job's interpreter comes from the log (a ``.../bin/python`` path it prints, or the
environment its traceback's paths show); a child process of that interpreter looks the
top-level name up with ``importlib.machinery.PathFinder.find_spec`` (``imp.find_module``
on Python 2), which finds a module without importing it, and reads the installed version
from the package's metadata files. The child is killed after the timeout.

An interpreter is only run when it and its environment's folders belong to root or to
the user running the check and nobody else may write them: a path in a log is not a
reason to run a program someone else controls.

Only that interpreter and its standard library run. The child starts isolated (``-I``,
or ``-E -s`` and the working directory dropped from ``sys.path`` on Python 2), without
``site`` (``-S``), in an empty private folder with a minimal environment. The folders
the job would have searched are handed over as data: the failing script's folder (a
script's own folder comes first on the job's ``sys.path``), the environment's
site-packages, the user's site-packages when the environment uses the system's, and
the path lines of their ``.pth`` files. Nothing found there is imported or run, not even
a ``.pth`` file's ``import`` line (an editable install's import hook): a site-packages
folder may be writable by a group the check's user is not in, and the job's ``.pth``
hooks are the job's code. ``PYTHONPATH`` is ignored.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
import shutil
import stat
import subprocess
import time
import tokenize
from typing import Any

from ..children import minimal_env, neutral_cwd
from ..regular_files import open_regular
from ..triage.facts import Facts
from .check_result import CheckResult, CheckTimeout, bounded, skipped
from .source_names import top_level_names

_MAX_SOURCE = 2_000_000

# Runs under Python 2.7 and 3.x: no f-strings, nothing imported but the standard library,
# and sys.path is never given a folder the log names: those are searched as data.
_PROBE = r"""
import sys

# Python 2 has no -I: drop the working directory ('') before the first import.
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import io, json, os

name, folder = sys.argv[1], sys.argv[2]
PY3 = sys.version_info[0] >= 3
out = {"executable": sys.executable, "version": "%d.%d.%d" % tuple(sys.version_info[:3])}


def unique(items):
    seen = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def venv():
    # (the venv's prefix or None, whether the system's site-packages count), as site.py decides
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    for cfg in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(os.path.dirname(exe_dir), "pyvenv.cfg")):
        if os.path.isfile(cfg):
            system = False
            with io.open(cfg, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key, _, value = line.partition("=")
                    if key.strip().lower() == "include-system-site-packages":
                        system = value.strip().lower() == "true"
            return os.path.dirname(exe_dir), system
    return None, True


def package_dirs(prefixes):
    # site's own list (a distribution's patches) and the standard layout, as a venv has it
    dirs = []
    if PY3:
        import site  # under -S its main() does not run: nothing is added, nothing executed
        try:
            dirs = list(site.getsitepackages(prefixes))
        except Exception:
            pass
    short = "python%d.%d" % sys.version_info[:2]
    for prefix in prefixes:
        for lib in ("lib", "lib64"):
            dirs += [os.path.join(prefix, lib, short, "site-packages"),
                     os.path.join(prefix, lib, short, "dist-packages")]
        dirs += [os.path.join(prefix, "lib", "python%d" % sys.version_info[0], "dist-packages"),
                 os.path.join(prefix, "lib", "site-python")]
    return unique(dirs)


def user_dir():
    if PY3:
        import site
        try:
            return site.getusersitepackages()
        except Exception:
            pass
    short = "python%d.%d" % sys.version_info[:2]
    return os.path.join(os.path.expanduser("~"), ".local", "lib", short, "site-packages")


def with_pth(dirs, hooks):
    # the folders and the path lines of their .pth files; import lines are listed, never run
    found = []
    for d in dirs:
        if not os.path.isdir(d) or d in found:
            continue
        found.append(d)
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth") and not n.startswith("."))
        except OSError:
            continue
        for n in names:
            try:
                with io.open(os.path.join(d, n), encoding="utf-8", errors="replace") as fh:
                    lines = fh.read(1 << 20).splitlines()
            except (IOError, OSError):
                continue
            for line in lines:
                if not line.strip() or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    hooks.append(n)
                    continue
                entry = os.path.join(d, line.rstrip())
                if os.path.exists(entry) and entry not in found:
                    found.append(entry)
    return found


prefix, system = venv()
bases = [sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix),
         getattr(sys, "base_exec_prefix", sys.exec_prefix)] if system else []
hooks = []
sites = with_pth(package_dirs([prefix]) if prefix else [], hooks)
sites += with_pth(([user_dir()] if system else []) + package_dirs(unique(b for b in bases if b != prefix)), hooks)
search = unique(([folder] if folder else []) + list(sys.path) + sites)
out["hooks"] = sorted(set(hooks))

spec_origin = None
try:
    from importlib.machinery import BuiltinImporter, FrozenImporter, PathFinder
    spec = BuiltinImporter.find_spec(name) or FrozenImporter.find_spec(name) or PathFinder.find_spec(name, search)
    if spec is not None:
        spec_origin = spec.origin
        if spec_origin in (None, "namespace"):
            spec_origin = list(spec.submodule_search_locations or [""])[0]
except (ImportError, AttributeError):
    import imp
    if name in sys.builtin_module_names:
        spec_origin = "built-in"
    else:
        try:
            handle, spec_origin, _ = imp.find_module(name, search)
            if handle:
                handle.close()
        except ImportError:
            pass
out["found"] = spec_origin is not None
out["origin"] = spec_origin or ""


def norm(text):
    return text.lower().replace("-", "_").replace(".", "_")


def dist_of(name, where):
    # the distribution that installed `name` in folder `where`, read from its metadata files
    try:
        entries = sorted(os.listdir(where))
    except OSError:
        return None
    for entry in entries:
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        base = os.path.join(where, entry)
        dist = entry.rsplit(".", 1)[0].split("-")[0]
        provides = norm(dist) == norm(name)
        for listing in ("top_level.txt", "RECORD"):
            if provides:
                break
            try:
                with io.open(os.path.join(base, listing), encoding="utf-8", errors="replace") as fh:
                    lines = fh.read(4 << 20).splitlines()
            except (IOError, OSError):
                continue
            tops = set(l.split("/")[0].split(",")[0] for l in lines)
            provides = name in tops or name + ".py" in tops
        if not provides:
            continue
        meta = base if os.path.isfile(base) else None
        for member in ("METADATA", "PKG-INFO"):
            if meta is None and os.path.isfile(os.path.join(base, member)):
                meta = os.path.join(base, member)
        if meta is None:
            continue
        fields = {}
        with io.open(meta, encoding="utf-8", errors="replace") as fh:
            for line in fh.read(1 << 16).splitlines():
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
        if fields.get("Version"):
            return fields.get("Name") or dist, fields["Version"]
    return None


if out["found"]:
    origin = os.path.abspath(out["origin"])
    where = [e for e in search if origin.startswith(os.path.join(os.path.abspath(e), ""))]
    if where:
        found = dist_of(name, max(where, key=len))
        if found:
            out["dist"], out["dist_version"] = found
else:
    import difflib, pkgutil
    names = set(sys.builtin_module_names)
    names.update(m[1] for m in pkgutil.iter_modules(search))
    out["close"] = difflib.get_close_matches(name, sorted(names), 3, 0.75)
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
    bin_dir = posixpath.dirname(path)
    prefix = posixpath.dirname(bin_dir)
    # pyvenv.cfg's `home` tells the interpreter where its standard library is
    configs = [
        c
        for c in (posixpath.join(d, "pyvenv.cfg") for d in (bin_dir, prefix))
        if os.path.lexists(c)
    ]
    for item in dict.fromkeys((real, bin_dir, prefix, *configs)):
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
    folder = folder if folder and posixpath.isabs(folder) and os.path.isdir(folder) else ""
    try:
        answer = _ask(python, module, folder, timeout)
    except subprocess.TimeoutExpired:
        return [skipped("module_findable", f"{python} did not answer within {timeout:g} s.")]
    except (OSError, ValueError) as exc:
        return [skipped("module_findable", f"{python} could not be asked: {exc}.")]
    version = str(answer.get("version", "?"))
    who = f"{python} (Python {version})"
    near = (
        f", looking next to {posixpath.basename(facts.get('frame_file') or '')} as the job did"
        if folder
        else ""
    )
    detail = {"interpreter": python, "python_version": version, "module": module}
    hooks = [str(h) for h in answer.get("hooks") or []]
    if hooks:  # listed, not run: what an editable install's import hook would add is missed
        detail["pth_hooks_not_run"] = ",".join(hooks)
    if answer.get("found"):
        origin = str(answer.get("origin") or "")
        dist_version = str(answer.get("dist_version") or "")
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


def _ask(python: str, module: str, folder: str, timeout: float) -> dict[str, Any]:
    """The probe's answer; ``folder`` is searched as data, the child runs in an empty one.

    Raises
    ------
    subprocess.TimeoutExpired, OSError, ValueError
        The child did not answer in time, could not start, or answered no JSON object.
    """
    deadline = time.monotonic() + timeout
    with neutral_cwd() as cwd:
        for flags in (["-I", "-S"], ["-E", "-s", "-S"]):  # -I: Python 3.4+
            proc = subprocess.run(
                [python, *flags, "-c", _PROBE, module, folder],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=max(deadline - time.monotonic(), 0.1),
                cwd=cwd,
                env=minimal_env(),
                stdin=subprocess.DEVNULL,
                check=False,
            )
            if flags[0] == "-I" and proc.returncode == 2 and "-I" in proc.stderr[:200]:
                continue  # "Unknown option: -I": Python 2 or 3.0-3.3
            break
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        errors = proc.stderr.strip().splitlines()
        raise ValueError(errors[-1][:200] if errors else f"it exited with {proc.returncode}")
    return answer


def import_name_check(facts: Facts, *, timeout: float) -> list[CheckResult]:
    """``import_name_defined``: does the module file the log names define the name?

    Reads the file's tokens (:func:`.source_names.top_level_names`: nothing is imported,
    run or built into a tree) for the names it defines at top level. A file over 2 MB,
    one that is not a regular file, or one that does not tokenize is skipped with a note.
    """
    name, path, module = facts.get("import_name"), facts.get("module_file"), facts.get("module")
    if not (name and path and module):
        return []
    if not path.endswith(".py") or not os.path.isfile(path):
        return [skipped("import_name_defined", f"{path} is not a Python file on this machine.")]
    deadline = time.monotonic() + timeout
    try:
        names = bounded(lambda: _names_in(path, deadline), timeout)
    except (OSError, ValueError, CheckTimeout) as exc:
        return [skipped("import_name_defined", f"{path} could not be read: {exc}.")]
    except (SyntaxError, tokenize.TokenError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc.args[0])
        return [skipped("import_name_defined", f"{path} could not be read as Python: {why}.")]
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


def _names_in(path: str, deadline: float) -> set[str]:
    with open_regular(path) as fh:  # a FIFO swapped in is refused, not waited on
        source = fh.read(_MAX_SOURCE + 1)
    if len(source) > _MAX_SOURCE:
        raise ValueError(f"it is over {_MAX_SOURCE // 1_000_000} MB")
    return top_level_names(source, deadline=deadline)


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
