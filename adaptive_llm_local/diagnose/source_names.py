"""The names a Python file defines at top level, read from its tokens, nothing built or run.

``ast.parse`` of a crafted file dies (``RecursionError``, ``MemoryError`` for
``-`` * 200000 + ``1``) or takes a gigabyte for two megabytes of source; the tokenizer
keeps one line and one token at a time, and the loop gives up at its deadline.
"""

from __future__ import annotations

import io
import keyword
import time
import tokenize

from .check_result import CheckTimeout

_COMPOUND = frozenset(
    ["def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally"]
)


def top_level_names(source: bytes, *, deadline: float | None = None) -> set[str]:
    """The names a module's top-level statements bind, read from its tokens.

    Functions, classes, plain and annotated assignments (chained ones too) and imports,
    as ``ast`` would find them in the module's body; nothing is built beyond the
    current token, so deep nesting, a huge line or a huge file costs no stack and no
    memory beyond one line.

    Parameters
    ----------
    source
        The file's bytes (its encoding cookie or BOM is honoured).
    deadline
        A ``time.monotonic()`` value after which the reading stops.

    Raises
    ------
    CheckTimeout
        At ``deadline``.
    SyntaxError, tokenize.TokenError, ValueError
        Source that cannot be tokenized (bad indentation, an unclosed bracket or string,
        undecodable bytes).
    """
    names: set[str] = set()
    depth = level = 0
    kind = ""  # "", "def", "from", "import", "assign", "chain", "compound", "other"
    target: str | None = None
    prev = ""
    alias = False
    for count, tok in enumerate(tokenize.tokenize(io.BytesIO(source).readline)):
        if deadline is not None and count % 1024 == 0 and time.monotonic() > deadline:
            raise CheckTimeout("did not finish reading it in time")
        t, s = tok.type, tok.string
        if t == tokenize.INDENT:
            depth += 1
            continue
        if t == tokenize.DEDENT:
            depth -= 1
            continue
        if t in (tokenize.ENCODING, tokenize.COMMENT, tokenize.NL) or depth:
            continue
        if t in (tokenize.NEWLINE, tokenize.ENDMARKER) or (
            s == ";" and level == 0 and kind != "compound"
        ):
            if kind == "import" and target:
                names.add(target)
            kind, target, prev, alias, level = "", None, "", False, 0
            continue
        if t == tokenize.OP and s in "([{":
            level += 1
        elif t == tokenize.OP and s in ")]}":
            level = max(level - 1, 0)
        if not kind:
            if s == "async":
                continue
            if s in ("def", "class"):
                kind = "def"
            elif s == "import":
                kind = "import"
            elif s == "from":
                kind = "from"
            elif s in _COMPOUND:
                kind = "compound"
            elif t == tokenize.NAME and not keyword.iskeyword(s):
                kind, target = "assign", s
            else:
                kind = "other"
        elif kind == "def":
            if t == tokenize.NAME:
                names.add(s)
                kind = "compound"
        elif kind == "from":
            if s == "import":
                kind = "import"
        elif kind == "import":
            if s == ",":
                if target:
                    names.add(target)
                target, alias = None, False
            elif s == "as":
                alias = True
            elif t == tokenize.NAME and (alias or target is None):
                target, alias = s, False
        elif kind == "assign":
            if target and s in ("=", ":"):
                names.add(target)
            kind, target = ("chain" if s == "=" else "other"), None
        elif kind == "chain" and level == 0:
            if t == tokenize.NAME and prev == "=" and not keyword.iskeyword(s):
                target = s
            elif s == "=" and target:
                names.add(target)
                target = None
            else:
                target = None
        prev = s
    return names
