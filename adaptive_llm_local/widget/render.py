"""Text to safe HTML, in Python: Markdown, highlighted code and diffs, sanitised.

Nothing here runs in the browser and nothing is fetched: markdown-it-py renders
Markdown, Pygments highlights code into ``<span class="...">`` tokens (coloured by the
widget's style sheet from the notebook's theme variables), and nh3 removes whatever
could run or load something (scripts, event handlers, ``javascript:`` links, iframes,
``<svg onload>``, styles). Raw HTML in a message is shown as text (markdown-it's
``html=False``); nh3 is the second line of defence for every string that reaches
the page.
"""

from __future__ import annotations

import ast
import functools
import html
from pathlib import PurePath
from typing import Any

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name, get_lexer_for_filename
from pygments.util import ClassNotFound

from ..visible import visible

ALLOWED_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"),
    *("strong", "em", "b", "i", "del", "s", "code", "pre", "kbd", "mark", "small"),
    *("sup", "sub", "span", "div", "ul", "ol", "li", "a"),
    *("table", "thead", "tbody", "tr", "th", "td", "details", "summary"),
}
ALLOWED_ATTRIBUTES = {
    "span": {"class", "title"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class", "title"},
    "sup": {"class", "title"},
    "details": {"class", "open"},
    "summary": {"class"},
    "a": {"href", "title"},
    "ol": {"start"},
    "li": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# Pygments' short names for what the model and the logs usually write.
_FILE_LEXERS = {".out": "text", ".err": "text", ".log": "text", ".txt": "text"}
_MAX_HIGHLIGHT_CHARS = 200_000


def sanitize(markup: str) -> str:
    """``markup`` with every tag, attribute and URL scheme outside the allow-lists removed.

    Script and style elements go with their content; ``span`` keeps its ``class`` so
    highlighting survives. Controls and bidi overrides are written out (:func:`visible`).
    """
    clean = nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return visible(clean)


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def guess_language(code: str) -> str:
    """A Pygments lexer name for an unlabelled code block (cheap, deterministic)."""
    stripped = code.lstrip()
    if stripped.startswith("Traceback (most recent call last)"):
        return "pytb"
    first = stripped.splitlines()[0] if stripped else ""
    if first.startswith(("--- ", "diff --git", "@@ ")):
        return "diff"
    if first.startswith("#!") and "sh" in first:
        return "bash"
    if first.startswith("$ "):
        return "console"
    if len(code) < 20_000:
        try:
            ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting
            return "text"
        if any(marker in code for marker in ("def ", "import ", "=", "(")):
            return "python"
    return "text"


@functools.lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def lexer_for_path(path: str) -> str:
    """The lexer name for a file, by its name (``text`` when unknown)."""
    suffix = PurePath(path).suffix.lower()
    if suffix in _FILE_LEXERS:
        return _FILE_LEXERS[suffix]
    try:
        return str(get_lexer_for_filename(path).aliases[0])
    except (ClassNotFound, IndexError):
        return "text"


def highlight_spans(code: str, language: str | None = None) -> str:
    """``code`` as escaped HTML with Pygments token spans (no wrapping element)."""
    if len(code) > _MAX_HIGHLIGHT_CHARS:
        return escape(code)
    name = (language or "").strip().lower() or guess_language(code)
    formatter = HtmlFormatter(nowrap=True)
    return str(highlight(code, _lexer(name), formatter))


def code_block(code: str, language: str | None = None, *, extra_class: str = "") -> str:
    """A highlighted ``<pre>`` block (not yet sanitised)."""
    name = (language or "").strip().lower() or guess_language(code)
    classes = " ".join(c for c in ("alm-hl", extra_class) if c)
    return (
        f'<pre class="{classes}"><code class="language-{escape(name)}">'
        f"{highlight_spans(code, name)}</code></pre>"
    )


def _fence_highlight(code: str, language: str, _attrs: Any) -> str:
    return code_block(code, language)


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "highlight": _fence_highlight},
    )
    return md.enable(["table", "strikethrough"])


def markdown_html(text: str) -> str:
    """Markdown to sanitised HTML, code blocks highlighted."""
    return sanitize(_markdown().render(text))


def markdown_inline(text: str) -> str:
    """One line of Markdown (no paragraph) to sanitised HTML."""
    return sanitize(_markdown().renderInline(text))


def diff_html(diff: str) -> str:
    """A unified diff, highlighted (removed and added lines get their own colours)."""
    return sanitize(code_block(diff, "diff", extra_class="alm-diff"))


def file_html(path: str, text: str) -> str:
    """The text of a file, highlighted by its name."""
    return sanitize(code_block(text, lexer_for_path(path)))
