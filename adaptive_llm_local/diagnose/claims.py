"""What a sentence claims: its paths, names, numbers and commands (pure text functions).

A model's sentence is only as trustworthy as the specific things it names. This module
reads them out of a sentence so that :mod:`.grounding` can look each one up in the
evidence. Text that must never be shown as advice is :mod:`.hazards`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ClaimKind = Literal["command", "path", "name", "number"]


@dataclass(frozen=True)
class Claim:
    """One specific thing a sentence states.

    Attributes
    ----------
    kind
        ``command`` (something to run), ``path`` (a file or folder), ``name`` (a file
        name, module, package, function, key, option or identifier) or ``number``.
    text
        As written in the sentence (a command with its whitespace collapsed).
    unit
        For a number: its canonical unit (``g``, ``min``, ``%``, ...), or ``""``.
    """

    kind: ClaimKind
    text: str
    unit: str = ""


# --- sentences ------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "cf", "approx", "no", "fig", "resp"})
_CLOSERS = "\"')]`"


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences and lines: the unit the grounding rules judge.

    One splitter for a diagnosis's model sentences and a chat answer's. A sentence ends
    at a line break, or at ``.``, ``!`` or ``?`` (plus closing quotes or brackets)
    followed by white space and an upper-case letter, a digit, a backtick or a bracket
    (a citation ``[2]`` included); never inside backticks or after ``e.g.``. Each piece
    is stripped (so it is a substring of ``text``); empty pieces are dropped.
    """
    return [s for line in text.split("\n") for s in _line_sentences(line)]


