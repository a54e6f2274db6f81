"""Specific explanations of Python failures: exceptions, syntax errors, missing modules.

Each function fills a :class:`~.writer.Writer` with cause and fix sentences made of the
guide's words and the log's facts (the exception's key, name or path, the user's frame
and its source line, the interpreter and its version).
"""

from __future__ import annotations

import re

from ..knowledge import PIP_NAMES, PY2_MODULES, PY3_STDLIB_SINCE, REMOVED_MODULES
from .writer import Writer, code, short

# -- python_exception ---------------------------------------------------------------------


def python_exception(w: Writer) -> None:
    exc = w.get("exception") or "an exception"
    message = w.get("message")
    raised = f"{exc}: {message}" if message else exc
    w.fact("cause", f"The job's Python code raised {code(raised)} (log line "
           f"{w.result.key_line_number}).", "exception", "message", key=True)
    w.frame_facts()
    if w.has("chain_exception"):
        w.fact(
            "cause",
            f"While handling it, the code raised a second exception, "
            f"{code(w.get('chain_exception') + ': ' + (w.get('chain_message') or ''))}"
            + (f" at line {w.get('chain_line')} of {short(w.get('chain_file') or '')}"
               if w.has("chain_file", "chain_line") else "")
            + ": a consequence, the first one is the root cause.",
            "chain_exception", "chain_message", "chain_file", "chain_line",
        )
    handler = _EXCEPTIONS.get(exc)
    if handler is not None and handler(w):
        return
    if not _own_raise(w):
        _generic_exception(w)


def _at(w: Writer) -> str:
    return w.place() if w.has_frame else "the line the traceback ends in"


def _frame(w: Writer) -> tuple[str, ...]:
    return w.frame_names()


def _key_error(w: Writer) -> bool:
    key = w.get("key")
    if not key:
        return False
    w.rule("cause", f"The code looks up the key {key} in a mapping (a dict, a config, a "
           "DataFrame's columns) that does not have it.", "key")
    w.rule("fix", f"{_at(w).capitalize()} reads key {key}: add {key} to the data it reads "
           f"(the config or input file of this job), or use `.get({key}, default)` there if "
           "the key is optional.", "key", *_frame(w))
    return True


def _index_error(w: Writer) -> bool:
    w.rule("cause", "The code indexes a sequence past its end (or an empty one).", key=True)
    caller = (f", or fix the index its caller passes at {w.place('caller')}"
              if w.has_caller else "")
    w.rule("fix", f"Check the length before indexing at {_at(w)}{caller}: the index must be "
           "smaller than the sequence's length.", *_frame(w), *w.frame_names("caller"))
    return True


def _attribute_error(w: Writer) -> bool:
    attribute, kind, owner = w.get("attribute"), w.get("object_type"), w.get("attribute_owner")
    if attribute and kind == "NoneType":
        w.rule("cause", f"A variable is None where an object with {code('.' + attribute)} was "
               "expected: the call that produced it returned None (no match, no result, a "
               "function without `return`).", "attribute", "object_type")
        w.rule("fix", f"Handle the None case before {code('.' + attribute)} is used at "
               f"{_at(w)} (for example `if value is None: ...`), or fix the call that "
               "returned None.", "attribute", *_frame(w))
        return True
    if attribute and owner:
        w.rule("cause", f"The installed module {code(owner)} has no {code(attribute)}: the code "
               "was written for another version of it (a name removed or renamed), or the "
               "name is misspelled.", "attribute", "attribute_owner")
        w.rule("fix", f"Use the name {code(owner)} has in the installed version at {_at(w)}, or "
               f"install the version of {code(owner)} the code was written for "
               f"(`pip install '{owner}==<version>'` in the job's environment).",
               "attribute", "attribute_owner", *_frame(w))
        return True
    if attribute and kind:
        w.rule("cause", f"An object of type {code(kind)} has no attribute {code(attribute)}: "
               "the code expects another type there, or the name is misspelled.",
               "attribute", "object_type")
        w.rule("fix", f"Fix {code('.' + attribute)} at {_at(w)}: check the attribute's name "
               f"and where the {code(kind)} object comes from.", "attribute", "object_type",
               *_frame(w))
        return True
    return False


