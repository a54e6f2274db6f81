"""Missing modules, names, programs and shared libraries, and the interpreter that ran."""

from __future__ import annotations

import re

from ...knowledge import PIP_NAMES, PY2_MODULES, PY3_STDLIB_SINCE, REMOVED_MODULES
from .writer import Writer, code, short

_SETUP_FACTS = ("env_module", "conda_env", "activate_script", "setup_command")
_CONDA_INIT = re.compile(
    r"'(?:conda|mamba) init' before|configured to use '(?:conda|mamba) activate'"
)
_PACKAGE_DIR = re.compile(r"/(?:site|dist)-packages/(?P<package>[A-Za-z_]\w*)/")
_IMPORTED = re.compile(r"^\s*(?:from|import)\s+(?P<package>[A-Za-z_]\w*)")


def missing_module(w: Writer) -> None:
    key = w.result.key_line or ""
    if any(w.has(name) for name in _SETUP_FACTS) or _CONDA_INIT.search(key):
        _failed_setup(w, key)
    elif w.has("missing_command"):
        _missing_command(w)
    elif w.has("library"):
        _missing_library(w)
    elif w.has("import_name"):
        _missing_name(w)
    elif w.has("top_module"):
        _missing_python_module(w)
    else:
        w.fact(
            "cause",
            f"The job could not load what it needs: {code(w.result.key_line or '')}.",
            key=True,
        )
        w.rule(
            "fix",
            "Install what the message names into the job's environment, or load "
            "the module that provides it in the job script.",
        )


def _interpreter(w: Writer) -> tuple[str, tuple[str, ...]]:
    """How to name the job's Python: its path, or the environment its traceback shows."""
    if w.has("interpreter"):
        return f"the environment of {w.get('interpreter')}", ("interpreter",)
    if w.has("python_prefix"):
        version = w.get("python_version")
        with_version = f" (Python {version})" if version else ""
        return (
            f"the environment at {w.get('python_prefix')}{with_version}, the one the "
            "traceback's paths show",
            ("python_prefix", "python_version"),
        )
    return "the environment the job runs in", ()


def _missing_python_module(w: Writer) -> None:
    module, top = w.get("module") or "", w.get("top_module") or ""
    major = w.get("python_major")
    version = w.get("python_version")
    w.fact(
        "cause",
        f"The job's Python could not import {code(module)}.",
        "module",
        key=True,
    )
    w.frame_facts(caller=False)
    where = w.place() if w.has_frame else None
    since = PY3_STDLIB_SINCE.get(top)
    if since and (major == "2" or (version and _older(version, since))):
        evidence = (
            "the message's wording, without quotes around the name, is Python 2's"
            if major == "2" and not version
            else f"the job's Python is {version}"
        )
        w.rule(
            "cause",
            f"{code(top)} is part of Python's standard library since Python "
            f"{since}, but the job ran an older Python: {evidence}.",
            "top_module",
            "python_major",
            "python_version",
        )
        file = short(w.get("frame_file") or "the script")
        w.rule(
            "fix",
            f"Run {file} with Python 3 (at least {since}): call `python3` instead of "
            "`python` in the job script, or point adaptive-scheduler's `executable` at a "
            f"Python 3 interpreter; installing a backport of {code(top)} into the old "
            "Python is not the fix.",
            "top_module",
            "frame_file",
        )
        return
    removed = REMOVED_MODULES.get(top)
    if removed and (version is None or not _older(version, removed[0])):
        w.rule(
            "cause",
            f"{code(top)} was removed from Python's standard library in Python {removed[0]}.",
            "top_module",
        )
        w.rule(
            "fix",
            f"With Python {removed[0]} or newer, {removed[1]} (in the job's "
            f"environment), or run the job with an older Python; the import is at "
            f"{where or 'the line the traceback ends in'}.",
            "top_module",
            *w.frame_names(),
        )
        return
    renamed = PY2_MODULES.get(top)
    if renamed and major != "2":
        w.rule(
            "cause",
            f"{code(top)} is a Python 2 module name; Python 3 calls it {code(renamed)}.",
            "top_module",
        )
        w.rule(
            "fix",
            f"Import {code(renamed)} instead of {code(top)} at "
            f"{where or 'the import'}, or run the code with the Python 2 it was written for.",
            "top_module",
            *w.frame_names(),
        )
        return
    env, env_facts = _interpreter(w)
    run_module = w.get("run_module")
    if run_module:
        w.rule(
            "cause",
            f"`python -m {run_module}` needs the package {code(top)} on the "
            "interpreter's path, and it is not there.",
            "run_module",
            "top_module",
        )
    else:
        w.rule(
            "cause",
            f"{code(top)} is not installed in the environment the job runs in (a "
            "different conda env, venv or module set than the notebook's), or its folder "
            "is not on the job's `PYTHONPATH`.",
            "top_module",
        )
    package = PIP_NAMES.get(top, top)
    provides = f" (it provides the module {code(top)})" if package != top else ""
    pip = (
        f"{w.get('interpreter')} -m pip install {package}"
        if w.has("interpreter")
        else (f"python -m pip install {package}")
    )
    w.rule(
        "fix",
        f"Install {code(package)}{provides} into {env} (`{pip}`), or make the job "
        "use the environment where it is installed (adaptive-scheduler's `executable` or "
        f"`extra_script`); if {code(top)} is your own code, add the folder that holds it "
        f"to `PYTHONPATH` in the job script or install it with `pip install -e`.",
        "top_module",
        *env_facts,
    )
    found = w.check("module_findable")
    if found is not None and found.status == "ok":
        w.rule(
            "fix",
            f"{code(top)} is installed for {found.detail.get('interpreter')} now: "
            "resubmit; if the job fails again, it runs another interpreter or environment "
            "than that one.",
            "top_module",
            checks=(found.name,),
        )
    close = w.check("module_close_match")
    if where and close is not None:
        names = " or ".join(code(c) for c in close.detail.get("close", "").split(",") if c)
        w.rule(
            "fix",
            f"If {code(module)} is a typo of {names} (installed there), fix the import at {where}.",
            "module",
            *w.frame_names(),
            checks=(close.name,),
        )
    elif where:
        w.rule(
            "fix",
            f"If {code(module)} is a typo, fix the import at {where}.",
            "module",
            *w.frame_names(),
        )


