"""Split documents into retrievable chunks, one strategy per file type (pure functions).

Prose is cut at headings (Markdown, reStructuredText), code at top-level definitions
(Python), notebooks at cells; every chunk keeps the line range it came from and the
heading path above it, so a hit can be cited as ``file:12-40`` and embedded with context.
Sections longer than :data:`MAX_CHARS` are split at blank lines, then at line ends.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

MAX_CHARS = 1500
"""Most characters in one chunk (~400 tokens: well inside the embedding context)."""
MIN_CHARS = 120
"""Chunks shorter than this are merged with their neighbour when the result still fits."""

MAX_HEADING_CHARS = 300
"""Longer lines are never headings (and never go through the heading patterns)."""

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")


@dataclass(frozen=True)
class Chunk:
    """A piece of a document.

    Parameters
    ----------
    text
        The chunk's text, verbatim.
    start, end
        First and last line (1-based, inclusive); cell numbers for notebooks.
    title
        Heading path above the chunk (``"Guide › Install › CUDA"``), or the name of
        the definition for code.
    unit
        ``"line"`` or ``"cell"``: what ``start`` and ``end`` count.
    """

    text: str
    start: int
    end: int
    title: str = ""
    unit: str = "line"

    @property
    def lines(self) -> str:
        """The range as cited: ``"12-40"``, ``"7"``, or ``"cell 3"``/``"cells 3-5"``."""
        span = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        if self.unit == "cell":
            return f"cell {span}" if self.start == self.end else f"cells {span}"
        return span


# --- shared helpers ----------------------------------------------------------------------


def _block(lines: Sequence[str], start: int, end: int, title: str, unit: str = "line") -> Chunk:
    """The chunk of ``lines[start:end]`` (0-based, end exclusive), blank edges trimmed."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return Chunk("\n".join(lines[start:end]), start + 1, end, title, unit)