def _name_error(w: Writer) -> bool:
    name = w.get("name")
    if not name:
        return False
    w.rule("cause", f"The name {code(name)} is used but never defined where it is used "
           "(a missing assignment or import, or a misspelling).", "name")
    w.rule("fix", f"Define {code(name)} before {_at(w)} (assign it, import it, or pass it "
           "as a parameter), or correct its spelling.", "name", *_frame(w))
    return True


def _unbound_local(w: Writer) -> bool:
    name = w.get("name")
    if not name:
        return False
    w.rule("cause", f"The local variable {code(name)} is read before any assignment to it "
           "ran: it is assigned only in some branches or loop iterations.", "name")
    w.rule("fix", f"Give {code(name)} a value before the branches that assign it (for "
           f"example `{name} = None`) and handle the case where none of them runs, before "
           f"{_at(w)}.", "name", *_frame(w))
    return True


def _zero_division(w: Writer) -> bool:
    w.rule("cause", "A division by zero: the divisor is 0 (often the length or the sum of an "
           "empty input).", key=True)
    caller = (f" (the input comes from {w.place('caller')})" if w.has_caller else "")
    w.rule("fix", f"Guard the division at {_at(w)} against a zero divisor (an empty input), "
           f"or fix the input that makes it zero{caller}.", *_frame(w),
           *w.frame_names("caller"))
    return True


def _assertion(w: Writer) -> bool:
    source = w.get("frame_source") or ""
    match = re.match(r"assert (?P<expr>.+?)(?:, .*)?$", source)
    if not match:
        return False
    expr = match.group("expr")
    message = w.get("message")
    said = f" (its message: {code(message)})" if message else ""
    w.rule("cause", f"The condition {code(expr)} of an `assert` was false{said}.",
           "frame_source", "message")
    w.rule("fix", f"Find why {code(expr)} is false for this input at {_at(w)}: fix the input "
           "or the computation that produced it, or the assertion if it is wrong.",
           *_frame(w))
    return True


def _type_error(w: Writer) -> bool:
    kind = w.get("object_type")
    caller = (f"; its caller passes the values at {w.place('caller')}"
              if w.has_caller else "")
    message = w.get("message") or ""
    if kind and "not callable" in message:
        w.rule("cause", f"An object of type {code(kind)} is called like a function: a "
               "variable holds a value where a function was expected.", "object_type")
        w.rule("fix", f"Pass a function where one is expected at {_at(w)}{caller}.",
               "object_type", *_frame(w), *w.frame_names("caller"))
        return True
    if w.has("operator", "left_type", "right_type"):
        left, right, op = w.get("left_type"), w.get("right_type"), w.get("operator")
        w.rule("cause", f"{code(op or '')} is applied to a {code(left or '')} and a "
               f"{code(right or '')}, which Python does not combine.",
               "operator", "left_type", "right_type")
        w.rule("fix", f"Convert the values to one type (for example `int(...)` or `str(...)`) "
               f"before {_at(w)}{caller}.", *_frame(w), *w.frame_names("caller"))
        return True
    return False


def _value_error(w: Writer) -> bool:
    size, shape = w.get("array_size"), w.get("shape")
    if not (size and shape):
        return False
    caller = (f", or pass a matching shape where it is called at {w.place('caller')}"
              if w.has_caller else "")
    w.rule("cause", f"An array of {size} elements cannot be reshaped into {code(shape)}: the "
           "new shape must hold exactly as many elements.", "array_size", "shape")
    w.rule("fix", f"Make the shape at {_at(w)} match the data's size ({size} elements)"
           f"{caller}.", "array_size", *_frame(w), *w.frame_names("caller"))
    return True


def _recursion(w: Writer) -> bool:
    function = w.get("frame_function")
    if not function:
        return False
    w.rule("cause", f"{code(function)} calls itself without end: the recursion never "
           "reaches its base case.", "frame_function")
    w.rule("fix", f"Add or fix the base case of {code(function)} at {_at(w)} so the recursion "
           "stops (the argument must change between calls); `sys.setrecursionlimit` only "
           "helps a deep but finite recursion.", *_frame(w))
    return True


