"""Read-only checks of a path a log names: does it exist now, who owns it, its file system.

Only ``stat``, ``statvfs``, ``os.access`` and reading ``/proc/self/mounts``: nothing is
opened for writing, created or changed. A relative path is looked up next to the script
that failed (the log does not show the job's working directory, and the text says so).
"""

from __future__ import annotations

import grp
import os
import posixpath
import pwd
import stat
from dataclasses import dataclass

from ..triage.facts import Facts
from .check_result import CheckResult, Status, skipped

_GIB = 1024**3


@dataclass(frozen=True)
class Located:
    """A path of the log, made absolute when that is possible."""

    given: str
    absolute: str
    base: str | None  # the script's folder a relative path was resolved against


def locate(path: str, facts: Facts) -> Located | None:
    """The absolute path the log means, or None for a relative path without a base."""
    if posixpath.isabs(path):
        return Located(path, posixpath.normpath(path), None)
    script = facts.get("frame_file") or facts.get("script")
    if script and posixpath.isabs(script):
        base = posixpath.dirname(script)
        return Located(path, posixpath.normpath(posixpath.join(base, path)), base)
    return None


def nearest_existing(path: str) -> str:
    """``path`` itself or its closest existing parent folder."""
    current = path
    while not os.path.lexists(current):
        parent = posixpath.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _owner(st: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{user}:{group}"


def _mount_of(path: str) -> tuple[str, str, str]:
    """(mount point, file system type, options) of the mount holding ``path``."""
    best = ("/", "", "")
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 4:
                    continue
                point = parts[1].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best[0]):
                    best = (point, parts[2], parts[3])
    except OSError:
        pass
    return best


def path_checks(located: Located, *, errno: str | None) -> list[CheckResult]:
    """``path_exists``, ``path_owner``, ``filesystem_writable`` and ``filesystem_space``."""
    results = [_exists(located, errno)]
    existing = nearest_existing(located.absolute)
    try:
        st = os.stat(existing)
    except OSError as exc:
        results.append(skipped("path_owner", f"{existing} cannot be read: {exc.strerror}."))
        return results
    results.append(_owner_check(existing, st))
    results.extend(filesystem_checks(existing, errno=errno))
    return results


def _exists(located: Located, errno: str | None) -> CheckResult:
    where = located.absolute
    if located.base is not None:
        prefix = (
            f"{located.given} is relative; next to the script, in {located.base}, it is "
            f"{where}, which"
        )
    else:
        prefix = where
    detail = {"path": where}
    if os.path.lexists(where):
        kind = "a folder" if os.path.isdir(where) else "a file"
        detail["exists"] = "yes"
        return CheckResult(
            "path_exists", "ok", f"{prefix} exists on this machine now ({kind}).", detail
        )
    detail["exists"] = "no"
    existing = nearest_existing(where)
    detail["nearest"] = existing
    folder = posixpath.dirname(where)
    if existing == folder:
        rest = f"; its folder {folder} exists"
    else:
        rest = f"; its folder does not either (the nearest existing one is {existing})"
    status: Status = "problem" if errno in (None, "2") else "ok"
    return CheckResult(
        "path_exists", status, f"{prefix} does not exist on this machine now{rest}.", detail
    )


def _owner_check(existing: str, st: os.stat_result) -> CheckResult:
    mode = stat.filemode(st.st_mode)
    owner = _owner(st)
    writable = os.access(existing, os.W_OK)
    who = f"uid {os.getuid()}"
    text = (
        f"{existing} is owned by {owner} with mode {mode}; this check's user ({who}) "
        f"{'may' if writable else 'may not'} write to it."
    )
    return CheckResult(
        "path_owner",
        "ok" if writable else "problem",
        text,
        {"path": existing, "owner": owner, "mode": mode, "writable": "yes" if writable else "no"},
    )


def filesystem_checks(existing: str, *, errno: str | None) -> list[CheckResult]:
    """Whether the file system holding ``existing`` is read-only, and how full it is."""
    try:
        vfs = os.statvfs(existing)
    except OSError as exc:
        return [skipped("filesystem_writable", f"statvfs of {existing} failed: {exc.strerror}.")]
    point, fstype, options = _mount_of(existing)
    on = f"the {fstype} file system mounted at {point}" if fstype else f"the file system of {point}"
    read_only = bool(vfs.f_flag & os.ST_RDONLY)
    results = [
        CheckResult(
            "filesystem_writable",
            "problem" if read_only else "ok",
            f"{existing} is on {on}, which is mounted "
            f"{'read-only' if read_only else 'read-write'} now.",
            {
                "path": existing,
                "mount": point,
                "type": fstype,
                "options": options,
                "read_only": "yes" if read_only else "no",
            },
        )
    ]
    if vfs.f_blocks:
        free = vfs.f_bavail * vfs.f_frsize
        total = vfs.f_blocks * vfs.f_frsize
        share = free / total
        inodes = f" and {vfs.f_favail} of {vfs.f_files} inodes" if vfs.f_files else ""
        full = share < 0.01 or (vfs.f_files and vfs.f_favail == 0)
        results.append(
            CheckResult(
                "filesystem_space",
                "problem" if full else "ok",
                f"{on.capitalize()} has {free / _GIB:.1f} GiB of {total / _GIB:.1f} GiB free "
                f"({share:.0%}){inodes} now.",
                {"mount": point, "free_bytes": str(free), "total_bytes": str(total)},
            )
        )
    return results
