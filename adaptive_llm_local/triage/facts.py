"""Facts the log states about a failure: names, paths, the user's frame, limits.

Pure functions over a :class:`~adaptive_llm_local.triage.TriageResult`: every fact is read
from the log window (with the line it came from), never guessed. Explanations fill their
sentences with these facts, and the grounding checks accept a model sentence's names only
when they appear in the log, a fact, a check or a source.

Fact names (a log has only those it states):

=================== =================================================================
the exception       ``exception``, ``message``; ``module`` and ``top_module`` (a missing
                    module), ``import_name`` and ``module_file`` (``cannot import name``),
                    ``suggestion`` (``Did you mean``), ``key`` (KeyError, as printed, with
                    its quotes), ``attribute``, ``object_type``, ``attribute_owner``,
                    ``name`` (NameError, UnboundLocalError), ``operator``, ``left_type``,
                    ``right_type``, ``array_size``, ``shape``, ``alloc_size``,
                    ``array_shape``, ``dtype``, ``errno``, ``strerror``, ``path``,
                    ``path2``, ``library``
the user's frame    ``frame_file``, ``frame_line``, ``frame_function``, ``frame_source``:
                    the deepest frame in the job's own code (not site-packages, the
                    standard library or ``<frozen ...>``); ``library_file``,
                    ``library_line``, ``library_function``: the innermost frame when it is
                    a library's
the interpreter     ``interpreter`` (a ``.../bin/python`` path the log prints),
                    ``python_prefix`` and ``python_version`` (from ``.../lib/python3.11/``
                    paths or a ``Python 3.11.7`` banner), ``python_major`` (``2`` also when
                    only Python 2's wording ``ImportError: No module named x`` shows it)
SLURM               ``job_id``, ``step_id``, ``node``, ``cancelled_at``, ``cancel_reason``,
                    ``oom_kill_events``, ``mem_used``/``mem_limit`` (as printed, bytes or
                    KB), ``time_limit``, ``mem_requested``, ``elapsed``, ``task``,
                    ``task_error``, ``exit_code``, ``slurm_error``
shells, loaders     ``script``, ``script_line``, ``signal_name``, ``command``, ``program``,
                    ``missing_command``, ``shell_error``, ``syntax_token``, ``run_module``
native crashes      ``assert_file``, ``assert_line``, ``assert_function``, ``assertion``,
                    ``native_exception``, ``fatal_error``, ``signal_number``,
                    ``fault_address``, ``crash_binary``, ``crash_offset``
MPI                 ``rank``, ``rank_message``, ``communicator``, ``mpi_errorcode``,
                    ``mpi_call``, ``mpi_error``, ``executable``
GPUs                ``cuda_error``, ``cuda_module``, ``nccl_version``, ``cuda_requested``,
                    ``gpu``, ``gpu_total``, ``gpu_free``
other               ``see_file`` (``see calib.log``), ``last_output`` (the last line the
                    program printed itself), ``chain_exception``, ``chain_message``,
                    ``chain_file``, ``chain_line`` (the last exception of the root's chain),
                    ``caller_file``, ``caller_line``, ``caller_function``,
                    ``caller_source`` (the user frame that called ``frame_*``)
=================== =================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adaptive_llm_local.triage.fact_lines import line_facts
from adaptive_llm_local.triage.rules import match_line
from adaptive_llm_local.triage.tracebacks import (
    Block,
    Frame,
    body,
    find_blocks,
    last_chain,
    parse_exception_line,
    parse_frame,
)

if TYPE_CHECKING:
    from adaptive_llm_local.triage.core import TriageResult
    from adaptive_llm_local.triage.evidence import Evidence


@dataclass(frozen=True)
class Fact:
    """One named fact, e.g. ``Fact("module", "numpyx", 12)``.

    Attributes
    ----------
    name
        What it is: ``module``, ``path``, ``key``, ``frame_file``, ``frame_line``,
        ``frame_function``, ``frame_source``, ``interpreter``, ``python_version``,
        ``time_limit``, ``mem_requested``, ...
    value
        The text, verbatim from the log (already redacted by triage).
    line
        The log line it was read from, if one.
    """

    name: str
    value: str
    line: int | None = None


@dataclass(frozen=True)
class Facts:
    """All facts extracted from one log."""

    items: tuple[Fact, ...] = ()

    def get(self, name: str) -> str | None:
        """The first fact called ``name``, or ``None``."""
        return next((f.value for f in self.items if f.name == name), None)

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(f.value for f in self.items if f.name == name)

    def values(self) -> tuple[str, ...]:
        """Every fact's text (what grounding may accept as stated by the log)."""
        return tuple(f.value for f in self.items)

    def line_of(self, name: str) -> int | None:
        return next((f.line for f in self.items if f.name == name), None)

    def user_frames(self) -> tuple[tuple[str, int], ...]:
        """Where the job's own code failed, as ``(file, line)``: the user's frame, then its
        caller (``frame_*``, ``caller_*``). Names such as ``<string>`` are no file and are
        left out."""
        frames: list[tuple[str, int]] = []
        for prefix in ("frame", "caller"):
            file, line = self.get(f"{prefix}_file"), self.get(f"{prefix}_line")
            if file and line and line.isdigit() and not file.startswith("<"):
                frames.append((file, int(line)))
        return tuple(frames)

    def to_json(self) -> list[dict[str, str | int | None]]:
        """The facts as stored with a diagnosis: ``[{"name", "value", "line"}, ...]``."""
        return [{"name": f.name, "value": f.value, "line": f.line} for f in self.items]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> Facts:
        """The inverse of :meth:`to_json`."""
        return cls(
            tuple(
                Fact(
                    str(d["name"]),
                    str(d["value"]),
                    None if d.get("line") is None else int(d["line"]),
                )
                for d in data
            )
        )