_EXCEPTIONS = {
    "KeyError": _key_error,
    "IndexError": _index_error,
    "AttributeError": _attribute_error,
    "NameError": _name_error,
    "UnboundLocalError": _unbound_local,
    "ZeroDivisionError": _zero_division,
    "AssertionError": _assertion,
    "TypeError": _type_error,
    "ValueError": _value_error,
    "RecursionError": _recursion,
}


def _own_raise(w: Writer) -> bool:
    """The job's own code raised it (``raise SomeError(...)``): its message is the cause."""
    source = w.get("frame_source") or ""
    if not source.startswith("raise ") or not w.has_frame:
        return False
    message = w.get("message")
    said = f" ({code(message)})" if message else ""
    w.rule("cause", f"The job's own code raised it on purpose{said}: a check of its input or "
           "of a result failed.", "message", "frame_source")
    w.rule("fix", f"The check at {_at(w)} rejected a value{said}: fix the input or the "
           "parameters it rejects, or the computation that produced the value.", "message",
           *_frame(w))
    return True


def _generic_exception(w: Writer) -> None:
    exc = w.get("exception") or "the exception"
    if w.has_frame:
        w.rule("fix", f"Reproduce the failing call with the same input and fix {_at(w)} or "
               f"the input that reaches it, where {code(exc)} is raised.", *_frame(w))
    else:
        w.rule("fix", f"Reproduce the failing call with the same input and fix where "
               f"{code(exc)} is raised.", "exception")


# -- syntax_error -------------------------------------------------------------------------

_SYNTAX_FIXES: tuple[tuple[str, str], ...] = (
    (r"^expected ':'", "Add the missing `:` at the end of {at}."),
    (r"^'(?P<bracket>[(\[{])' was never closed", "Close the `{bracket}` opened at {at}."),
    (r"^unexpected indent", "Remove the extra indentation of {at} so it lines up with its "
     "block."),
    (r"^expected an indented block", "Indent {at} under the statement the message names, "
     "or add a body (`pass`) to that statement."),
    (r"^unindent does not match", "Indent {at} to the level of the block it belongs to."),
    (r"^inconsistent use of tabs", "Replace the tabs in the indentation of {at} with spaces "
     "(the rest of the file uses spaces)."),
    (r"^Missing parentheses in call to 'print'", "{at} is Python 2 code: write `print(...)` "
     "with parentheses, or run the file with the Python 2 it was written for."),
)


def syntax_error(w: Writer) -> None:
    if w.has("shell_error", "script"):
        _shell_syntax(w)
        return
    message = w.get("message") or ""
    exc = w.get("exception") or "SyntaxError"
    where = w.place(full=True) if w.has_frame else "the file"
    w.fact("cause", f"Python could not parse {where}: {code(exc + ': ' + message)}, so the "
           "job stopped before running any of it.", "exception", "message",
           *w.frame_names(), key=True)
    at = w.place() if w.has_frame else "the line the error points at"
    for pattern, template in _SYNTAX_FIXES:
        match = re.search(pattern, message)
        if match:
            text = template.format(at=at, **match.groupdict())
            w.rule("fix", text[0].upper() + text[1:], "message", *w.frame_names())
            break
    else:
        w.rule("fix", f"Fix the syntax at {at}: Python says {code(message)}.", "message",
               *w.frame_names())
    file = short(w.get("frame_file") or "file.py")
    w.rule("fix", f"Check the file with `python -m py_compile {file}` using the job's Python "
           "before resubmitting.", "frame_file")


