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


def _shown(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii") if is_hidden(char) else char


def visible(text: object) -> str:
    """``text`` with every control and invisible format character written out.

    ``ESC c`` becomes ``\\x1bc``, CSI (U+009B) ``\\x9b``, a right-to-left override
    ``\\u202e``, a lone surrogate ``\\udcff``: Python's escapes, so what is shown can be
    searched for. Newlines and tabs stay; ``None`` shows as nothing. HTML markup passes
    unchanged (no markup character is hidden), so a whole rendered page can go through it.
    """
    value = "" if text is None else str(text)
    if value.isprintable():
        return value
    return "".join(map(_shown, value))