def extract_facts(result: TriageResult) -> Facts:
    """The facts of a triaged log: what its key line, traceback and other lines state.

    Reads only the lines triage kept (the context around the key line and the evidence),
    so it costs the same for a 1 MB and a 1 GB log.
    """
    lines = _window(result)
    if not lines:
        return Facts()
    texts = [ev.text for ev in lines]
    numbers = [ev.line for ev in lines]
    found = _Found(numbers)
    key = numbers.index(result.key_line_number) if result.key_line_number in numbers else None
    if result.exception is not None:
        found.add("exception", result.exception, key)
        if key is not None:
            _exception_facts(found, result.exception, texts[key], key)
    _frame_facts(found, texts, key)
    _chain_facts(found, texts, key)
    _interpreter_facts(found, texts)
    for name, value, index in line_facts(texts):
        found.add(name, value, index)
    _last_output(found, texts, key)
    module = next((f for f in found.items if f.name == "module"), None)
    if module is not None and not found.has("top_module"):
        found.items.append(Fact("top_module", module.value.split(".")[0], module.line))
    return Facts(tuple(found.items))


class _Found:
    """Facts in the order found, without repeats of the same name and value."""

    def __init__(self, numbers: list[int]) -> None:
        self.numbers = numbers
        self.items: list[Fact] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, name: str, value: str | None, index: int | None) -> None:
        if not value or (name, value) in self._seen:
            return
        self._seen.add((name, value))
        self.items.append(Fact(name, value, self.numbers[index] if index is not None else None))

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.items)


def _window(result: TriageResult) -> list[Evidence]:
    """The lines triage kept, each once, in log order."""
    by_line = {ev.line: ev for ev in result.context}
    for ev in result.evidence:
        by_line.setdefault(ev.line, ev)
    return [by_line[n] for n in sorted(by_line, key=lambda n: (n < 0, n))]


# -- the exception ----------------------------------------------------------------------