def _shell_syntax(w: Writer) -> None:
    script, line, error = w.get("script"), w.get("script_line"), w.get("shell_error") or ""
    w.fact("cause", f"bash could not parse {script}: {code(error)} at line {line}.",
           "script", "script_line", "shell_error")
    if "unexpected end of file" in error:
        w.rule("cause", "A block opened in the script is never closed (`if` without `fi`, "
               "`for`/`while` without `done`, `case` without `esac`, a `{` or a quote); bash "
               "runs the lines before it, then stops.")
        w.rule("fix", f"Close the open block in {script} (add the missing `fi`, `done`, "
               "`esac`, `}` or quote) and check the script with "
               f"`bash -n {script}` before resubmitting.", "script")
        return
    token = w.get("syntax_token")
    near = f" {code(token)} where bash does not expect it" if token else " a syntax error"
    w.rule("fix", f"Line {line} of {script} has{near}: check the statement before it (a "
           f"missing `then`, `do`, `;` or quote), then run `bash -n {script}`.",
           "script", "script_line", "syntax_token")


# -- missing_module -----------------------------------------------------------------------


def missing_module(w: Writer) -> None:
    if w.has("missing_command"):
        _missing_command(w)
    elif w.has("library"):
        _missing_library(w)
    elif w.has("import_name"):
        _missing_name(w)
    elif w.has("top_module"):
        _missing_python_module(w)
    else:
        w.fact("cause", f"The job could not load what it needs: {code(w.result.key_line or '')}.",
               key=True)
        w.rule("fix", "Install what the message names into the job's environment, or load "
               "the module that provides it in the job script.")


def _interpreter(w: Writer) -> tuple[str, tuple[str, ...]]:
    """How to name the job's Python: its path, or the environment its traceback shows."""
    if w.has("interpreter"):
        return f"the environment of {w.get('interpreter')}", ("interpreter",)
    if w.has("python_prefix"):
        version = w.get("python_version")
        with_version = f" (Python {version})" if version else ""
        return (f"the environment at {w.get('python_prefix')}{with_version}, the one the "
                "traceback's paths show", ("python_prefix", "python_version"))
    return "the environment the job runs in", ()


def _missing_python_module(w: Writer) -> None:
    module, top = w.get("module") or "", w.get("top_module") or ""
    major = w.get("python_major")
    version = w.get("python_version")
    w.fact("cause", f"The job's Python could not import {code(module)} (log line "
           f"{w.result.key_line_number}).", "module", key=True)
    w.frame_facts(caller=False)
    where = w.place() if w.has_frame else None
    since = PY3_STDLIB_SINCE.get(top)
    if since and (major == "2" or (version and _older(version, since))):
        evidence = ("the message's wording, without quotes around the name, is Python 2's"
                    if major == "2" and not version else f"the job's Python is {version}")
        w.rule("cause", f"{code(top)} is part of Python's standard library since Python "
               f"{since}, but the job ran an older Python: {evidence}.",
               "top_module", "python_major", "python_version")
        file = short(w.get("frame_file") or "the script")
        w.rule("fix", f"Run {file} with Python 3 (at least {since}): call `python3` instead of "
               "`python` in the job script, or point adaptive-scheduler's `executable` at a "
               f"Python 3 interpreter; installing a backport of {code(top)} into the old "
               "Python is not the fix.", "top_module", "frame_file")
        return
    removed = REMOVED_MODULES.get(top)
    if removed and (version is None or not _older(version, removed[0])):
        w.rule("cause", f"{code(top)} was removed from Python's standard library in Python "
               f"{removed[0]}.", "top_module")
        w.rule("fix", f"With Python {removed[0]} or newer, {removed[1]} (in the job's "
               f"environment), or run the job with an older Python; the import is at "
               f"{where or 'the line the traceback ends in'}.", "top_module", *w.frame_names())
        return
    renamed = PY2_MODULES.get(top)
    if renamed and major != "2":
        w.rule("cause", f"{code(top)} is a Python 2 module name; Python 3 calls it "
               f"{code(renamed)}.", "top_module")
        w.rule("fix", f"Import {code(renamed)} instead of {code(top)} at "
               f"{where or 'the import'}, or run the code with the Python 2 it was written for.",
               "top_module", *w.frame_names())
        return
    env, env_facts = _interpreter(w)
    run_module = w.get("run_module")
    if run_module:
        w.rule("cause", f"`python -m {run_module}` needs the package {code(top)} on the "
               "interpreter's path, and it is not there.", "run_module", "top_module")
    else:
        w.rule("cause", f"{code(top)} is not installed in the environment the job runs in (a "
               "different conda env, venv or module set than the notebook's), or its folder "
               "is not on the job's `PYTHONPATH`.", "top_module")
    package = PIP_NAMES.get(top, top)
    provides = f" (it provides the module {code(top)})" if package != top else ""
    pip = f"{w.get('interpreter')} -m pip install {package}" if w.has("interpreter") else (
        f"python -m pip install {package}")
    w.rule("fix", f"Install {code(package)}{provides} into {env} (`{pip}`), or make the job "
           "use the environment where it is installed (adaptive-scheduler's `executable` or "
           f"`extra_script`); if {code(top)} is your own code, add the folder that holds it "
           f"to `PYTHONPATH` in the job script or install it with `pip install -e`.",
           "top_module", *env_facts)
    typo = w.check("module_close_match")
    if where and typo is None:
        w.rule("fix", f"If {code(module)} is a typo, fix the import at {where}.", "module",
               *w.frame_names())


