"""Remove secrets and e-mail addresses from log and document text before anyone (or any
model) sees it.

Every detector reports the character spans it wants hidden in the *original* text; the
spans are merged and replaced in one pass, so one detector never re-reads another's
``[REDACTED]`` (``token=ghp_…`` becomes ``token=[REDACTED]``, once) and redacting twice
changes nothing. What is detected: the provider formats of :data:`.secrets.PROVIDERS`,
private key blocks, passwords in URLs, ``Authorization`` headers, values assigned to
secret-looking names (:func:`.secrets.name_strength`), secret command-line options
(``--password x``, ``mysql -pX``, ``curl -u user:pw``, ``sshpass -pX``, ``plink -pw``,
``smbclient -U user%pw``, ``ldapsearch -w``, ``redis-cli -a``, ``wandb login KEY``),
``Cookie`` headers, SQL ``IDENTIFIED BY '…'``, e-mail addresses and, in one linear pass
over the lines, secrets spread over lines: ``.netrc`` entries, PuTTY ``Private-Lines``, a
kubeconfig key block and a PEM body whose ``BEGIN`` line is not in the text.

:func:`redact` is the one redaction of the package: every text read from a file (a
log, a document, a tool result) goes through it before it is printed, stored, indexed or
put into a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from .secrets import (
    NAME_KEYWORDS,
    NAME_WORDS,
    PROVIDERS,
    looks_random,
    name_strength,
    secret_value,
)

REDACTED = "[REDACTED]"
EMAIL = "[EMAIL]"

Span = tuple[int, int, str]

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*?(?=\n?\Z))",
    re.DOTALL,
)
_PRIVATE_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")

# a value: quoted (spaces allowed), or up to white space, a quote, a comma or a semicolon
_VALUE = r"""(?P<quote>["'`])(?P<qvalue>[^"'`\n]*)(?P=quote)|(?P<value>(?:[^\s"'`,;&]|&(?![\w.\-]+=))+)"""
# run on the lower-cased text: NAME_WORDS are lower case
_ASSIGNMENT = re.compile(
    rf"""(?P<word>{NAME_WORDS})(?P<sep>["'`\]]*[ \t]*(?:=>|:=|==?|:)[ \t]*|[ \t]+(?=["'`]))(?:{_VALUE})"""
)
_FLAG = re.compile(
    rf"--(?:[a-z0-9]+-){{0,4}}(?P<word>{NAME_WORDS})(?:[ \t]+|=)(?=[^\s\-])(?:{_VALUE})"
)
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-]*\Z")
_AUTH_HEADER = re.compile(
    r"""(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|bot|apikey|sso-key)[ \t]+)?(?P<value>[^\s"',;]+)"""
)
_SCHEME_TOKEN = re.compile(r"(?i)\b(?:bearer|basic|token)[ \t]+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)")
# a password may hold "/" ("pa/ss"), but not one that starts as a port ("host:8080/x@y")
_URL_CREDENTIALS = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/@]{0,256}:"
    r"(?P<value>[^\s@/]{1,256}|(?!\d+/)[^\s@/?#]{1,256}/[^\s@?#]{0,256})@(?=[A-Za-z0-9\[])"
)
_MYSQL = re.compile(
    r"""\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb(?:-dump)?)\b[^\n]{0,200}?[ \t]-p(?:'(?P<qvalue>[^'\n]*)'|"(?P<dvalue>[^"\n]*)"|(?P<value>[^\s'"]+))"""
)
_USER_PASS = re.compile(
    r"""\b(?:curl|wget|http|lftp|svn)\b[^\n]{0,200}?[ \t](?:-u|--user|--proxy-user|--http-user)(?:[ \t]+|=)["']?[^\s:'"]*:(?P<value>[^\s'"]+)"""
)
_DASH_P = re.compile(
    r"""\b(?:sshpass|docker[ \t]+login|podman[ \t]+login|helm[ \t]+registry[ \t]+login)\b[^\n]{0,200}?[ \t]-p[ \t]+["']?(?P<value>[^\s'"]+)"""
)
_SSHPASS = re.compile(
    r"""(?:\bsshpass\b[^\n]{0,200}?[ \t]-p|(?i:(?<![\w\-])sshpass)[ \t]*=[ \t]*)"""
    r"""(?:'(?P<qvalue>[^'\n]*)'|"(?P<dvalue>[^"\n]*)"|(?P<value>[^\s'"]+))"""
)
# option-style passwords of other clients: plink/pscp -pw, ldapsearch -w, redis-cli -a,
# smbclient -U user%pw
_CLIENT_OPTION = re.compile(
    r"""\b(?:(?:plink|pscp|psftp)(?:\.exe)?\b[^\n]{0,200}?[ \t]-pw[ \t]+"""
    r"""|ldap(?:search|modify|add|delete|passwd|whoami|compare|modrdn|exop)\b[^\n]{0,200}?[ \t]-w[ \t]*"""
    r"""|redis-cli\b[^\n]{0,200}?[ \t]-a[ \t]+"""
    r"""|(?:smbclient|rpcclient|smbcacls|smbget)\b[^\n]{0,200}?[ \t](?:-U|--user)(?:[ \t]+|=)["']?[^\s%'"]{0,256}%)"""
    r"""(?:'(?P<qvalue>[^'\n]*)'|"(?P<dvalue>[^"\n]*)"|(?P<value>[^\s'"]+))"""
)
# wandb login KEY, wandb.login(key="KEY")
_WANDB = re.compile(
    r"""\bwandb[ \t]+login\b(?:[ \t]+--?[A-Za-z][\w\-]*(?:=\S+)?)*[ \t]+["']?(?P<value>[A-Za-z0-9_\-]{20,})"""
    r"""|\bwandb\.login\([^)\n]{0,200}?\bkey[ \t]*=[ \t]*["'](?P<qvalue>[^"'\n]+)["']"""
)
# a Cookie or Set-Cookie header: every name=value pair of it is a session secret
_COOKIE = re.compile(
    r"""(?i)(?<![\w\-])(?:set-)?cookie["']?[ \t]*[:=][ \t]*["']?(?P<value>[^\s"';=]{1,256}=[^\n"']*[^\s"'])"""
)
_IDENTIFIED_BY = re.compile(
    r"""(?i)\bidentified[ \t]+by[ \t]+(?:password[ \t]+)?["'](?P<value>[^"'\n]+)["']"""
)
_NETRC = re.compile(r"\blogin[ \t]+\S{1,256}[ \t]+password[ \t]+(?P<value>\S+)")
_EMAIL = re.compile(
    r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}