_MESSAGE_PATTERNS: tuple[tuple[str | None, re.Pattern[str]], ...] = tuple(
    (exc, re.compile(pattern))
    for exc, pattern in (
        (None, r"No module named '(?P<module>[\w.]+)'"),
        (
            None,
            r"cannot import name '(?P<import_name>\w+)' from '(?P<module>[\w.]+)'"
            r"(?: \((?P<module_file>[^()]+)\))?",
        ),
        (None, r"Did you mean:? '?(?P<suggestion>[\w.]+)'?\?"),
        (
            "AttributeError",
            r"'(?P<object_type>[\w.]+)' object has no attribute '(?P<attribute>\w+)'",
        ),
        (
            "AttributeError",
            r"module '(?P<attribute_owner>[\w.]+)' has no attribute '(?P<attribute>\w+)'",
        ),
        (
            "AttributeError",
            r"type object '(?P<object_type>[\w.]+)' has no attribute '(?P<attribute>\w+)'",
        ),
        ("NameError", r"name '(?P<name>\w+)' is not defined"),
        ("UnboundLocalError", r"local variable '(?P<name>\w+)'"),
        ("TypeError", r"'(?P<object_type>\w+)' object is not (?:callable|subscriptable|iterable)"),
        (
            "TypeError",
            r"unsupported operand type\(s\) for (?P<operator>\S+): '(?P<left_type>\w+)' "
            r"and '(?P<right_type>\w+)'",
        ),
        (
            "ValueError",
            r"cannot reshape array of size (?P<array_size>\d+) into shape (?P<shape>\([\d, ]*\))",
        ),
        (
            None,
            r"Unable to allocate (?P<alloc_size>[\d.]+ [KMGTP]i?B) for an array with shape "
            r"(?P<array_shape>\([\d, ]*\)) and data type (?P<dtype>\w+)",
        ),
        (
            None,
            r"\[Errno (?P<errno>\d+)\] (?P<strerror>[^:\]]+?)(?:: '(?P<path>[^']*)'"
            r"(?: -> '(?P<path2>[^']*)')?)?$",
        ),
        (
            None,
            r"unable to open file: name = '(?P<path>[^']+)'(?:, errno = (?P<errno>\d+), "
            r"error message = '(?P<strerror>[^']+)')?",
        ),
        (None, r"^(?P<library>[\w.+-]+\.so[\w.]*): cannot open shared object file"),
    )
)
_PY2_IMPORT = re.compile(r"^No module named (?P<module>[\w.]+)$")


def _exception_facts(found: _Found, exception: str, key_text: str, key: int) -> None:
    parsed = parse_exception_line(body(key_text).strip())
    message = parsed[2] if parsed is not None and parsed[0] == exception else body(key_text).strip()
    if parsed is not None and parsed[0] == exception:
        found.add("message", message, key)
    if exception == "KeyError" and message:
        found.add("key", message, key)
    py2 = _PY2_IMPORT.match(message) if exception == "ImportError" else None
    if py2:
        found.add("module", py2.group("module"), key)
        found.add("python_major", "2", key)
    for only, pattern in _MESSAGE_PATTERNS:
        if only is not None and only != exception:
            continue
        match = pattern.search(message)
        if match is None:
            continue
        for name, value in match.groupdict().items():
            found.add(name, value, key)
    module = next((f.value for f in found.items if f.name == "module"), None)
    if module:
        found.add("top_module", module.split(".")[0], key)


# -- frames -----------------------------------------------------------------------------

_LIBRARY = re.compile(
    r"/(?:site|dist)-packages/|/lib(?:64)?/python\d(?:\.\d+)?/|^<frozen |/lib/pypy\d|\.pyx$"
)
_CARET = re.compile(r"^\s*[\^~]+[\s^~]*$")
_FAULTHANDLER = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-fA-F]+ \(most recent call first\):")


def is_library_file(path: str) -> bool:
    """Whether a traceback's file belongs to an installed package or the standard library."""
    return bool(_LIBRARY.search(path))


def _frame_facts(found: _Found, texts: list[str], key: int | None) -> None:
    frames = _faulthandler_frames(texts)
    if not frames:
        block = _block_of(texts, key)
        if block is None:
            return
        frames = [f for i in block.frames if (f := parse_frame(texts[i], i)) is not None]
        frames.reverse()  # innermost first, as faulthandler prints them
    if not frames:
        return
    users = [f for f in frames if not is_library_file(f.file)]
    user = users[0] if users else None
    innermost = frames[0]
    caller = next(
        (f for f in users[1:] if user and (f.file, f.line) != (user.file, user.line)), None
    )
    for prefix, frame in (("frame", user), ("caller", caller)):
        if frame is None:
            continue
        found.add(f"{prefix}_file", frame.file, frame.index)
        found.add(f"{prefix}_line", str(frame.line), frame.index)
        found.add(f"{prefix}_function", frame.function, frame.index)
        source = _source_of(texts, frame.index)
        if source is not None:
            found.add(f"{prefix}_source", source[0], source[1])
    if innermost is not user:
        found.add("library_file", innermost.file, innermost.index)
        found.add("library_line", str(innermost.line), innermost.index)
        found.add("library_function", innermost.function, innermost.index)


