"""Deterministic fixes ``/fix`` can propose without a model.

Pure functions: an indentation fix for the line a ``TabError``/``IndentationError``
reports (the first candidate indentation with which the file compiles), and raising
``#SBATCH --time`` / ``--mem`` in a job script after a time limit or an out-of-memory
kill. Which line of the user's code failed is triage's fact (the seed's ``frame``).
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from .edits import compiles

INDENTATION_ERRORS = ("TabError", "IndentationError")
_TIME = re.compile(r"^(?P<head>#SBATCH[ \t]+(?:--time[= \t][ \t]*|-t[ \t]*))(?P<value>\S+)", re.M)
_MEM = re.compile(
    r"^(?P<head>#SBATCH[ \t]+--mem(?:-per-cpu|-per-gpu)?[= \t][ \t]*)(?P<value>\d+)(?P<unit>[KMGTkmgt]?)\b",
    re.M,
)
_UNLIMITED = {"unlimited", "infinite"}


# --- indentation -------------------------------------------------------------------


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _indent_unit(lines: list[str]) -> int:
    widths = sorted({len(_indent(ln).expandtabs(4)) for ln in lines if ln.strip()})
    steps = Counter(b - a for a, b in pairwise(widths) if b > a)
    return steps.most_common(1)[0][0] if steps else 4


def _candidates(lines: list[str], index: int) -> list[str]:
    own = _indent(lines[index])
    previous = next((ln for ln in reversed(lines[:index]) if ln.strip()), "")
    prev = _indent(previous)
    unit = " " * _indent_unit(lines)
    found: list[str] = []
    if "\t" in own:
        found += [own.expandtabs(4), own.expandtabs(8), own.replace("\t", unit)]
    found += [prev, prev.expandtabs(4), prev + unit, prev.expandtabs(4) + unit]
    # the indentation of enclosing blocks, innermost first
    width = len(prev.expandtabs(4))
    for line in reversed(lines[:index]):
        level = _indent(line)
        if line.strip() and len(level.expandtabs(4)) < width:
            found.append(level)
            width = len(level.expandtabs(4))
    unique: list[str] = []
    for candidate in found:
        if candidate != own and candidate not in unique:
            unique.append(candidate)
    return unique


def fix_indentation(path: str, source: str, line_number: int) -> str | None:
    """``source`` with the indentation of the reported line fixed, or ``None``.

    Only line ``line_number`` changes, to the first candidate indentation (its tabs
    expanded, the previous line's, one level deeper, an enclosing block's) with which
    the file compiles. For a ``TabError`` that one line cannot fix, leading tabs of the
    whole file are expanded instead, again only when the result compiles.
    """
    lines = source.splitlines(keepends=True)
    if not 1 <= line_number <= len(lines) or not lines[line_number - 1].strip():
        return None
    index = line_number - 1
    body = lines[index].lstrip(" \t")
    for indent in _candidates(lines, index):
        fixed = [*lines[:index], indent + body, *lines[index + 1 :]]
        text = "".join(fixed)
        if compiles(path, text):
            return text
    if "\t" in source:
        for width in (4, 8):
            text = "".join(_indent(ln).expandtabs(width) + ln.lstrip(" \t") for ln in lines)
            if compiles(path, text):
                return text
    return None


# --- SLURM limits ------------------------------------------------------------------


def parse_slurm_time(value: str) -> int | None:
    """Seconds of a SLURM ``--time`` value (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``)."""
    if value.lower() in _UNLIMITED:
        return None
    days = 0
    rest = value
    if "-" in value:
        day_text, rest = value.split("-", 1)
        if not day_text.isdigit():
            return None
        days = int(day_text)
    parts = rest.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        return None
    numbers = [int(p) for p in parts]
    if "-" in value:  # D-HH, D-HH:MM, D-HH:MM:SS
        numbers += [0] * (3 - len(numbers))
        hours, minutes, seconds = numbers
    elif len(numbers) == 1:
        hours, minutes, seconds = 0, numbers[0], 0
    elif len(numbers) == 2:
        hours, (minutes, seconds) = 0, numbers
    else:
        hours, minutes, seconds = numbers
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def format_slurm_time(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def raise_limits(script: str, category: str, factor: int = 2) -> tuple[str, str] | None:
    """The job script with its time or memory request multiplied by ``factor``.

    Returns the new script and a one-line description, or ``None`` when the script
    has no such ``#SBATCH`` line (or asks for unlimited time / all memory).
    """
    if category == "time_limit":
        match = _TIME.search(script)
        seconds = parse_slurm_time(match["value"]) if match else None
        if match is None or not seconds:
            return None
        new_value = format_slurm_time(seconds * factor)
        what = f"--time {match['value']} -> {new_value}"
    elif category == "out_of_memory":
        match = _MEM.search(script)
        if match is None or int(match["value"]) == 0:
            return None
        new_value = f"{int(match['value']) * factor}{match['unit']}"
        what = (
            f"{match['head'].split()[1].rstrip('=')} {match['value']}{match['unit']} -> {new_value}"
        )
    else:
        return None
    start, end = match.span()
    line = match["head"] + new_value
    return script[:start] + line + script[end:], what


def requests_limit(script: str, category: str) -> bool:
    """Whether a job script has the ``#SBATCH`` line that ``raise_limits`` would change."""
    pattern = _TIME if category == "time_limit" else _MEM
    return pattern.search(script) is not None