def _line_sentences(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    in_code = False
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "`":
            in_code = not in_code
        elif char in ".!?" and not in_code:
            end = i + 1
            while end < n and text[end] in _CLOSERS and text[end] != "`":
                end += 1
            rest = end
            while rest < n and text[rest].isspace():
                rest += 1
            if rest == n:
                break
            word = re.search(r"([\w.]+)$", text[start:i])
            abbreviation = word is not None and word.group(1).lower() in _ABBREVIATIONS
            if (
                rest > end
                and not abbreviation
                and (text[rest].isupper() or text[rest] in "`([0123456789")
            ):
                out.append(text[start:end].strip())
                start = rest
                i = rest
                continue
        i += 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def ends_cleanly(sentence: str) -> bool:
    """Whether a sentence ends like a finished one (not cut mid-word by a token limit)."""
    return bool(re.search(r"[.!?][\"')\]`]*$|`$|\)$", sentence.strip()))


# --- commands -------------------------------------------------------------------------------


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


COMMAND_WORDS = _wordset(
    """
    apptainer apt apt-get bash brew cat cd chgrp chmod chown cmake conda cp crontab curl dd
    df dnf docker du echo env eval exec export find free git htop jupyter kill killall ldd
    lfs ln ls make mamba micromamba mkdir mkfs module mpiexec mpirun mv nproc nvidia-smi pip
    pip3 pkill python python3 quota reboot rm rmdir rsync sacct salloc sbatch scancel scontrol
    scp setfacl sh shred shutdown singularity sinfo source squeue srun ssh sudo systemctl tar
    top truncate ulimit unset wget which yum zsh ml
    """
)

# Commands written without backticks: a command word and its sub-command, then arguments
# until a word of plain English.
_BARE_COMMAND = re.compile(
    r"(?<![\w./-])(?:sudo\s+)?(?:"
    r"pip3?\s+(?:install|uninstall)|conda\s+(?:install|create|activate|remove|env|update)|"
    r"(?:micro)?mamba\s+(?:install|create|activate)|module\s+(?:load|unload|purge|swap|use)|"
    r"ml\s+(?:load|unload|purge)|(?:sbatch|srun|salloc|scancel|sacct|scontrol|squeue)\s+-|"
    r"rm\s+-|rm\s+[~/$]|chmod\s+|chown\s+|curl\s+|wget\s+|git\s+(?:push|reset|clean|checkout)|"
    r"mkfs\b|dd\s+(?:if|of)=|export\s+\w+=|source\s+\S|python3?\s+-[mXcu]|"
    r"apt(?:-get)?\s+install|yum\s+install|ulimit\s+-|nvidia-smi\b|df\s+-h|quota\b"
    r")",
    re.I,
)
_COMMAND_STOP = _wordset(
    """
    a after an and before but for from if in inside into of on or so that the then to
    when which while with without you your it this is are be first again
    """
)


def command_tokens(command: str) -> list[str]:
    """The words of a command, without quotes or a sentence's trailing punctuation."""
    tokens = [t.strip("\"'") for t in command.replace("`", " ").split()]
    if tokens:
        tokens[-1] = tokens[-1].rstrip(".,;:").strip("\"'")
    return [t for t in tokens if t]


def _bare_commands(text: str) -> list[tuple[int, int]]:
    """Spans of commands written without backticks.

    After the command word and sub-command come its arguments: options, paths and other
    shell-like words, the first plain word (``pip install numpyx``), a plain word after
    an option (``-p gpu``) or after ``|``/``&&``/``;``. Any other plain word is English.
    """
    spans: list[tuple[int, int]] = []
    for match in _BARE_COMMAND.finditer(text):
        end = match.end()
        positional = False
        previous = match.group(0).split()[-1]
        for word in re.finditer(r"\S+", text[match.end() :]):
            raw = word.group(0)
            bare = raw.rstrip(".,;:")
            plain = re.fullmatch(r"[A-Za-z][a-z]*", bare) is not None
            after_operator = previous in ("|", "||", "&&", ";") or previous.startswith("-")
            if not bare or bare.lower() in _COMMAND_STOP:
                break
            if plain and positional and not after_operator:
                break
            positional = positional or (plain and not after_operator) or not bare.startswith("-")
            end = match.end() + word.start() + len(bare)
            previous = bare
            if raw != bare:  # a comma or full stop ends the command
                break
        spans.append((match.start(), end))
    return spans


def proposes_command(text: str) -> bool:
    """Whether a log line tells its reader to run a command (``To fix this, run: pip
    install x``): a proposal that only the log makes is never evidence for a fix."""
    return bool(_bare_commands(text))


# --- everything else a sentence names --------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("k", "kb", "kib", "kilobytes"), "k"),
    **dict.fromkeys(("m", "mb", "mib", "megabytes"), "m"),
    **dict.fromkeys(("g", "gb", "gib", "gigabytes"), "g"),
    **dict.fromkeys(("t", "tb", "tib", "terabytes"), "t"),
    **dict.fromkeys(("b", "bytes", "byte"), "b"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "min"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("%", "percent"), "%"),
    **dict.fromkeys(("cpu", "cpus", "core", "cores"), "cpu"),
    **dict.fromkeys(("gpu", "gpus"), "gpu"),
    **dict.fromkeys(("node", "nodes"), "node"),
    **dict.fromkeys(("rank", "ranks"), "rank"),
    **dict.fromkeys(("task", "tasks"), "task"),
}
_UNIT_PATTERN = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
NUMBER = re.compile(
    rf"(?<![\w.\-/:])(\d{{1,4}}-\d\d-\d\d(?:T[\d:]+)?|\d+:\d\d(?::\d\d)?|\d+(?:\.\d+)*)"
    rf"(?:\s?({_UNIT_PATTERN}))?(?![\w])",
    re.I,
)


def canonical_unit(unit: str | None) -> str:
    return _UNITS.get((unit or "").lower(), "")


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s`'\"<>)]+", re.I)
_PATH = re.compile(
    r"(?<![\w.])(?:~|\$\w+|\.{1,2})?/[\w.\-~+@%=/]*[\w\-~+@%=/]"  # absolute, ~/, ./, $VAR/
    r"|(?<![\w./])[\w.\-]+/[\w.\-/]*\w",  # relative with a slash
)
_DOTTED = re.compile(r"(?<![\w.\-/])[A-Za-z_][\w\-]*(?:\.[\w\-]+)+(?![\w(])")
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s?\(")
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*(?:=[^\s`'\",;)]+)?")
_QUOTED = re.compile(r"(?<!\w)(['\"])([^\s'\"]{1,80})\1(?!\w)")
_IDENTIFIER = re.compile(
    # a hyphenated tail belongs to the name: `mpi4py-installer` is not `mpi4py`
    r"(?<![\w.-])(?:_+[A-Za-z]\w*|[A-Za-z]\w*_\w*|[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+|[A-Za-z]+\d+[A-Za-z\d]*)(?:-[A-Za-z\d]+)*(?![\w-]|\.\w)"
)
_NAMED_AFTER = re.compile(
    r"\b(?:module|package|library|modules|packages|libraries|import|install|installing|"
    r"reinstall|uninstall|called|named)\s+(?:called\s+|named\s+)?([A-Za-z_][\w.\-]*)",
    re.I,
)
# "the zorgnet package": a plain word is a name when the word after it says so
_NAMED_BEFORE = re.compile(
    r"\b([A-Za-z_][\w.\-]*)\s+(?:module|package|library|modules|packages|libraries)\b", re.I
)
_PLAIN = _wordset(
    """
    a an the this that these those it its is are was were be been being not no in into on
    of for from to with by as at or and but if then than so such any all each every some
    its your their his her our my one two first last new same other another which what who
    whose where when while there here has have had do does did can could should would may
    might must will shall also only just more most less very too again called named is
    python scheduler job jobs code data file files folder directory environment module
    package library function method class key variable env error errors exception path
    raised raises failed fails missing found required needed used loaded installed
    available version versions name names cannot could properly correctly successfully
    again itself them him its they we you he she itself via using use
    """
)
_ABBREVIATION_TOKENS = frozenset({"e.g", "i.e", "etc", "a.m", "p.m", "vs"})
_SHELL_CHARS = re.compile(r"[|;&>$]|\$\(")