def _block_of(texts: list[str], key: int | None) -> Block | None:
    """The traceback holding the key line, else the root of the last chain."""
    blocks = find_blocks(texts)
    if key is not None:
        for block in blocks:
            if block.start <= key <= block.end:
                return block
    chain = last_chain(blocks)
    return chain[0] if chain else None


def _chain_facts(found: _Found, texts: list[str], key: int | None) -> None:
    """The last exception of the key's chain, when it differs from the root cause."""
    if key is None:
        return
    chain = last_chain(find_blocks(texts))
    if len(chain) < 2 or chain[0].exc_index != key:
        return
    last = chain[-1]
    if last.exc_index is None or last.name is None or last.name == chain[0].name:
        return
    found.add("chain_exception", last.name, last.exc_index)
    found.add("chain_message", last.message, last.exc_index)
    frames = [f for i in last.frames if (f := parse_frame(texts[i], i)) is not None]
    frame = next((f for f in reversed(frames) if not is_library_file(f.file)), None)
    if frame is not None:
        found.add("chain_file", frame.file, frame.index)
        found.add("chain_line", str(frame.line), frame.index)


def _faulthandler_frames(texts: list[str]) -> list[Frame]:
    for i, text in enumerate(texts):
        if _FAULTHANDLER.match(body(text)):
            frames = []
            for j in range(i + 1, min(len(texts), i + 102)):
                frame = parse_frame(texts[j], j)
                if frame is None:
                    break
                frames.append(frame)
            return frames
    return []


def _source_of(texts: list[str], index: int) -> tuple[str, int] | None:
    """The source line Python (or rich) prints under a frame, with its index."""
    if body(texts[index]).startswith("│"):
        for j in range(index + 1, min(len(texts), index + 16)):
            text = body(texts[j])
            if parse_frame(text) is not None or not text.startswith("│"):
                return None
            marked = re.match(r"^│ ❱ *\d+ (?P<code>.*?)\s*│?\s*$", text)
            if marked:
                code = marked.group("code").replace("│", " ").strip()
                return (code, j) if code else None
        return None
    for j in range(index + 1, min(len(texts), index + 4)):
        text = body(texts[j])
        if not text.startswith((" ", "\t")):
            if parse_exception_line(text) is not None:
                return None
            continue  # another stream's line between the frame and its code (srun)
        if parse_frame(text) is not None or _CARET.match(text):
            return None
        code = text.strip()
        return (code, j) if code else None
    return None


_NOT_OUTPUT = re.compile(
    r"^(?:\s|Traceback|File |-{5,}|\*\*\*|\[[\w.-]+:\d+\] |(?:srun|sbatch|salloc|slurmstepd)"
    r"[\w-]*: )|exit status \d|exited with \d"
)


def _last_output(found: _Found, texts: list[str], key: int | None) -> None:
    """The last line the program itself printed (not a scheduler, shell or traceback line)."""
    for i in range(len(texts) - 1, -1, -1):
        text = body(texts[i]).rstrip()
        if i == key or not text.strip() or _NOT_OUTPUT.search(text):
            continue
        if parse_exception_line(text) is not None or match_line(text) is not None:
            continue
        found.add("last_output", text.strip(), i)
        return


# -- the interpreter --------------------------------------------------------------------

_LIB_PATH = re.compile(r"(?P<prefix>/[^\s\"':]*?)/lib(?:64)?/python(?P<version>\d\.\d+)/")
_INTERPRETER = re.compile(
    r"(?<![\w./-])(?P<path>/[^\s\"':]*/bin/python\d?(?:\.\d+)?)(?=[\s:\"']|$)"
)
_BANNER = re.compile(r"\b[Pp]ython (?P<version>[23]\.\d+(?:\.\d+)?)\b")


def _interpreter_facts(found: _Found, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        if "python" not in text.lower():
            continue
        for match in _INTERPRETER.finditer(text):
            found.add("interpreter", match.group("path"), i)
        for match in _BANNER.finditer(text):
            found.add("python_version", match.group("version"), i)
        for match in _LIB_PATH.finditer(text):
            found.add("python_prefix", match.group("prefix"), i)
            found.add("python_version", match.group("version"), i)
    version = next((f for f in found.items if f.name == "python_version"), None)
    if version is not None and not found.has("python_major"):
        found.items.append(Fact("python_major", version.value[0], version.line))
