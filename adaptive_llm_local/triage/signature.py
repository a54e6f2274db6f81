"""Masking of run-specific details and the stable failure signature built on it."""

from __future__ import annotations

import hashlib
import re

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<UUID>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?"
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
            r" +\d{1,2} \d{2}:\d{2}:\d{2}(?: [A-Z]{3,4})? \d{4}"
            r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        ),
        "<TIME>",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<HEX>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<IP>"),
    (re.compile(r"(?<=['\"])[^'\"\s]*/[^'\"\s]*(?=['\"])"), "<PATH>"),
    (
        re.compile(
            r"(?<![\w.:/<])(?:~|\.{1,2})?(?:/[\w.@%+\-=~]+)+/?|(?<![\w.])\.{1,2}/[\w.@%+\-=~/]+"
        ),
        "<PATH>",
    ),
    (
        re.compile(
            r"\b(?:node|nid|cn|gpu|cpu|compute|login|worker|host|hpc|r|c|n|g)[\-_]?\d+"
            r"(?:[\-_]\d+)*(?:\.[A-Za-z][\w\-]*)*\b"
        ),
        "<HOST>",
    ),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<HEX>"),
    (re.compile(r"(?<![A-Za-z<\d.])(?:(?<!\w)[\-+])?\d+(?:\.\d+)?(?:[eE][\-+]?\d+)?"), "<N>"),
)


def mask(text: str) -> str:
    """Replace what differs between runs of the same failure by placeholders.

    UUIDs, timestamps and dates, hex addresses and hashes, IP addresses, file
    paths, cluster host names (``node123``, ``nid001234``, ``gpu-07``, ``cn042``)
    and numbers (job ids, sizes, line numbers) become ``<UUID>``, ``<TIME>``,
    ``<HEX>``, ``<IP>``, ``<PATH>``, ``<HOST>`` and ``<N>``. Names inside quotes
    and identifiers that merely contain digits (``float64``, ``h5py``) are kept,
    so a different missing module still reads differently.

    Parameters
    ----------
    text
        One line or message.

    Returns
    -------
    str
        The masked text.
    """
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


def signature(category: str, exception: str | None, message: str) -> str:
    """Return a 16-hex-digit id that is equal for failures of the same shape.

    Parameters
    ----------
    category
        The failure category.
    exception
        The exception class name, or None.
    message
        The masked key message (see `mask`).

    Returns
    -------
    str
        The first 16 hex digits of a SHA-256 over the three parts.
    """
    payload = "\x1f".join((category, exception or "", " ".join(message.split())))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
