"""Remove secrets and e-mail addresses from log text before anyone (or any model) sees it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

REDACTED = "[REDACTED]"
EMAIL = "[EMAIL]"

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")

_TOKENS = re.compile(
    r"""
    \b(?:
        gh[pousr]_[A-Za-z0-9]{20,}              # GitHub classic tokens
      | github_pat_[A-Za-z0-9_]{20,}            # GitHub fine-grained tokens
      | hf_[A-Za-z0-9]{20,}                     # Hugging Face
      | sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}   # OpenAI / Anthropic style
      | xox[abposr]-[A-Za-z0-9\-]{10,}          # Slack
      | (?:AKIA|ASIA)[0-9A-Z]{16}               # AWS access key ids
      | glpat-[A-Za-z0-9_\-]{20,}               # GitLab
      | AIza[0-9A-Za-z_\-]{35}                  # Google API keys
      | eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}  # JWTs
    )
    """,
    re.VERBOSE,
)
_BEARER = re.compile(r"\b(Bearer|Token|Basic)([ \t]+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)
# Only the end of a key name matters (HF_TOKEN, db_password, AWS_SECRET_ACCESS_KEY):
# the value after it is replaced and the name is kept as it is.
_SECRET_NAME = (
    r"(?:password|passwd|passphrase|pwd|token|secret|api[_\-]?key|apikey"
    r"|access[_\-]?key|private[_\-]?key|credentials?)"
)
_ASSIGNMENT = re.compile(
    rf"""
    (?P<key>{_SECRET_NAME})
    (?P<sep>["']?[ \t]*[=:][ \t]*)
    (?P<quote>["']?)
    (?P<value>[^\s"',;&)\]}}]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_CLI_FLAG = re.compile(
    rf"(?P<key>--[\w\-]*{_SECRET_NAME})(?P<sep>[ \t]+|=)(?P<value>[^\s\-]\S*)", re.IGNORECASE
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<user>[^\s:/@]+):[^\s@/]+@")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")


def _redact_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    if value == REDACTED or value.lower() in {"none", "null", "true", "false", "****"}:
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{REDACTED}"


_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "token",
    "secret",
    "api_key",
    "api-key",
    "apikey",
    "access_key",
    "access-key",
    "accesskey",
    "private_key",
    "private-key",
    "privatekey",
    "credential",
)


def _redact_inline(text: str) -> str:
    # Case-insensitive patterns are slow in `re`; skip those whose words are absent.
    lowered = text.lower()
    if "://" in text:
        text = _URL_CREDENTIALS.sub(rf"\g<scheme>\g<user>:{REDACTED}@", text)
    text = _TOKENS.sub(REDACTED, text)
    if "bearer" in lowered or "token" in lowered or "basic" in lowered:
        text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    if any(word in lowered for word in _SECRET_WORDS):
        text = _CLI_FLAG.sub(rf"\g<key>\g<sep>{REDACTED}", text)
        text = _ASSIGNMENT.sub(_redact_assignment, text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    return text


def redact(text: str) -> str:
    """Replace secrets by ``[REDACTED]`` and e-mail addresses by ``[EMAIL]``.

    Covers provider tokens (``ghp_``, ``github_pat_``, ``hf_``, ``sk-``, ``xox*``,
    ``AKIA``/``ASIA``, ``glpat-``, ``AIza``, JWTs), ``Bearer``/``Basic`` header
    values, the values of ``password=``/``token=``/``secret=``/``api_key=``-like
    assignments (``=`` or ``:``, quoted or not, including ``HF_TOKEN=...`` and
    ``--password x``), passwords in URLs, and whole private key blocks.

    Parameters
    ----------
    text
        Any text; may span several lines.

    Returns
    -------
    str
        The text with the same line structure: no pattern spans a newline, and
        a private key block (also one cut off at the end of the text) becomes
        one ``[REDACTED]`` line per original line.
    """
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(
            lambda m: "\n".join([REDACTED] * (m.group(0).count("\n") + 1)), text
        )
    return _redact_inline(text)


def redact_lines(lines: Iterable[str]) -> Iterator[str]:
    """Redact a stream of lines, one output line per input line.

    A private key block spans lines, so this keeps state: every line from a
    ``-----BEGIN ... PRIVATE KEY-----`` marker to its ``END`` marker (or to the
    end of the input, if the block was cut) becomes ``[REDACTED]``.
    """
    inside = False
    for line in lines:
        if inside:
            if _PRIVATE_KEY_END.search(line):
                inside = False
            yield REDACTED
            continue
        if "PRIVATE KEY" in line and _PRIVATE_KEY_BEGIN.search(line):
            inside = not _PRIVATE_KEY_END.search(line)
            yield REDACTED
            continue
        yield _redact_inline(line)
