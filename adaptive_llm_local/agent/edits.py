"""Edits as search-and-replace, shown as unified diffs, approvable hunk by hunk.

Pure functions: text in, text out. An edit replaces one exact occurrence of an old
text in one file; it is validated (applies cleanly, a ``.py`` still compiles) before
anyone is asked to approve it.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ToolError

_CONTEXT = 3


@dataclass(frozen=True)
class Hunk:
    """One hunk of a unified diff and the line changes it stands for."""

    number: int  # 1-based, as shown to the user
    text: str
    changes: tuple[
        tuple[int, int, int, int], ...
    ]  # (i1, i2, j1, j2): before[i1:i2] -> after[j1:j2]


@dataclass(frozen=True)
class Proposal:
    """A change of one file: before, after, and the diff between them."""

    path: str
    before: str | None  # None: the file is created
    after: str
    hunks: tuple[Hunk, ...]

    @property
    def diff(self) -> str:
        old = "/dev/null" if self.before is None else f"a/{self.path}"
        return f"--- {old}\n+++ b/{self.path}\n" + "".join(h.text for h in self.hunks)

    def select(self, numbers: Iterable[int]) -> str:
        """The file's text with only the hunks ``numbers`` (1-based) applied."""
        wanted = set(numbers)
        unknown = wanted - {h.number for h in self.hunks}
        if unknown:
            raise ToolError(
                f"{self.path}: no hunk {', '.join(map(str, sorted(unknown)))} "
                f"(the diff has {len(self.hunks)})"
            )
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        out: list[str] = []
        pos = 0
        for hunk in self.hunks:
            if hunk.number not in wanted:
                continue
            for i1, i2, j1, j2 in hunk.changes:
                out.extend(before[pos:i1])
                out.extend(after[j1:j2])
                pos = i2
        out.extend(before[pos:])
        return "".join(out)


def _range(start: int, length: int) -> str:
    """A unified-diff line range, as difflib writes it."""
    first = start + 1
    if length == 1:
        return str(first)
    if not length:
        first -= 1
    return f"{first},{length}"


def _diff_line(mark: str, line: str) -> str:
    if line.endswith("\n"):
        return mark + line
    return f"{mark}{line}\n\\ No newline at end of file\n"


def propose(path: str, before: str | None, after: str) -> Proposal:
    """The diff of ``before`` -> ``after``, split into hunks.

    Raises
    ------
    ToolError
        When the edit changes nothing.
    """
    a = (before or "").splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    hunks: list[Hunk] = []
    for number, group in enumerate(matcher.get_grouped_opcodes(_CONTEXT), 1):
        first, last = group[0], group[-1]
        lines = [
            f"@@ -{_range(first[1], last[2] - first[1])} +{_range(first[3], last[4] - first[3])} @@\n"
        ]
        changes = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(_diff_line(" ", line) for line in a[i1:i2])
                continue
            changes.append((i1, i2, j1, j2))
            lines.extend(_diff_line("-", line) for line in a[i1:i2])
            lines.extend(_diff_line("+", line) for line in b[j1:j2])
        hunks.append(Hunk(number, "".join(lines), tuple(changes)))
    if not hunks:
        raise ToolError(f"{path}: the edit changes nothing")
    return Proposal(path, before, after, tuple(hunks))


def replace_once(path: str, content: str | None, old_text: str, new_text: str) -> str:
    """``content`` with the one occurrence of ``old_text`` replaced by ``new_text``.

    An empty ``old_text`` creates a new file (``content`` must be ``None``).

    Raises
    ------
    ToolError
        When the old text is missing, occurs more than once, or the file state does
        not fit (creating over an existing file, editing a missing one).
    """
    if content is None:
        if old_text:
            raise ToolError(f"{path} does not exist; to create it, leave old_text empty")
        return new_text
    if not old_text:
        raise ToolError(f"{path} exists; give the exact old_text to replace (it must occur once)")
    count = content.count(old_text)
    if count == 0:
        raise ToolError(
            f"{path}: old_text was not found (it must match exactly, spaces and tabs included)"
        )
    if count > 1:
        raise ToolError(f"{path}: old_text occurs {count} times; include more surrounding lines")
    return content.replace(old_text, new_text, 1)


def check_compiles(path: str, text: str) -> None:
    """Refuse an edit that leaves a ``.py`` file unable to compile (nothing is run)."""
    if not path.endswith(".py"):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ToolError(
            f"{path} would not compile after this edit: {exc.msg} (line {exc.lineno}); not proposed"
        ) from None
    except ValueError as exc:
        raise ToolError(f"{path} would not compile after this edit: {exc}") from None
    except (RecursionError, MemoryError):  # the parser's own limits, as `python` would hit
        raise ToolError(
            f"{path} would not compile after this edit: it nests too deeply for Python's "
            "parser; not proposed"
        ) from None


def compiles(path: str, text: str) -> bool:
    try:
        check_compiles(path, text)
    except ToolError:
        return False
    return True


def unique_snippet(content: str, start: int, end: int) -> tuple[int, int]:
    """Grow ``content[start:end]`` by whole lines until it occurs exactly once."""
    while content.count(content[start:end]) > 1 and (start > 0 or end < len(content)):
        if start > 0:
            start = content.rfind("\n", 0, start - 1) + 1
        if end < len(content):
            nl = content.find("\n", end)
            end = len(content) if nl < 0 else nl + 1
    return start, end


def line_span(content: str, line_number: int) -> tuple[int, int]:
    """Character offsets of 1-based line ``line_number`` (with its newline)."""
    lines = content.splitlines(keepends=True)
    if not 1 <= line_number <= len(lines):
        raise ToolError(f"line {line_number} is not in the file (it has {len(lines)} lines)")
    start = sum(len(line) for line in lines[: line_number - 1])
    return start, start + len(lines[line_number - 1])


def as_replacement(before: str, after: str) -> tuple[str, str]:
    """The smallest unique (old_text, new_text) pair that turns ``before`` into ``after``."""
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix
        and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]
    ):
        suffix += 1
    # widen to whole lines, then until the old text is unique
    start = before.rfind("\n", 0, prefix) + 1
    changed_end = len(before) - suffix
    nl = before.find("\n", changed_end - 1 if changed_end > prefix else prefix)
    end = len(before) if nl < 0 else nl + 1
    start, end = unique_snippet(before, start, end)
    tail = len(before) - end
    return before[start:end], after[start : len(after) - tail]
