"""Python exceptions: the key, index, name or value, the user's frame and its caller."""

from __future__ import annotations

import re

from .writer import Writer, code, short


def python_exception(w: Writer) -> None:
    exc = w.get("exception") or "an exception"
    message = w.get("message")
    raised = f"{exc}: {message}" if message else exc
    w.fact(
        "cause",
        f"The job's Python code raised {code(raised)}.",
        "exception",
        "message",
        key=True,
    )
    w.frame_facts()
    if w.has("chain_exception"):
        w.fact(
            "cause",
            f"While handling it, the code raised a second exception, "
            f"{code((w.get('chain_exception') or '') + ': ' + (w.get('chain_message') or ''))}"
            + (
                f" at line {w.get('chain_line')} of {short(w.get('chain_file') or '')}"
                if w.has("chain_file", "chain_line")
                else ""
            )
            + ": a consequence, the first one is the root cause.",
            "chain_exception",
            "chain_message",
            "chain_file",
            "chain_line",
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
    w.rule(
        "cause",
        f"The code looks up the key {key} in a mapping (a dict, a config, a "
        "DataFrame's columns) that does not have it.",
        "key",
    )
    w.rule(
        "fix",
        f"{_at(w).capitalize()} reads key {key}: add {key} to the data it reads "
        f"(the config or input file of this job), or use `.get({key}, default)` there if "
        "the key is optional.",
        "key",
        *_frame(w),
    )
    return True


def _index_error(w: Writer) -> bool:
    w.rule("cause", "The code indexes a sequence past its end (or an empty one).", key=True)
    caller = f", or fix the index its caller passes at {w.place('caller')}" if w.has_caller else ""
    w.rule(
        "fix",
        f"Check the length before indexing at {_at(w)}{caller}: the index must be "
        "smaller than the sequence's length.",
        *_frame(w),
        *w.frame_names("caller"),
    )
    return True


def _attribute_error(w: Writer) -> bool:
    attribute, kind, owner = w.get("attribute"), w.get("object_type"), w.get("attribute_owner")
    if attribute and kind == "NoneType":
        w.rule(
            "cause",
            f"A variable is None where an object with {code('.' + attribute)} was "
            "expected: the call that produced it returned None (no match, no result, a "
            "function without `return`).",
            "attribute",
            "object_type",
        )
        w.rule(
            "fix",
            f"Handle the None case before {code('.' + attribute)} is used at "
            f"{_at(w)} (for example `if value is None: ...`), or fix the call that "
            "returned None.",
            "attribute",
            *_frame(w),
        )
        return True
    if attribute and owner:
        w.rule(
            "cause",
            f"The installed module {code(owner)} has no {code(attribute)}: the code "
            "was written for another version of it (a name removed or renamed), or the "
            "name is misspelled.",
            "attribute",
            "attribute_owner",
        )
        w.rule(
            "fix",
            f"Replace {code(owner + '.' + attribute)} at {_at(w)} with what the installed "
            f"{code(owner)} offers instead (its release notes name the replacement), or "
            f"install the version of {code(owner)} the code was written for "
            f"(`pip install '{owner}==<version>'` in the job's environment).",
            "attribute",
            "attribute_owner",
            *_frame(w),
        )
        return True
    if attribute and kind:
        w.rule(
            "cause",
            f"An object of type {code(kind)} has no attribute {code(attribute)}: "
            "the code expects another type there, or the name is misspelled.",
            "attribute",
            "object_type",
        )
        w.rule(
            "fix",
            f"Fix {code('.' + attribute)} at {_at(w)}: check the attribute's name "
            f"and where the {code(kind)} object comes from.",
            "attribute",
            "object_type",
            *_frame(w),
        )
        return True
    return False


def _name_error(w: Writer) -> bool:
    name = w.get("name")
    if not name:
        return False
    w.rule(
        "cause",
        f"The name {code(name)} is used but never defined where it is used "
        "(a missing assignment or import, or a misspelling).",
        "name",
    )
    w.rule(
        "fix",
        f"Define {code(name)} before {_at(w)} (assign it, import it, or pass it "
        "as a parameter), or correct its spelling.",
        "name",
        *_frame(w),
    )
    return True


def _unbound_local(w: Writer) -> bool:
    name = w.get("name")
    if not name:
        return False
    w.rule(
        "cause",
        f"The local variable {code(name)} is read before any assignment to it "
        "ran: it is assigned only in some branches or loop iterations.",
        "name",
    )
    w.rule(
        "fix",
        f"Give {code(name)} a value before the branches that assign it (for "
        f"example `{name} = None`) and handle the case where none of them runs, before "
        f"{_at(w)}.",
        "name",
        *_frame(w),
    )
    return True


def _zero_division(w: Writer) -> bool:
    w.rule(
        "cause",
        "A division by zero: the divisor is 0 (often the length or the sum of an empty input).",
        key=True,
    )
    caller = f" (the input comes from {w.place('caller')})" if w.has_caller else ""
    w.rule(
        "fix",
        f"Guard the division at {_at(w)} against a zero divisor (an empty input), "
        f"or fix the input that makes it zero{caller}.",
        *_frame(w),
        *w.frame_names("caller"),
    )
    return True


def _assertion(w: Writer) -> bool:
    source = w.get("frame_source") or ""
    match = re.match(r"assert (?P<expr>.+?)(?:, .*)?$", source)
    if not match:
        return False
    expr = match.group("expr")
    message = w.get("message")
    said = f" (its message: {code(message)})" if message else ""
    w.rule(
        "cause",
        f"The condition {code(expr)} of an `assert` was false{said}.",
        "frame_source",
        "message",
    )
    w.rule(
        "fix",
        f"Find why {code(expr)} is false for this input at {_at(w)}: fix the input "
        "or the computation that produced it, or the assertion if it is wrong.",
        *_frame(w),
    )
    return True


def _type_error(w: Writer) -> bool:
    kind = w.get("object_type")
    caller = f"; its caller passes the values at {w.place('caller')}" if w.has_caller else ""
    message = w.get("message") or ""
    if kind and "not callable" in message:
        w.rule(
            "cause",
            f"An object of type {code(kind)} is called like a function: a "
            "variable holds a value where a function was expected.",
            "object_type",
        )
        w.rule(
            "fix",
            f"Pass a function where one is expected at {_at(w)}{caller}.",
            "object_type",
            *_frame(w),
            *w.frame_names("caller"),
        )
        return True
    if w.has("operator", "left_type", "right_type"):
        left, right, op = w.get("left_type"), w.get("right_type"), w.get("operator")
        w.rule(
            "cause",
            f"{code(op or '')} is applied to a {code(left or '')} and a "
            f"{code(right or '')}, which Python does not combine.",
            "operator",
            "left_type",
            "right_type",
        )
        w.rule(
            "fix",
            f"Convert the values to one type (for example `int(...)` or `str(...)`) "
            f"before {_at(w)}{caller}.",
            *_frame(w),
            *w.frame_names("caller"),
        )
        return True
    return False


def _value_error(w: Writer) -> bool:
    size, shape = w.get("array_size"), w.get("shape")
    if not (size and shape):
        return False
    caller = (
        f", or pass a matching shape where it is called at {w.place('caller')}"
        if w.has_caller
        else ""
    )
    w.rule(
        "cause",
        f"An array of {size} elements cannot be reshaped into {code(shape)}: the "
        "new shape must hold exactly as many elements.",
        "array_size",
        "shape",
    )
    w.rule(
        "fix",
        f"Make the shape at {_at(w)} match the data's size ({size} elements){caller}.",
        "array_size",
        *_frame(w),
        *w.frame_names("caller"),
    )
    return True


def _recursion(w: Writer) -> bool:
    function = w.get("frame_function")
    if not function:
        return False
    w.rule(
        "cause",
        f"{code(function)} calls itself without end: the recursion never reaches its base case.",
        "frame_function",
    )
    w.rule(
        "fix",
        f"Add or fix the base case of {code(function)} at {_at(w)} so the recursion "
        "stops (the argument must change between calls); `sys.setrecursionlimit` only "
        "helps a deep but finite recursion.",
        *_frame(w),
    )
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
    w.rule(
        "cause",
        f"The job's own code raised it on purpose{said}: a check of its input or "
        "of a result failed.",
        "message",
        "frame_source",
    )
    w.rule(
        "fix",
        f"The check at {_at(w)} rejected a value{said}: fix the input or the "
        "parameters it rejects, or the computation that produced the value.",
        "message",
        *_frame(w),
    )
    return True


def _generic_exception(w: Writer) -> None:
    exc = w.get("exception") or "the exception"
    if w.has_frame:
        w.rule(
            "fix",
            f"Reproduce the failing call with the same input and fix {_at(w)} or "
            f"the input that reaches it, where {code(exc)} is raised.",
            *_frame(w),
        )
    else:
        w.rule(
            "fix",
            f"Reproduce the failing call with the same input and fix where {code(exc)} is raised.",
            "exception",
        )


# -- syntax_error -------------------------------------------------------------------------
