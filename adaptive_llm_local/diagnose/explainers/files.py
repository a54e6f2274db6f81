"""Files: missing, not permitted, a directory, a full or read-only file system."""

from __future__ import annotations

from .writer import Writer, code

_WRITABLE = "a scratch or home folder the job owns"


def file_error(w: Writer) -> None:
    errno, strerror = w.get("errno"), w.get("strerror") or ""
    path = w.get("path")
    if w.has("script") and path and strerror == "Permission denied":
        _not_executable(w, path)
        return
    if w.has("interpreter") and path and errno == "2":
        w.fact(
            "cause",
            f"{w.get('interpreter')} was asked to run {path}, which does not exist "
            f"(`[Errno 2] No such file or directory`).",
            "interpreter",
            "path",
            key=True,
        )
        w.rule(
            "fix",
            f"Correct the script path {path} in the job's command (a renamed or "
            "moved script?), or put the script there, then resubmit.",
            "path",
        )
        _path_checks(w)
        return
    what = f"{code(path)}" if path else "a file"
    said = strerror or w.get("message") or w.result.key_line or ""
    said = f": {said}" + (f" ([Errno {errno}])" if errno and strerror else "")
    at = f" at {w.place(full=True)}" if w.has_frame else ""
    w.fact(
        "cause",
        f"The job could not access {what}{said}{at}.",
        "path",
        "strerror",
        "errno",
        *w.frame_names(),
        key=True,
    )
    if w.has("library_file"):
        w.frame_facts(caller=False, frame=False)
    where = w.place() if w.has_frame else "the line that opens it"
    if strerror.startswith("No such file") or errno == "2":
        _not_found(w, path, where)
    elif strerror.startswith("Permission denied") or errno == "13":
        w.rule(
            "cause",
            "The job's user may not access it: the file or its folder belongs to "
            "another user or lacks the permission bits.",
        )
        w.rule(
            "fix",
            f"Give the job's user access to {what} (`ls -l` shows its owner and mode; the "
            f"owner can change them with `chmod` or `chown`), or, for an output, write it "
            f"into {_WRITABLE}, changing the path at {where}.",
            "path",
            *w.frame_names(),
        )
    elif strerror.startswith("Is a directory") or errno == "21":
        w.rule(
            "fix",
            f"{what.capitalize()} is a directory: open a file inside it at {where} "
            "(for example `" + (path or "folder") + "/<file>`), or fix the path.",
            "path",
            *w.frame_names(),
        )
    elif strerror.startswith("No space left") or errno == "28":
        w.rule("cause", "The file system the job writes to is full.")
        w.rule(
            "fix",
            f"Free space or write to a file system with room (check with `df -h` "
            f"and `quota` on the node where the job runs; scratch file systems are usually "
            f"larger); the write is at {where}.",
            *w.frame_names(),
        )
    elif strerror.startswith("Disk quota") or errno == "122":
        w.rule(
            "fix",
            f"Free space within your quota (`quota`, `du -sh`) or write to a file "
            f"system with quota left; the write is at {where}.",
            *w.frame_names(),
        )
    elif strerror.startswith("Read-only") or errno == "30":
        w.rule(
            "cause",
            "The path is on a file system mounted read-only (on clusters, software "
            "and container mounts often are).",
        )
        w.rule(
            "fix",
            f"Write {what} to a writable location instead ({_WRITABLE}), changing the "
            f"path at {where}.",
            "path",
            *w.frame_names(),
        )
    else:
        w.rule(
            "fix",
            f"Check {what} exists on the compute node, its permissions and the quota "
            f"(`df -h`, `quota`), then fix the path at {where}.",
            "path",
            *w.frame_names(),
        )
    _path_checks(w)


def _not_found(w: Writer, path: str | None, where: str) -> None:
    what = code(path) if path else "the file"
    if path and not path.startswith("/"):
        w.rule(
            "cause",
            f"{what} is a relative path: it is looked up in the job's working "
            "directory, which is not necessarily the folder of the script.",
            "path",
        )
        w.rule(
            "fix",
            f"Make {what} exist in the folder the job runs in, or use an absolute path "
            f"(on a file system the compute nodes mount) at {where}; with SLURM, set the "
            "working directory with `#SBATCH --chdir` (`-D`).",
            "path",
            *w.frame_names(),
        )
    else:
        w.rule(
            "fix",
            f"Create {what} or correct the path at {where}; check that its file "
            "system is mounted on the compute nodes.",
            "path",
            *w.frame_names(),
        )


def _not_executable(w: Writer, path: str) -> None:
    script, line = w.get("script"), w.get("script_line")
    w.fact(
        "cause",
        f"Line {line} of {script} runs {path}, which may not be executed "
        "(`Permission denied`): it lacks the execute permission, or its file system is "
        "mounted `noexec`.",
        "script",
        "script_line",
        "path",
        key=True,
    )
    w.rule(
        "fix",
        f"Make it executable (`chmod +x {path}`) or run it through its interpreter "
        f"(`bash {path}`) at line {line} of {script}.",
        "path",
        "script",
        "script_line",
    )
    _path_checks(w)


def _path_checks(w: Writer) -> None:
    """What the machine says now about the path (exists, owner, read-only, space)."""
    exists = w.check("path_exists")
    if exists is not None and exists.status == "ok" and w.get("errno") == "2":
        w.rule(
            "fix",
            "The path exists on this machine now: it was created later, or the job "
            "ran on a node or in a folder where it does not exist.",
        )


# -- GPUs --------------------------------------------------------------------------------