def _older(version: str, than: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:2] if p.isdigit())

    return parts(version) < parts(than)


def _missing_name(w: Writer) -> None:
    name, module = w.get("import_name") or "", w.get("module") or ""
    file = w.get("module_file")
    w.fact("cause", f"The code imports {code(name)} from {code(module)}, but the {code(module)} "
           f"the job's Python loaded{' (' + file + ')' if file else ''} does not define it "
           f"(log line {w.result.key_line_number}).", "import_name", "module", "module_file",
           key=True)
    w.frame_facts(caller=False)
    at = w.place() if w.has_frame else "the import"
    suggestion = w.get("suggestion")
    stdlib = file is not None and "/lib/python" in file and "-packages/" not in file
    if suggestion:
        w.rule("fix", f"Python suggests {code(suggestion)}: fix the name {code(name)} at "
               f"{at}.", "suggestion", "import_name", *w.frame_names())
    elif stdlib:
        w.rule("cause", f"{code(module)} is part of Python's standard library, so the name is "
               "most likely misspelled or belongs to another module.", "module", "module_file")
        w.rule("fix", f"Correct the name {code(name)} at {at} to one that {code(module)} "
               "defines (`help(" + module + ")` lists them).", "import_name", "module",
               *w.frame_names())
    else:
        w.rule("cause", f"The installed {code(module)} is another version than the code expects "
               f"(a name added, removed or renamed), or {code(name)} is misspelled.",
               "module", "import_name")
        w.rule("fix", f"Install the version of {code(module)} that provides {code(name)} into "
               f"the job's environment (`pip install --upgrade {module}`), or correct the name "
               f"at {at}.", "module", "import_name", *w.frame_names())


def _missing_command(w: Writer) -> None:
    command, script, line = w.get("missing_command"), w.get("script"), w.get("script_line")
    w.fact("cause", f"Line {line} of {script} runs {code(command or '')}, which is not on the "
           "job's `PATH` (`command not found`).", "missing_command", "script", "script_line")
    w.rule("fix", f"Change {code(command or '')} at line {line} of {script} to a program that "
           "exists on the compute node, or load the module that provides it (`module load ...`)"
           f" before line {line}.", "missing_command", "script", "script_line")


def _missing_library(w: Writer) -> None:
    library, program = w.get("library") or "", w.get("program")
    who = code(program) if program else "The program"
    w.fact("cause", f"{who} needs the shared library {code(library)}, which the dynamic loader "
           "cannot find (not installed on the node, or its folder is not on the loader's "
           "path).", "library", "program")
    w.rule("fix", f"Make {code(library)} findable: load the module that provides it in the job "
           "script, or add its folder to `LD_LIBRARY_PATH` (`export LD_LIBRARY_PATH=/path/to/"
           f"lib:$LD_LIBRARY_PATH`); `ldd {program or 'program'}` lists what it needs.",
           "library", "program")