def _is_command(code: str) -> bool:
    tokens = code.split()
    if not tokens:
        return False
    first = tokens[0].lower()
    if first in COMMAND_WORDS or first.startswith("./"):
        return True
    return len(tokens) > 1 and _SHELL_CHARS.search(code) is not None


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


def _names(text: str) -> list[Claim]:
    """Names, paths and numbers in text without backticks or commands (left to right)."""
    found: list[tuple[int, Claim]] = []
    spans: list[tuple[int, int]] = []

    def take(pattern: re.Pattern[str], kind: ClaimKind, group: int = 0) -> None:
        nonlocal text
        for match in pattern.finditer(text):
            value = match.group(group).rstrip(".,;:")
            if kind == "path" and len(value) > 1:
                value = value.rstrip("/")
            if not value or value.lower() in _ABBREVIATION_TOKENS:
                continue
            if kind == "name" and value.lower() in _PLAIN:
                continue
            if kind == "number":
                claim = Claim("number", match.group(1), canonical_unit(match.group(2)))
            else:
                claim = Claim(kind, value)
            found.append((match.start(group), claim))
            spans.append((match.start(), match.end()))
        text = _mask(text, spans)

    take(_URL, "path")
    take(_PATH, "path")
    take(_QUOTED, "name", 2)
    take(_CALL, "name", 1)
    take(_OPTION, "name")
    take(_DOTTED, "name")
    take(NUMBER, "number")
    take(_IDENTIFIER, "name")
    take(_NAMED_AFTER, "name", 1)
    take(_NAMED_BEFORE, "name", 1)
    return [claim for _, claim in sorted(found, key=lambda item: item[0])]


def code_claims(code: str) -> list[Claim]:
    """The names, paths and numbers in a block of code (its first word is no command)."""
    unique: list[Claim] = []
    for claim in _names(code):
        if claim not in unique:
            unique.append(claim)
    return unique


def claims_of(sentence: str) -> list[Claim]:
    """Every command, path, name and number ``sentence`` states, in order, without repeats.

    Backticked spans are commands when they start with a command word (``pip``,
    ``module``, ``rm``, ...) or use shell operators, otherwise code whose names count;
    commands without backticks are found by their command word and sub-command
    (``pip install x``, ``module load y``, ``chmod -R 777 d``).
    """
    claims: list[Claim] = []
    spans: list[tuple[int, int]] = []
    for match in re.finditer(r"`([^`]+)`", sentence):
        code = match.group(1).strip()
        if _is_command(code):
            claims.append(Claim("command", " ".join(code.split())))
        elif " " not in code:
            claims.append(Claim("path" if "/" in code else "name", code.rstrip(".,;:")))
        else:
            claims.extend(_names(code))
        spans.append(match.span())
    rest = _mask(sentence, spans)
    for start, end in _bare_commands(rest):
        claims.append(Claim("command", " ".join(rest[start:end].split())))
        spans.append((start, end))
    claims.extend(_names(_mask(sentence, spans)))
    unique: list[Claim] = []
    for claim in claims:
        if claim not in unique:
            unique.append(claim)
    return unique


def content_words(text: str) -> list[str]:
    """Lower-cased words of three or more letters (for echo and repetition checks)."""
    return re.findall(r"[a-z][a-z0-9_'-]{2,}", text.lower())
