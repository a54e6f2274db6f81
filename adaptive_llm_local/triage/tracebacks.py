"""Finding Python tracebacks, their exception lines and their chains in log lines.

Python prints a chain of exceptions root first: the exception that started it,
then ``The above exception was the direct cause of the following exception:``
(``raise ... from``) or ``During handling of the above exception, another
exception occurred:`` and the next one. The root cause of a failure is therefore
the FIRST exception of the LAST chain in the log: later chains supersede earlier
(handled, logged) ones, and later links of a chain are consequences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Prefixes that launchers put in front of every line: srun --label ("0: "),
# Open MPI --tag-output ("[1,0]<stderr>:"), torch.distributed ("[rank1]: ").
_PREFIX = re.compile(r"^(?:\d{1,5}: |\[\d+,\d+\]<std(?:out|err)>: ?|\[rank\d+\]: ?)")
_HEADER = re.compile(r"Traceback \(most recent call last\):\s*$")
_RICH_HEADER = re.compile(r"^[╭┌].*Traceback \(most recent call last\)")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?')
_EXCEPTION = re.compile(
    r"^(?P<qual>(?:[A-Za-z_][\w]*\.)*(?P<name>_*[A-Z][\w]*))(?:(?::\s?)(?P<msg>.*))?$"
)
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"
_INDENT = (" ", "\t", "│", "╰", "╭", "|", "+")
_MAX_NOISE = 6
_MAX_BLOCK = 2000
_CHAIN_GAP = 40


def body(text: str) -> str:
    """The line without launcher prefixes such as ``0: `` or ``[rank1]: ``."""
    return _PREFIX.sub("", text, count=1)


_FAULT_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+) in (?P<func>\S+)')
_RICH_FRAME = re.compile(r"^│ (?P<file>\S+?):(?P<line>\d+) in (?P<func>\S+?)\s*│?\s*$")


@dataclass(frozen=True)
class Frame:
    """One frame of a traceback: ``File "x.py", line 3, in f``.

    Attributes
    ----------
    file, line, function
        As printed; ``function`` is None for a syntax error's location.
    index
        Index of the frame's line in the lines given to the parser.
    """

    file: str
    line: int
    function: str | None
    index: int


def parse_frame(text: str, index: int = 0) -> Frame | None:
    """A frame line of a standard, ``faulthandler`` or ``rich`` traceback, or None."""
    text = body(text)
    match = _FAULT_FRAME.match(text) or _FRAME.match(text) or _RICH_FRAME.match(text)
    if match is None:
        return None
    func = match.group("func")
    return Frame(
        match.group("file"), int(match.group("line")), func.strip() if func else None, index
    )


def parse_exception_line(text: str) -> tuple[str, str, str] | None:
    """Split ``pkg.mod.SomeError: message`` into (class name, qualified name, message).

    A class name must start with an upper-case letter (after leading
    underscores) and contain a lower-case letter, which rules out log levels
    such as ``INFO:`` or ``ERROR:``.
    """
    match = _EXCEPTION.match(text)
    if match is None:
        return None
    name = match.group("name")
    if not any(c.islower() for c in name):
        return None
    return name, match.group("qual"), (match.group("msg") or "").strip()


def _looks_like_exception(name: str) -> bool:
    return name.endswith(("Error", "Exception", "Interrupt", "Exit", "Warning", "Fault", "Failure"))


@dataclass
class Block:
    """One printed exception: optional traceback header, frames, exception line.

    Attributes are indices into the list of lines given to `find_blocks`.
    """

    start: int
    frames: list[int]
    exc_index: int | None
    name: str | None = None
    qualname: str | None = None
    message: str = ""
    chained: bool = False
    ignored: bool = False

    @property
    def end(self) -> int:
        """Index of the last line of the block."""
        if self.exc_index is not None:
            return self.exc_index
        return self.frames[-1] + 1 if self.frames else self.start


def _is_header(text: str) -> bool:
    return bool(_HEADER.search(text) or _RICH_HEADER.match(text))


_GROUP_MARGIN = re.compile(r"^[ \t]*[|+](?:-[+-]*)?[ \t]?")


def _parse_group(bodies: list[str], start: int) -> Block:
    """An exception group: the first leaf sub-exception is the root cause."""
    frames: list[int] = []
    group: tuple[int, tuple[str, str, str]] | None = None
    j = start + 1
    limit = min(len(bodies), start + _MAX_BLOCK)
    while j < limit and bodies[j].startswith((" ", "\t", "|", "+")):
        inner = _GROUP_MARGIN.sub("", bodies[j], count=1)
        parsed = parse_exception_line(inner)
        if _FRAME.match(inner):
            frames.append(j)
        elif parsed is not None and _looks_like_exception(parsed[0]):
            if "ExceptionGroup" not in parsed[0]:
                return Block(start, frames, j, *parsed)
            group = group or (j, parsed)
        j += 1
    if group is not None:
        return Block(start, frames, group[0], *group[1])
    return Block(start, frames, None)


def _parse_block(bodies: list[str], start: int) -> Block:
    if "Exception Group Traceback" in bodies[start]:
        return _parse_group(bodies, start)
    frames: list[int] = []
    noise = 0
    j = start + 1
    limit = min(len(bodies), start + _MAX_BLOCK)
    while j < limit:
        text = bodies[j]
        if _is_header(text):
            break
        if text.startswith(_INDENT) or not text:
            if _FRAME.match(text) or (text.startswith("│") and " in " in text):
                frames.append(j)
            j += 1
            continue
        parsed = parse_exception_line(text)
        if parsed is not None and (noise == 0 or _looks_like_exception(parsed[0])):
            name, qual, msg = parsed
            return Block(start, frames, j, name, qual, msg)
        noise += 1
        if noise > _MAX_NOISE:
            break
        j += 1
    return Block(start, frames, None)


def _frameless_syntax_block(bodies: list[str], i: int) -> Block | None:
    """``  File "x.py", line 3`` then code and caret lines then ``SyntaxError: ...``.

    Up to two lines of other output may be interleaved (srun writes its own
    errors into the same stream).
    """
    noise = 0
    for j in range(i + 1, min(len(bodies), i + 8)):
        text = bodies[j]
        if text.startswith(_INDENT) or not text:
            continue
        parsed = parse_exception_line(text)
        if parsed is not None and _looks_like_exception(parsed[0]):
            name, qual, msg = parsed
            return Block(i, [i], j, name, qual, msg)
        noise += 1
        if noise > 2:
            return None
    return None


def _chained_after(bodies: list[str], block: Block) -> bool:
    for k in range(block.end + 1, min(len(bodies), block.end + 1 + _CHAIN_GAP)):
        text = bodies[k].strip()
        if text in (CAUSE, CONTEXT):
            return True
        if _is_header(bodies[k]):
            return False
    return False


def find_blocks(texts: list[str]) -> list[Block]:
    """Find every printed Python exception in ``texts`` (cleaned log lines), in order.

    Handles tracebacks with or without the ``Traceback`` header (a syntax error
    in the main script has none), ``rich`` boxed tracebacks, exception messages
    interleaved with other output, launcher prefixes, and tracebacks embedded in
    ``RemoteTraceback`` strings. A block whose exception line is missing (the
    log was cut) has ``exc_index`` None.
    """
    bodies = [body(t) for t in texts]
    blocks: list[Block] = []
    i = 0
    n = len(bodies)
    last_text = next((k for k in range(n - 1, -1, -1) if bodies[k].strip()), -1)
    while i < n:
        text = bodies[i]
        if "Traceback" in text and _is_header(text):
            block = _parse_block(bodies, i)
        elif text.startswith("  File") and _FRAME.match(text):
            found = _frameless_syntax_block(bodies, i)
            if found is None:
                i += 1
                continue
            block = found
        else:
            i += 1
            continue
        if block.exc_index is None and not block.frames and i < last_text:
            # A header followed by ordinary text is a printed string, not a traceback;
            # a header at the very end is a traceback cut off.
            i += 1
            continue
        block.chained = block.exc_index is not None and _chained_after(bodies, block)
        block.ignored = i > 0 and bodies[i - 1].startswith("Exception ignored in")
        blocks.append(block)
        i = max(block.end + 1, i + 1)
    return blocks


def last_chain(blocks: list[Block]) -> list[Block]:
    """Return the blocks of the last exception chain, root first.

    Tracebacks that Python prints after ``Exception ignored in: ...`` (errors in
    ``__del__`` or at shutdown) do not stop a program and are left out.
    """
    blocks = [b for b in blocks if not b.ignored]
    if not blocks:
        return []
    chain = [blocks[-1]]
    for block in reversed(blocks[:-1]):
        if not block.chained:
            break
        chain.insert(0, block)
    return chain
