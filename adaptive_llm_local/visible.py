"""Untrusted text made literal: controls and invisible format characters written out.

Logs, documents, paths and model output may hold escape sequences, C1 controls, bidi
overrides or zero-width characters that a terminal acts on or a browser uses to reorder
what is shown. :func:`visible` writes each out as Python's escape, for the terminal
(``cli``), the notebook HTML (``manager.html``) and the chat widget alike.
"""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories a terminal may act on or not show: controls (C0, DEL, C1), format
characters (bidi overrides, zero-width, tags), lone surrogates, line/paragraph separators."""
_KEPT = frozenset("\n\t")


def is_hidden(char: str) -> bool:
    """Whether ``char`` must not be shown as it is (``\\n`` and ``\\t`` may)."""
    return (
        not char.isprintable()
        and char not in _KEPT
        and unicodedata.category(char) in HIDDEN_CATEGORIES
    )


def is_hidden_in_name(char: str) -> bool:
    """Whether ``char`` must not be shown as it is in a name (a path, a label): also
    ``\\n`` and ``\\t``, so that a name always shows on one line."""
    return char in _KEPT or is_hidden(char)


def escaped(char: str) -> str:
    """Python's escape of one character (``\\n``, ``\\x1b``, ``\\u202e``)."""
    return char.encode("unicode_escape").decode("ascii")


def _shown(char: str) -> str:
    return escaped(char) if is_hidden(char) else char


def visible(text: object, *, name: bool = False) -> str:
    """``text`` with every control and invisible format character written out.

    ``ESC c`` becomes ``\\x1bc``, CSI (U+009B) ``\\x9b``, a right-to-left override
    ``\\u202e``, a lone surrogate ``\\udcff``: Python's escapes, so what is shown can be
    searched for. Newlines and tabs stay, except with ``name=True`` (a path or a label,
    which must show on one line: ``a\\nb.py``); ``None`` shows as nothing. HTML markup
    passes unchanged (no markup character is hidden), so a whole rendered page can go
    through it.
    """
    value = "" if text is None else str(text)
    if value.isprintable():
        return value
    if name:
        return "".join(escaped(c) if is_hidden_in_name(c) else c for c in value)
    return "".join(map(_shown, value))


_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def hidden_in_name(text: str) -> tuple[int, str, str] | None:
    """The first character of ``text`` a name must not hold, as (index, escape, kind).

    Kinds: ``line break``, ``bidi control``, ``invisible format character`` (zero-width
    and other format characters), ``control character`` (C0, DEL, C1, tab),
    ``lone surrogate``, ``separator``. ``None`` when every character may be shown as it is.
    """
    for index, char in enumerate(text):
        if not is_hidden_in_name(char):
            continue
        category = unicodedata.category(char)
        if char in _LINE_BREAKS:
            kind = "line break"
        elif char in _BIDI:
            kind = "bidi control"
        elif category == "Cf":
            kind = "invisible format character"
        elif category == "Cs":
            kind = "lone surrogate"
        elif category == "Cc":
            kind = "control character"
        else:
            kind = "separator"
        return index, escaped(char), kind
    return None