def _older(version: str, than: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:2] if p.isdigit())

    return parts(version) < parts(than)


def _missing_name(w: Writer) -> None:
    name, module = w.get("import_name") or "", w.get("module") or ""
    file = w.get("module_file")
    w.fact(
        "cause",
        f"The code imports {code(name)} from {code(module)}, but the {code(module)} "
        f"the job's Python loaded{' (' + file + ')' if file else ''} does not define it.",
        "import_name",
        "module",
        "module_file",
        key=True,
    )
    w.frame_facts(caller=False)
    at = w.place() if w.has_frame else "the import"
    suggestion = w.get("suggestion")
    stdlib = file is not None and "/lib/python" in file and "-packages/" not in file
    if suggestion:
        w.rule(
            "fix",
            f"Python suggests {code(suggestion)}: fix the name {code(name)} at {at}.",
            "suggestion",
            "import_name",
            *w.frame_names(),
        )
    elif (defined := w.check("import_name_defined")) is not None and defined.detail.get("close"):
        names = " or ".join(code(c) for c in defined.detail["close"].split(","))
        w.rule(
            "fix",
            f"Correct the name {code(name)} at {at}: {code(module)} defines {names}, "
            "the closest names.",
            "import_name",
            "module",
            *w.frame_names(),
            checks=(defined.name,),
        )
    elif stdlib:
        w.rule(
            "cause",
            f"{code(module)} is part of Python's standard library, so the name is "
            "most likely misspelled or belongs to another module.",
            "module",
            "module_file",
        )
        w.rule(
            "fix",
            f"Correct the name {code(name)} at {at} to one that {code(module)} "
            "defines (`help(" + module + ")` lists them).",
            "import_name",
            "module",
            *w.frame_names(),
        )
    else:
        w.rule(
            "cause",
            f"The installed {code(module)} is another version than the code expects "
            f"(a name added, removed or renamed), or {code(name)} is misspelled.",
            "module",
            "import_name",
        )
        w.rule(
            "fix",
            f"Install the version of {code(module)} that provides {code(name)} into "
            f"the job's environment (`pip install --upgrade {module}`), or correct the name "
            f"at {at}.",
            "module",
            "import_name",
            *w.frame_names(),
        )


def _missing_command(w: Writer) -> None:
    command, script, line = w.get("missing_command"), w.get("script"), w.get("script_line")
    w.fact(
        "cause",
        f"Line {line} of {script} runs {code(command or '')}, which is not on the "
        "job's `PATH` (`command not found`).",
        "missing_command",
        "script",
        "script_line",
    )
    w.rule(
        "fix",
        f"Change {code(command or '')} at line {line} of {script} to a program that "
        "exists on the compute node, or load the module that provides it (`module load ...`)"
        f" before line {line}.",
        "missing_command",
        "script",
        "script_line",
    )
    here = w.check("command_on_path")
    close = here.detail.get("close", "") if here is not None else ""
    if here is not None and close:
        names = " or ".join(code(c) for c in close.split(","))
        w.rule(
            "fix",
            f"This machine has {names}: if one of them is meant, use it at line "
            f"{line} of {script}.",
            "script",
            "script_line",
            checks=(here.name,),
        )