def _trim_value(value: str) -> str:
    """Drop closing brackets that end an unquoted value without opening in it: ``f(pw=x)``."""
    while value and value[-1] in _CLOSERS and _CLOSERS[value[-1]] not in value:
        value = value[:-1]
    return value


def _value_span(match: re.Match[str]) -> tuple[int, int, str] | None:
    for group in ("qvalue", "dvalue", "value"):
        if group in match.re.groupindex and match.group(group) is not None:
            value = match.group(group)
            if group == "value":
                value = _trim_value(value)
            start = match.start(group)
            return start, start + len(value), value
    return None


def _named_values(
    pattern: re.Pattern[str], flag: bool, text: str, lowered: str, start: int, end: int
) -> Iterator[Span]:
    """Values assigned to (or passed as options named like) secrets."""
    for match in pattern.finditer(lowered, start, end):
        word = match.start("word")
        if flag:
            name = text[match.start() + 2 : match.end("word")]
        else:
            if word > 0 and text[word - 1].isalnum() and not _word_boundary(text, word):
                continue  # "bypass=", "compass:"
            floor = max(start, word - 64)
            before = _NAME_CHARS.search(text, floor, word)
            if before is None or (before.start() == floor and floor > start):
                continue  # an implausibly long name: not an assignment
            if before.start() > start and text[before.start() - 1] in "/\\":
                continue  # a file: "/etc/passwd: absolute path outside …"
            name = text[before.start() : match.end("word")]
        found = _value_span(match)
        if found is not None and secret_value(text[found[0] : found[1]], name_strength(name)):
            yield found[0], found[1], REDACTED


def _word_boundary(text: str, start: int) -> bool:
    """Whether a word of a name starts at ``start``: ``dbPass`` yes, ``bypass`` no."""
    return text[start].isupper() and (text[start - 1].islower() or text[start - 1].isdigit())


def _group_spans(
    pattern: re.Pattern[str], group: int, text: str, lowered: str, start: int, end: int
) -> Iterator[Span]:
    for match in pattern.finditer(text, start, end):
        if match.start(group) < match.end(group):
            yield match.start(group), match.end(group), REDACTED


def _value_spans(
    pattern: re.Pattern[str], check: bool, text: str, lowered: str, start: int, end: int
) -> Iterator[Span]:
    for match in pattern.finditer(text, start, end):
        found = _value_span(match)
        if found is None:
            continue
        begin, stop, value = found
        if value.startswith(REDACTED) or (check and not looks_random(value)):
            continue
        if begin < stop:
            yield begin, stop, REDACTED


def _emails(text: str, lowered: str, start: int, end: int) -> Iterator[Span]:
    for match in _EMAIL.finditer(text, start, end):
        yield match.start(), match.end(), EMAIL


Detector = Callable[[str, str, int, int], Iterable[Span]]

