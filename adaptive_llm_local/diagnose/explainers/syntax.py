"""Syntax errors: the line Python (or bash) could not parse, and the edit it needs."""

from __future__ import annotations

import re

from .writer import Writer, code, short

_SYNTAX_FIXES: tuple[tuple[str, str], ...] = (
    (r"^expected ':'", "Add the missing `:` at the end of {at}."),
    (r"^'(?P<bracket>[(\[{])' was never closed", "Close the `{bracket}` opened at {at}."),
    (r"^unexpected indent", "Remove the extra indentation of {at} so it lines up with its block."),
    (
        r"^expected an indented block",
        "Indent {at} under the statement the message names, "
        "or add a body (`pass`) to that statement.",
    ),
    (r"^unindent does not match", "Indent {at} to the level of the block it belongs to."),
    (
        r"^inconsistent use of tabs",
        "Replace the tabs in the indentation of {at} with spaces "
        "(the rest of the file uses spaces).",
    ),
    (
        r"^Missing parentheses in call to 'print'",
        "{at} is Python 2 code: write `print(...)` "
        "with parentheses, or run the file with the Python 2 it was written for.",
    ),
)


def syntax_error(w: Writer) -> None:
    if w.has("shell_error", "script"):
        _shell_syntax(w)
        return
    message = w.get("message") or ""
    exc = w.get("exception") or "SyntaxError"
    where = w.place(full=True) if w.has_frame else "the file"
    w.fact(
        "cause",
        f"Python could not parse {where}: {code(exc + ': ' + message)}, so the "
        "job stopped before running any of it.",
        "exception",
        "message",
        *w.frame_names(),
        key=True,
    )
    at = w.place() if w.has_frame else "the line the error points at"
    for pattern, template in _SYNTAX_FIXES:
        match = re.search(pattern, message)
        if match:
            text = template.format(at=at, **match.groupdict())
            w.rule("fix", text[0].upper() + text[1:], "message", *w.frame_names())
            break
    else:
        w.rule(
            "fix",
            f"Fix the syntax at {at}: Python says {code(message)}.",
            "message",
            *w.frame_names(),
        )
    file = short(w.get("frame_file") or "file.py")
    w.rule(
        "fix",
        f"Check the file with `python -m py_compile {file}` using the job's Python "
        "before resubmitting.",
        "frame_file",
    )


def _shell_syntax(w: Writer) -> None:
    script, line, error = w.get("script"), w.get("script_line"), w.get("shell_error") or ""
    w.fact(
        "cause",
        f"bash could not parse {script}: {code(error)} at line {line}.",
        "script",
        "script_line",
        "shell_error",
    )
    if "unexpected end of file" in error:
        w.rule(
            "cause",
            "A block opened in the script is never closed (`if` without `fi`, "
            "`for`/`while` without `done`, `case` without `esac`, a `{` or a quote); bash "
            "runs the lines before it, then stops.",
        )
        w.rule(
            "fix",
            f"Close the open block in {script} (add the missing `fi`, `done`, "
            "`esac`, `}` or quote) and check the script with "
            f"`bash -n {script}` before resubmitting.",
            "script",
        )
        return
    token = w.get("syntax_token")
    near = f" {code(token)} where bash does not expect it" if token else " a syntax error"
    w.rule(
        "fix",
        f"Line {line} of {script} has{near}: check the statement before it (a "
        f"missing `then`, `do`, `;` or quote), then run `bash -n {script}`.",
        "script",
        "script_line",
        "syntax_token",
    )


# -- missing_module -----------------------------------------------------------------------