def split_long(chunk: Chunk, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Split a chunk longer than ``max_chars`` at blank lines, then lines, then characters."""
    if len(chunk.text) <= max_chars or chunk.unit != "line":
        return [chunk] if chunk.text.strip() else []
    lines = chunk.text.split("\n")
    pieces: list[Chunk] = []
    begin = 0
    size = 0
    last_blank: int | None = None
    for i, line in enumerate(lines):
        if size + len(line) + 1 > max_chars and i > begin:
            cut = last_blank if last_blank is not None and last_blank > begin else i
            pieces.append(_block(lines, begin, cut, chunk.title))
            size = sum(len(x) + 1 for x in lines[cut:i])
            begin = cut
            last_blank = None
        if not line.strip():
            last_blank = i
        size += len(line) + 1
    pieces.append(_block(lines, begin, len(lines), chunk.title))
    out: list[Chunk] = []
    for piece in pieces:
        if not piece.text.strip():
            continue
        shifted = replace(
            piece, start=piece.start + chunk.start - 1, end=piece.end + chunk.start - 1
        )
        # one line longer than the limit: cut it into pieces that keep its line number
        while len(shifted.text) > max_chars:
            out.append(replace(shifted, text=shifted.text[:max_chars], end=shifted.start))
            shifted = replace(shifted, text=shifted.text[max_chars:], start=shifted.start)
        out.append(shifted)
    return out


def _join_titles(first: Chunk, second: Chunk) -> str:
    titles = [t for t in (first.title, second.title) if t]
    return "; ".join(dict.fromkeys(titles))


def merge_small(
    chunks: Sequence[Chunk], min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS
) -> list[Chunk]:
    """Merge each chunk shorter than ``min_chars`` into the next one when both fit together."""
    out: list[Chunk] = []
    pending: Chunk | None = None
    for chunk in chunks:
        if pending is not None:
            joined = pending.text + "\n\n" + chunk.text
            if len(joined) <= max_chars and pending.unit == chunk.unit:
                chunk = Chunk(
                    joined, pending.start, chunk.end, _join_titles(pending, chunk), chunk.unit
                )
            else:
                out.append(pending)
            pending = None
        if len(chunk.text) < min_chars:
            pending = chunk
        else:
            out.append(chunk)
    if pending is not None:
        if (
            out
            and out[-1].unit == pending.unit
            and len(out[-1].text) + len(pending.text) + 2 <= max_chars
        ):
            last = out.pop()
            joined = last.text + "\n\n" + pending.text
            pending = Chunk(joined, last.start, pending.end, _join_titles(last, pending), last.unit)
        out.append(pending)
    return out


def _finish(chunks: Sequence[Chunk], max_chars: int) -> list[Chunk]:
    split = [piece for chunk in chunks for piece in split_long(chunk, max_chars)]
    return merge_small(split, max_chars=max_chars)


def _sections(
    lines: Sequence[str], headings: Sequence[tuple[int, int, str, int]], max_chars: int
) -> list[Chunk]:
    """Chunks between headings; ``headings`` holds ``(line index, level, title, lines used)``."""
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    bounds = [*headings, (len(lines), 0, "", 0)]
    first = headings[0][0] if headings else len(lines)
    if first > 0:
        chunks.append(_block(lines, 0, first, ""))
    for (index, level, title, _), (next_index, *_rest) in itertools.pairwise(bounds):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = " › ".join(t for _, t in stack)
        chunks.append(_block(lines, index, next_index, path))
    return _finish([c for c in chunks if c.text.strip()], max_chars)


# --- per file type -------------------------------------------------------------------------


def chunk_markdown(text: str, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Cut Markdown at ATX (``## Title``) and setext (underlined) headings, not inside code fences."""
    lines = text.splitlines()
    headings: list[tuple[int, int, str, int]] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or len(line) > MAX_HEADING_CHARS:
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append((i, len(atx.group(1)), atx.group(2).strip(), 1))
        elif (
            i > 0
            and _SETEXT.match(line)
            and lines[i - 1].strip()
            and len(lines[i - 1]) <= MAX_HEADING_CHARS
            and not _ATX.match(lines[i - 1])
            and (not headings or headings[-1][0] != i - 1)
            and (i < 2 or not lines[i - 2].strip())
        ):
            headings.append(
                (i - 1, 1 if line.lstrip().startswith("=") else 2, lines[i - 1].strip(), 2)
            )
    return _sections(lines, headings, max_chars)


def chunk_rst(text: str, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Cut reStructuredText at section titles; levels follow the order adornments first appear."""
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    headings: list[tuple[int, int, str, int]] = []
    i = 0
    while i < len(lines) - 1:
        line, below = lines[i], lines[i + 1]
        over = i > 0 and _RST_ADORNMENT.match(lines[i - 1]) is not None
        title = line.strip()
        adorn = _RST_ADORNMENT.match(below)
        if title and not _RST_ADORNMENT.match(line) and adorn and len(below.strip()) >= len(title):
            style = (adorn.group(1), over)
            if style not in styles:
                styles.append(style)
            start = i - 1 if over else i
            headings.append((start, styles.index(style) + 1, title, 2))
            i += 2
            continue
        i += 1
    return _sections(lines, headings, max_chars)


def chunk_text(text: str, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Plain text: paragraphs grouped up to ``max_chars``."""
    lines = text.splitlines()
    return _finish([_block(lines, 0, len(lines), "")], max_chars) if lines else []


def _def_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"def {node.name}"
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    return None


def _node_span(node: ast.stmt) -> tuple[int, int]:
    """0-based start (decorators included) and exclusive end of a statement."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
    return start, node.end_lineno or node.lineno


def _python_nodes(
    body: Sequence[ast.stmt], lines: Sequence[str], prefix: str, max_chars: int
) -> list[Chunk]:
    chunks: list[Chunk] = []
    loose: tuple[int, int] | None = None  # run of statements that are not definitions

    def flush() -> None:
        nonlocal loose
        if loose is not None:
            chunks.append(_block(lines, loose[0], loose[1], prefix or "module"))
            loose = None

    for node in body:
        start, end = _node_span(node)
        name = _def_name(node)
        if name is None:
            loose = (loose[0] if loose else start, end)
            continue
        flush()
        bare = name.split()[-1]
        title = f"{prefix}.{bare}" if prefix else name
        block = _block(lines, start, end, title)
        if isinstance(node, ast.ClassDef) and len(block.text) > max_chars:
            methods = [n for n in node.body if _def_name(n) is not None]
            head_end = _node_span(methods[0])[0] if methods else end
            chunks.append(_block(lines, start, head_end, title))
            rest = [n for n in node.body if _node_span(n)[0] >= head_end]
            chunks.extend(
                _python_nodes(rest, lines, f"{prefix}.{bare}" if prefix else bare, max_chars)
            )
            continue
        chunks.append(block)
    flush()
    return chunks


def chunk_python(text: str, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Python: one chunk per top-level function or class (big classes per method).

    Module-level statements between definitions (docstring, imports, constants) form
    their own chunks. Code that does not parse falls back to paragraph chunks.

    Raises
    ------
    ValueError
        When the code nests deeper than Python's parser allows (generated input).
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return chunk_text(text, max_chars)
    except (RecursionError, MemoryError):  # nesting past the parser's limits
        raise ValueError("nested too deeply for Python's parser") from None
    lines = text.splitlines()
    chunks = [c for c in _python_nodes(tree.body, lines, "", max_chars) if c.text.strip()]
    return _finish(chunks, max_chars)


def _cell_text(source: object) -> str:
    """A cell's source: a string or a list of strings (anything else in it is dropped)."""
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return ""


def chunk_notebook(
    text: str, max_chars: int = MAX_CHARS, clean: Callable[[str], str] | None = None
) -> list[Chunk]:
    """Jupyter notebooks (JSON): one chunk per cell, outputs left out, small cells merged.

    ``clean`` is applied to each cell's source before it is cut (redaction). Cells or
    fields of the wrong type are skipped, not trusted.

    Raises
    ------
    ValueError
        When the text is not a notebook (also: JSON nested too deeply to parse).
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook (no 'cells' list)")
    chunks: list[Chunk] = []
    heading = ""
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            continue
        body = _cell_text(cell.get("source", ""))
        if clean is not None:
            body = clean(body)
        if not body.strip():
            continue
        kind = cell.get("cell_type")
        kind = kind if isinstance(kind, str) and kind.isidentifier() else "code"
        if kind == "markdown":
            short = (line for line in body.splitlines() if len(line) <= MAX_HEADING_CHARS)
            match = next((m for m in map(_ATX.match, short) if m), None)
            heading = match.group(2).strip() if match else heading
        title = heading or kind
        for piece in range(0, len(body), max_chars):
            chunks.append(Chunk(body[piece : piece + max_chars], number, number, title, "cell"))
    return merge_small(chunks, max_chars=max_chars)


Chunker = Callable[[str], list[Chunk]]

CHUNKERS: dict[str, Chunker] = {
    ".md": chunk_markdown,
    ".markdown": chunk_markdown,
    ".rst": chunk_rst,
    ".txt": chunk_text,
    ".text": chunk_text,
    ".py": chunk_python,
    ".ipynb": chunk_notebook,
}
"""Document suffixes and how each is cut."""


def chunk_document(
    text: str, suffix: str, *, clean: Callable[[str], str] | None = None
) -> list[Chunk]:
    """Chunks of a document of type ``suffix`` (``".md"``, ...); unknown types as plain text.

    ``clean`` (redaction) runs before the text is cut, so a secret that spans lines (a
    private key block) is seen whole; it must keep the number of lines, so that chunks
    still cite the right ones. Notebooks are cleaned cell by cell.
    """
    suffix = suffix.lower()
    if suffix == ".ipynb":
        return chunk_notebook(text, clean=clean)
    if clean is not None:
        text = clean(text)
    return CHUNKERS.get(suffix, chunk_text)(text)