_DETECTORS: tuple[tuple[tuple[str, ...], Detector], ...] = (
    *(
        (provider.keywords, partial(_group_spans, provider.pattern, provider.group))
        for provider in PROVIDERS
    ),
    (("://",), partial(_value_spans, _URL_CREDENTIALS, False)),
    (("authorization",), partial(_value_spans, _AUTH_HEADER, False)),
    (("bearer", "basic", "token"), partial(_value_spans, _SCHEME_TOKEN, True)),
    (("--",), partial(_named_values, _FLAG, True)),
    (NAME_KEYWORDS, partial(_named_values, _ASSIGNMENT, False)),
    (("mysql", "mariadb"), partial(_value_spans, _MYSQL, False)),
    (("curl", "wget", "http", "lftp", "svn"), partial(_value_spans, _USER_PASS, False)),
    (("sshpass", "login"), partial(_value_spans, _DASH_P, False)),
    (("sshpass",), partial(_value_spans, _SSHPASS, False)),
    (
        (
            "plink",
            "pscp",
            "psftp",
            "ldap",
            "redis-cli",
            "smbclient",
            "rpcclient",
            "smbcacls",
            "smbget",
        ),
        partial(_value_spans, _CLIENT_OPTION, False),
    ),
    (("wandb",), partial(_value_spans, _WANDB, False)),
    (("cookie",), partial(_value_spans, _COOKIE, False)),
    (("identified",), partial(_value_spans, _IDENTIFIED_BY, False)),
    (("login",), partial(_value_spans, _NETRC, False)),
    (("@",), _emails),
)
"""Each detector runs only on the lines that hold one of its keywords."""


def _lines_with(text: str, lowered: str, keywords: Iterable[str]) -> set[tuple[int, int]]:
    """``(start, end)`` of every line holding a keyword (upper-case keywords match case)."""
    lines: set[tuple[int, int]] = set()
    for keyword in keywords:
        haystack = text if keyword != keyword.lower() else lowered
        found = haystack.find(keyword)
        while found != -1:
            start = text.rfind("\n", 0, found) + 1
            end = text.find("\n", found)
            end = len(text) if end == -1 else end
            lines.add((start, end))
            found = haystack.find(keyword, end)
    return lines


# --- secrets spread over lines: one linear pass over the lines ------------------------

_B64_RUN = re.compile(r"[A-Za-z0-9+/]{60}")
_B64_FULL = re.compile(r"[ \t]*(?P<value>[A-Za-z0-9+/]{60,100}={0,2})[ \t]*")
_B64_PART = re.compile(r"[ \t]*(?P<value>[A-Za-z0-9+/]{4,100}={0,2})[ \t]*")
# a netrc entry: a "machine HOST" (or "default") line, then "login X" and "password Y" lines
_NETRC_PASSWORD = re.compile(r"[ \t]*password[ \t]+(?P<value>\S+)[ \t]*")
_NETRC_CONTEXT = re.compile(
    r"[ \t]*(?:machine[ \t]+\S+|default)(?:[ \t]+(?:login|account)[ \t]+\S+)*[ \t]*"
)
_PUTTY_PRIVATE = re.compile(r"[ \t]*Private-Lines:[ \t]*(?P<count>\d{1,4})[ \t]*")
_BLOCK_KEY_DATA = re.compile(r"""[ \t]*["']?client-key-data["']?[ \t]*:[ \t]*[|>]?[-+]?[ \t]*""")
_NETRC_REACH = 3  # lines between a "machine"/"login" line and its "password" line
_PUTTY_MAX_LINES = 256