def _python_package(w: Writer) -> tuple[str, tuple[str, ...]] | None:
    """The Python package whose compiled module needs the library, as the traceback shows."""
    file = w.get("library_file") or ""
    found = _PACKAGE_DIR.search(file)
    if found:
        return found.group("package"), ("library_file",)
    imported = _IMPORTED.match(w.get("frame_source") or "")
    if imported:
        return imported.group("package"), ("frame_source",)
    return None


def _missing_library(w: Writer) -> None:
    library, program = w.get("library") or "", w.get("program")
    package = None if program else _python_package(w)
    if program:
        who = code(program)
    elif package is not None:
        where = f" (imported at {w.place(full=True)})" if w.has_frame else ""
        who = f"The compiled part of the Python package {code(package[0])}{where}"
    elif w.has_frame:
        who = f"The import at {w.place(full=True)}"
    else:
        who = "The program"
    w.fact(
        "cause",
        f"{who} needs the shared library {code(library)}, which the dynamic loader "
        "cannot find (not installed on the node, or its folder is not on the loader's "
        "path).",
        "library",
        "program",
        *(package[1] if package else ()),
        *w.frame_names(),
    )
    if program:
        ldd = f"; `ldd {program}` lists what it needs and marks the missing one `not found`"
    elif package is not None:
        ldd = (
            f"; `ldd` on the `.so` files in {code(package[0])}'s folder marks the missing one "
            "`not found`, and the module that built the package (its MPI, HDF5 or CUDA "
            "module) is the one to load"
        )
    else:
        ldd = ""
    w.rule(
        "fix",
        f"Make {code(library)} findable: load the module that provides it in the job "
        "script, or add its folder to `LD_LIBRARY_PATH` (`export LD_LIBRARY_PATH=/path/to/"
        f"lib:$LD_LIBRARY_PATH`){ldd}.",
        "library",
        "program",
    )


def _failed_setup(w: Writer, key: str) -> None:
    """The job script could not set up its environment (module, conda, virtualenv)."""
    after = (
        " The missing module reported after it follows from that."
        if any("environment could not be set up" in n for n in w.result.notes)
        else ""
    )
    module, env = w.get("env_module"), w.get("conda_env")
    script, command = w.get("activate_script"), w.get("setup_command")
    if module:
        w.fact(
            "cause",
            f"`module load {module}` failed: the module system knows no module "
            f"{code(module)} that can be loaded here, so the environment the rest of the job "
            f"expects was never set up.{after}",
            "env_module",
            key=True,
        )
        w.rule(
            "fix",
            f"Correct the name or version of {code(module)} in the job script: "
            f"`module spider {module.split('/')[0]}` (Lmod) or `module avail` lists the "
            "modules and versions that exist, and what must be loaded first (a compiler or "
            "MPI module); then resubmit.",
            "env_module",
        )
    elif env:
        w.fact(
            "cause",
            f"`conda activate` found no environment {code(env)}, so the job ran without the "
            f"packages that environment holds.{after}",
            "conda_env",
            key=True,
        )
        w.rule(
            "fix",
            f"List the environments the job can see with `conda env list` (on the compute "
            f"node, with the same conda); create {code(env)} there or activate it by its full "
            "path, then resubmit.",
            "conda_env",
        )
    elif script:
        w.fact(
            "cause",
            f"The job script sources {code(script)}, which does not exist on the node, so "
            f"the environment was never activated.{after}",
            "activate_script",
            key=True,
        )
        w.rule(
            "fix",
            f"Create the environment at {code(script)}'s place (`python -m venv`) or give "
            "its absolute path on a file system the compute nodes mount, then resubmit.",
            "activate_script",
        )
    elif command:
        w.fact(
            "cause",
            f"The job's shell has no {code(command)} command: batch jobs do not run the "
            f"login shell start-up files that define it.{after}",
            "setup_command",
            key=True,
        )
        w.rule(
            "fix",
            "Start the job script with `#!/bin/bash -l` (a login shell) or source the "
            "script that defines the command before using it (for conda: "
            '`eval "$(conda shell.bash hook)"`), then resubmit.',
            "setup_command",
        )
    else:
        w.fact(
            "cause",
            f"The job's shell cannot use `conda activate` ({code(key.strip())}): conda's "
            f"shell functions are not loaded in a batch shell.{after}",
            key=True,
        )
        w.rule(
            "fix",
            'Put `eval "$(conda shell.bash hook)"` before `conda activate` in the job '
            "script (or start it with `#!/bin/bash -l`), then resubmit.",
        )
