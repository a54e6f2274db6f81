"""Native crashes: segfaults, aborts, failed C assertions, with the frame or binary."""

from __future__ import annotations

from .writer import Writer, code, short


def segfault(w: Writer) -> None:
    if w.has("assertion", "assert_file"):
        at = f"{w.get('assert_file')}:{w.get('assert_line')}"
        w.fact(
            "cause",
            f"The C assertion {code(w.get('assertion') or '')} in "
            f"{w.get('assert_function')} at {at} failed, so {w.get('program')} aborted "
            "(SIGABRT).",
            "assertion",
            "assert_file",
            "assert_line",
            "assert_function",
            "program",
            key=True,
        )
        w.rule(
            "fix",
            f"Find why {code(w.get('assertion') or '')} is false at {at} for this "
            "input and fix the input or the code; the assertion is the program's own "
            "check.",
            "assertion",
            "assert_file",
            "assert_line",
        )
        return
    signal = w.get("fatal_error") or w.get("signal_name") or w.get("task_error") or "a crash"
    if w.has("library_file") or (w.has_frame and w.has("fatal_error")):
        _python_native_crash(w, signal)
    elif w.has("crash_binary"):
        _native_frames(w, signal)
    elif _is_python(w.get("program")):
        _python_without_frames(w, signal)
    elif w.has("program"):
        program = w.get("program") or ""
        started = _started(w)
        w.fact(
            "cause",
            f"{code(program)}{started} crashed with {signal}: native code read or "
            "wrote memory it does not own.",
            "program",
            "script",
            "script_line",
            "signal_name",
            key=True,
        )
        w.rule(
            "fix",
            f"Debug {code(program)}: compile it with `-g` and run it under `gdb` (or "
            f"open its core dump with `gdb {program} core`), or build it with "
            "`-fsanitize=address`, to find the invalid memory access; rebuild it on the "
            "cluster if it was built elsewhere.",
            "program",
        )
    else:
        task = w.get("task")
        on = f"task {task} on {w.get('node')}" if task and w.has("node") else "A process"
        last = (
            f" The last line the program printed was {code(w.get('last_output') or '')}."
            if w.has("last_output")
            else ""
        )
        w.fact(
            "cause",
            f"{on[0].upper() + on[1:]} crashed with {signal}.{last}",
            "task",
            "node",
            "last_output",
            key=True,
        )
        printed = (
            f" (the one that printed {code(w.get('last_output') or '')})"
            if w.has("last_output")
            else ""
        )
        w.rule(
            "fix",
            f"Debug the program the step runs{printed}: for Python add "
            "`-X faulthandler` to its command to see the crashing line; for compiled code "
            "enable core dumps (`ulimit -c unlimited`) and open them with `gdb`.",
            "last_output",
        )


def _is_python(program: str | None) -> bool:
    return bool(program) and "python" in short(program or "")


def _started(w: Writer) -> str:
    script, line = w.get("script"), w.get("script_line")
    return f" (line {line} of {script})" if script and line else ""


def _python_native_crash(w: Writer, signal: str) -> None:
    inside = ""
    if w.has("library_file"):
        function = w.get("library_function")
        inside = f" in {w.get('library_file')} line {w.get('library_line')}" + (
            f" ({function})" if function else ""
        )
    called = f", called from {w.place(full=True)}" if w.has_frame else ""
    w.fact(
        "cause",
        f"Python crashed in native code ({signal}){inside}{called}.",
        "fatal_error",
        "library_file",
        "library_line",
        "library_function",
        *w.frame_names(),
        key=True,
    )
    at = w.place() if w.has_frame else "the line faulthandler shows"
    what = code(w.get("library_function") or "the native call")
    w.rule(
        "fix",
        f"Fix the call at {at}: {what} crashed on what it was given (an invalid "
        "pointer or a buffer of the wrong size); if the call is right, reinstall or rebuild "
        "the compiled package it goes into for this node.",
        *w.frame_names(),
        "library_function",
    )


def _python_without_frames(w: Writer, signal: str) -> None:
    command = w.get("command") or ""
    w.fact(
        "cause",
        f"{code(command)}{_started(w)} crashed with {signal}: native code (a "
        "compiled extension or `ctypes`) failed, and the log has no Python frame.",
        "command",
        "script",
        "script_line",
        "signal_name",
        key=True,
    )
    if signal == "Bus error":
        w.rule(
            "cause",
            "A bus error usually means reading a memory-mapped file that was "
            "truncated or changed while mapped, or a file system that failed.",
        )
    script = _script_arg(command)
    rerun = f"`python -X faulthandler {script}`" if script else "`python -X faulthandler`"
    at = (
        f" (the command at line {w.get('script_line')} of {w.get('script')})"
        if w.has("script")
        else ""
    )
    w.rule(
        "fix",
        f"Rerun with {rerun}{at} to print the Python line that crashed, then check "
        "the files it maps and rebuild or reinstall the compiled package it calls for this "
        "node.",
        "command",
        "script",
        "script_line",
    )


def _script_arg(command: str) -> str | None:
    return next((short(x) for x in command.split()[1:] if x.endswith(".py")), None)


def _native_frames(w: Writer, signal: str) -> None:
    binary, offset = w.get("crash_binary") or "", w.get("crash_offset")
    rank = f"Rank {w.get('rank')}" if w.has("rank") else "A process"
    address = f" at address {w.get('fault_address')}" if w.has("fault_address") else ""
    w.fact(
        "cause",
        f"{rank} crashed with {signal}{address} in {binary} at offset {offset}"
        + (f" on node {w.get('node')}" if w.has("node") else "")
        + ".",
        "rank",
        "fault_address",
        "crash_binary",
        "crash_offset",
        "node",
        key=True,
    )
    w.rule(
        "fix",
        f"Find the faulting line of {binary}: build it with `-g` and run "
        f"`addr2line -e {binary} {offset}`, then fix the invalid pointer "
        + (f"used on rank {w.get('rank')}." if w.has("rank") else "it uses."),
        "crash_binary",
        "crash_offset",
        "rank",
    )


# -- files -------------------------------------------------------------------------------