def _mixed(value: str) -> bool:
    """Upper case, lower case and digits: base64 of random bytes, not a hex digest or a word."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


def _line_bounds(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    while True:
        end = text.find("\n", start)
        if end == -1:
            yield start, len(text)
            return
        yield start, end
        start = end + 1


def _multiline_spans(text: str, lowered: str) -> Iterator[Span]:
    """Secrets whose lines mean something only together.

    ``.netrc`` entries over lines (``machine`` / ``login`` / ``password``), a PEM key body
    whose ``BEGIN`` line is outside the text (a run of two or more full base64 lines, or
    the base64 lines above an ``END ... PRIVATE KEY`` line), the ``Private-Lines: N`` of a
    PuTTY key and a kubeconfig ``client-key-data:`` given as a block. One pass, linear in
    the text.
    """
    netrc = "password" in lowered and any(w in lowered for w in ("machine", "login", "default"))
    putty = "Private-Lines" in text
    block_key = "client-key-data" in lowered
    key_end = "PRIVATE KEY" in text
    base64 = key_end or putty or block_key or _B64_RUN.search(text) is not None
    if not (netrc or putty or block_key or base64):
        return
    last_context = -(_NETRC_REACH + 1)
    run: list[tuple[int, int]] = []  # consecutive full base64 lines
    part: list[tuple[int, int]] = []  # consecutive base64 lines of any length
    owed = 0  # lines still to hide: the rest of a PuTTY or kubeconfig key
    for index, (start, end) in enumerate(_line_bounds(text)):
        if owed:
            found = _B64_PART.fullmatch(text, start, end)
            if found is not None:
                owed -= 1
                yield found.start("value"), found.end("value"), REDACTED
                continue
            owed = 0
        if netrc:
            if _NETRC_CONTEXT.fullmatch(lowered, start, end):
                last_context = index
            if index - last_context <= _NETRC_REACH:
                found = _NETRC_PASSWORD.fullmatch(lowered, start, end)
                if found is not None and not text.startswith(REDACTED, found.start("value")):
                    yield found.start("value"), found.end("value"), REDACTED
        if putty and (found := _PUTTY_PRIVATE.fullmatch(text, start, end)) is not None:
            owed = min(int(found["count"]), _PUTTY_MAX_LINES)
        elif block_key and _BLOCK_KEY_DATA.fullmatch(lowered, start, end) is not None:
            owed = _PUTTY_MAX_LINES
        if not base64:
            continue
        full = _B64_FULL.fullmatch(text, start, end)
        if full is not None and _mixed(full["value"]):
            run.append(full.span("value"))
            part.append(full.span("value"))
            continue
        found = _B64_PART.fullmatch(text, start, end)
        if len(run) >= 2:
            yield from ((a, b, REDACTED) for a, b in run)
            if found is not None:  # the last, shorter line of the body
                yield found.start("value"), found.end("value"), REDACTED
        run = []
        if found is not None:
            part.append(found.span("value"))
            continue
        if key_end and _PRIVATE_KEY_END.search(text, start, end):
            yield from ((a, b, REDACTED) for a, b in part)
        part = []
    if len(run) >= 2:
        yield from ((a, b, REDACTED) for a, b in run)


def find_secrets(text: str) -> list[Span]:
    """Spans ``(start, end, replacement)`` of secrets and e-mail addresses in ``text``."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few Unicode characters change length when lowered
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    spans: list[Span] = []
    if "private key" in lowered:
        spans.extend((m.start(), m.end(), REDACTED) for m in _PRIVATE_KEY_BLOCK.finditer(text))
    for keywords, detector in _DETECTORS:
        for start, end in _lines_with(text, lowered, keywords):
            spans.extend(detector(text, lowered, start, end))
    spans.extend(_multiline_spans(text, lowered))
    return spans


def _apply(text: str, spans: list[Span]) -> str:
    """Replace merged spans; a span over several lines becomes one replacement per line."""
    if not spans:
        return text
    secrets = [(start, end) for start, end, replacement in spans if replacement == REDACTED]
    # "user:pw@host.org" is a password, not an e-mail address: keep the host readable
    spans = [
        span
        for span in spans
        if span[2] == REDACTED or not any(s < span[1] and span[0] < e for s, e in secrets)
    ]
    spans.sort()
    merged: list[Span] = []
    for start, end, replacement in spans:
        if merged and start < merged[-1][1]:
            first, last, kept = merged[-1]
            merged[-1] = (
                first,
                max(last, end),
                REDACTED if REDACTED in (kept, replacement) else kept,
            )
        else:
            merged.append((start, end, replacement))
    out: list[str] = []
    position = 0
    for start, end, replacement in merged:
        out.append(text[position:start])
        out.append("\n".join([replacement] * (text.count("\n", start, end) + 1)))
        position = end
    out.append(text[position:])
    return "".join(out)


def redact(text: str) -> str:
    """Replace secrets by ``[REDACTED]`` and e-mail addresses by ``[EMAIL]``.

    Parameters
    ----------
    text
        Any text; may span several lines.

    Returns
    -------
    str
        The text with the same line structure: no pattern spans a newline except a
        private key block (also one cut off at the end of the text), which becomes one
        ``[REDACTED]`` line per original line. Redacting the result again changes nothing.
    """
    return _apply(text, find_secrets(text))


def redact_lines(lines: Iterable[str]) -> Iterator[str]:
    """Redact a sequence of lines, one output line per input line.

    The lines are redacted together, as one text, so that secrets spread over lines
    (private key blocks, ``.netrc`` entries, PuTTY keys) are found as by :func:`redact`;
    a line that itself holds a newline is redacted alone.
    """
    batch = list(lines)
    if any("\n" in line for line in batch):
        yield from (redact(line) for line in batch)
        return
    yield from redact("\n".join(batch)).split("\n") if batch else ()
