"""Triage of one log: category, key line, exception, signature, evidence."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from adaptive_llm_local.triage.evidence import Evidence
from adaptive_llm_local.triage.reader import (
    HEAD_BYTES,
    TAIL_BYTES,
    LogWindow,
    read_log,
    window_from_text,
)
from adaptive_llm_local.triage.rules import Rule, match_exception, scan_lines
from adaptive_llm_local.triage.signature import mask, signature
from adaptive_llm_local.triage.tracebacks import Block, body, find_blocks, last_chain

MAX_EVIDENCE = 12
_FAULT_FRAME = re.compile(r'^\s*File "[^"]*", line \d+ in ')
CONTEXT_BEFORE = 30
CONTEXT_AFTER = 10
_SUMMARY_CHARS = 200
CAUSE_FLOOR = 40
"""The least priority of a cause that a batch system's ending verdict yields to."""
STEP_CAUSE_FLOOR = 30
"""The same for the end of one ``srun`` step: the failure of one of its tasks suffices."""
KEPT_RUNNING_LINES = 10
"""More ordinary output lines than this between a cause and the verdict: the job went on."""
_NOT_CAUSES = ("cancelled", "time_limit")
_WRAPPERS = ("ChildFailedError",)


@dataclass
class TriageResult:
    """The deterministic verdict on one log.

    Attributes
    ----------
    category
        One of `adaptive_llm_local.triage.CATEGORIES`.
    key_line
        The one log line that states the root cause, verbatim after cleaning
        (ANSI codes and ``\\r`` overwrites removed, secrets redacted, trailing
        blanks stripped); None for category ``none``, an empty or a binary log.
    key_line_number
        Its line number (see `Evidence.line`), or None.
    exception
        Exception class name without module (``ModuleNotFoundError``), or None.
    signature
        16 hex digits, equal for failures of the same shape: a hash of the
        category, the exception and the masked summary.
    summary
        Masked one-liner for grouping displays.
    evidence
        The key line and the few most telling lines, sorted by position.
    context
        Up to 40 lines around the key line (or the last 40 lines), for prompts.
    truncated
        True when the middle of the log was skipped.
    size_bytes
        Size of the log.
    notes
        Remarks (binary content, truncation, how a verdict was reached).
    source
        The path, or None for in-memory text.
    line_ranges
        Inclusive ranges of the line numbers that were read.
    """

    category: str
    key_line: str | None
    key_line_number: int | None
    exception: str | None
    signature: str
    summary: str
    evidence: list[Evidence] = field(default_factory=list)
    context: list[Evidence] = field(default_factory=list)
    truncated: bool = False
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    source: str | None = None
    line_ranges: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the ``triage --json`` object.

        The documented keys (``category``, ``key_line``, ``exception``,
        ``signature``, ``evidence``; see the README) followed by ``summary``, ``key_line_number``,
        ``truncated`` and ``notes``.
        """
        return {
            "category": self.category,
            "key_line": self.key_line,
            "exception": self.exception,
            "signature": self.signature,
            "evidence": [ev.to_json() for ev in self.evidence],
            "summary": self.summary,
            "key_line_number": self.key_line_number,
            "truncated": self.truncated,
            "notes": list(self.notes),
        }

    def has_line(self, n: int) -> bool:
        """Whether line number ``n`` was among the lines read.

        Use it to drop evidence a model made up. Numbers follow the convention of
        `Evidence.line`: positive from the start, negative from the end for the
        tail of a truncated log.
        """
        return any(lo <= n <= hi for lo, hi in self.line_ranges)


@dataclass
class _Candidate:
    rule: Rule
    index: int
    exception: str | None
    summary_source: str


def _position(ev: Evidence) -> tuple[bool, int]:
    return (ev.line < 0, ev.line)


def _traceback_indices(blocks: list[Block]) -> set[int]:
    covered: set[int] = set()
    for block in blocks:
        covered.update(range(block.start, block.end + 1))
    return covered


def _exception_candidate(blocks: list[Block]) -> tuple[_Candidate | None, list[Block]]:
    chain = last_chain(blocks)
    root = next((b for b in chain if b.exc_index is not None), None)
    if root is None or root.name is None or root.exc_index is None:
        return None, chain
    if root.name in _WRAPPERS:
        # a launcher's report that a worker failed: the worker's own exception is the cause
        inner, inner_chain = _exception_candidate([b for b in blocks if b.end < chain[0].start])
        if inner is not None:
            return inner, inner_chain
    rule = match_exception(root.qualname or root.name, root.message)
    text = f"{root.name}: {root.message}" if root.message else root.name
    return _Candidate(rule, root.exc_index, root.name, text), chain


def _line_candidates(lines: list[Evidence], skip: set[int]) -> list[_Candidate]:
    bodies = [body(ev.text) for ev in lines]
    found: list[_Candidate] = []
    for index, rule, match in scan_lines(bodies):
        if index in skip:
            continue
        exc = match.group("exc") if "exc" in rule.regex.groupindex else None
        found.append(_Candidate(rule, index, exc, bodies[index].strip()))
    return found


def _summary(candidate: _Candidate) -> str:
    if candidate.rule.summary is not None:
        return candidate.rule.summary
    text = " ".join(mask(candidate.summary_source).split())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def _evidence(
    lines: list[Evidence],
    key: int | None,
    chain: list[Block],
    candidates: list[_Candidate],
) -> list[Evidence]:
    picked: list[int] = []

    def add(index: int | None) -> None:
        if index is not None and 0 <= index < len(lines) and index not in picked:
            picked.append(index)

    add(key)
    if key is not None and lines[key].text.startswith("Fatal Python error"):
        # faulthandler prints the innermost Python frames first
        frames = [
            i
            for i in range(key + 1, min(len(lines), key + 12))
            if _FAULT_FRAME.match(lines[i].text)
        ]
        for index in frames[:3]:
            add(index)
    for block in chain[:1] + chain[-1:]:
        add(block.exc_index)
        for frame in block.frames[-2:]:
            add(frame)
            if frame + 1 < len(lines) and frame + 1 != block.exc_index:
                add(frame + 1)
    floor = min([50, *(c.rule.priority for c in candidates if c.index == key)])
    for cand in sorted(candidates, key=lambda c: (-c.rule.priority, c.index)):
        if len(picked) >= MAX_EVIDENCE or cand.rule.priority < floor:
            break
        add(cand.index)
    return sorted((lines[i] for i in picked[:MAX_EVIDENCE]), key=_position)


def _context(lines: list[Evidence], key: int | None) -> list[Evidence]:
    if key is None:
        return lines[-(CONTEXT_BEFORE + CONTEXT_AFTER) :]
    start = max(0, key - CONTEXT_BEFORE)
    return lines[start : key + CONTEXT_AFTER]


def triage_window(window: LogWindow) -> TriageResult:
    """Apply the rules to lines already read (see `triage_file`)."""
    lines = window.lines
    texts = [ev.text for ev in lines]
    notes = list(window.notes)
    blocks = find_blocks(texts)
    in_tracebacks = _traceback_indices(blocks)
    exc_candidate, chain = _exception_candidate(blocks)
    candidates = _line_candidates(lines, in_tracebacks)
    if exc_candidate is not None:
        candidates.append(exc_candidate)

    best = max(candidates, key=_rank) if candidates else None
    ended_by: _Candidate | None = None
    if best is not None and best.rule.ends:
        cause, cause_chain = _cause_before_ending(
            window, blocks, candidates, exc_candidate, in_tracebacks
        )
        if cause is not None:
            best, ended_by = cause, best
            if cause_chain is not None:
                exc_candidate, chain = cause, cause_chain
    setup = _setup_before(best, candidates)

    cut_block = chain[0] if chain and chain[0].exc_index is None else None
    if (best is None or best.rule.priority < 30) and cut_block is not None:
        key_index = cut_block.frames[-1] if cut_block.frames else cut_block.start
        notes.append("a Python traceback was cut before its exception line (log truncated?)")
        summary = "Python traceback without exception line"
        return _result(window, "unknown", key_index, None, summary, chain, candidates, notes)

    if best is None:
        if window.binary:
            summary = "binary content, not a text log"
            return _result(window, "unknown", None, None, summary, [], [], notes)
        summary = "empty log" if not lines else "no failure found in the log"
        return _result(window, "none", None, None, summary, [], [], notes)

    if setup is not None:
        notes.append(
            f"the job's environment could not be set up (line {lines[setup.index].line}); "
            f"that explains the {_what(best)} reported after it (line {lines[best.index].line})"
        )
        best = setup
    if best.rule.note:
        notes.append(best.rule.note)
    exception = best.exception
    if ended_by is not None:
        notes.append(_ended_note(ended_by, lines[ended_by.index].line))
    elif exc_candidate is not None and best is not exc_candidate and setup is None:
        outer = "the scheduler's message" if best.rule.priority >= 90 else best.rule.category
        notes.append(
            f"the log also shows a Python {exc_candidate.exception}; {outer} takes precedence"
        )
    if len(chain) > 1 and best is exc_candidate and chain[0].name != chain[-1].name:
        notes.append(
            f"exception chain of {len(chain)}: the root cause is the first, "
            f"{chain[0].name}; the last is {chain[-1].name}"
        )
    return _result(
        window, best.rule.category, best.index, exception, _summary(best), chain, candidates, notes
    )


def _rank(candidate: _Candidate) -> tuple[int, int]:
    return (candidate.rule.priority, -candidate.index)


def _cause_before_ending(
    window: LogWindow,
    blocks: list[Block],
    candidates: list[_Candidate],
    exc_candidate: _Candidate | None,
    in_tracebacks: set[int],
) -> tuple[_Candidate | None, list[Block] | None]:
    """The cause of the job's end, when the log prints one before the batch system's verdict.

    The verdict (time limit, cancellation, preemption, requeue) is what ended the job;
    an out-of-memory kill, a crash, an exception, a failed set-up or a launcher error
    printed before it is why, unless the job kept printing ordinary output after it
    (then it recovered, and the verdict stands). For the end of one ``srun`` step the
    failure of one of its tasks is a cause too. Causes printed after the verdict are
    its effects (the ``SIGTERM`` handler's ``KeyboardInterrupt``, the ``Killed`` that
    follows it) and are ignored.

    Returns
    -------
    tuple[_Candidate | None, list[Block] | None]
        The cause, or None; and the exception chain of the cause when it is a Python
        exception of an earlier chain than the log's last one.
    """
    ending = min((c for c in candidates if c.rule.ends), key=lambda c: c.index)
    floor = STEP_CAUSE_FLOOR if ending.rule.ends == "step" else CAUSE_FLOOR
    before = [c for c in candidates if c.index < ending.index and c is not exc_candidate]
    earlier: _Candidate | None = None
    chain: list[Block] = []
    if exc_candidate is not None and exc_candidate.index < ending.index:
        before.append(exc_candidate)
    else:
        earlier, chain = _exception_candidate([b for b in blocks if b.end < ending.index])
        if earlier is not None:
            before.append(earlier)
    causes = [
        c
        for c in before
        if not c.rule.ends and c.rule.category not in _NOT_CAUSES and c.rule.priority >= floor
    ]
    if not causes:
        return None, None
    cause = max(causes, key=_rank)
    busy = in_tracebacks | {c.index for c in candidates}
    if _kept_running(window.lines, cause.index, ending.index, busy):
        return None, None
    return cause, (chain if cause is earlier else None)


def _kept_running(lines: list[Evidence], cause: int, ending: int, busy: set[int]) -> bool:
    """Whether the job printed ordinary output between a cause and the verdict."""
    if lines[cause].line > 0 > lines[ending].line:
        return True  # the skipped middle of a long log lies between them
    ordinary = sum(1 for i in range(cause + 1, ending) if i not in busy and lines[i].text.strip())
    return ordinary > KEPT_RUNNING_LINES


def _setup_before(best: _Candidate | None, candidates: list[_Candidate]) -> _Candidate | None:
    """The first failed environment set-up before a missing module or program, if any."""
    if best is None or best.rule.category != "missing_module" or best.rule.setup:
        return None
    setups = [c for c in candidates if c.rule.setup and c.index < best.index]
    return min(setups, key=lambda c: c.index) if setups else None


def _ended_note(ending: _Candidate, line: int) -> str:
    """What ended the job after its cause (the note that keeps the verdict in view)."""
    if ending.rule.ends == "step" and ending.rule.category == "cancelled":
        return f"the job step was then cancelled (line {line})"
    return f"the batch system then ended the job: {_summary(ending)} (line {line})"


def _what(candidate: _Candidate) -> str:
    if candidate.exception is not None:
        return f"Python {candidate.exception}"
    return "missing program or library"


def _result(
    window: LogWindow,
    category: str,
    key_index: int | None,
    exception: str | None,
    summary: str,
    chain: list[Block],
    candidates: list[_Candidate],
    notes: list[str],
) -> TriageResult:
    lines = window.lines
    key = lines[key_index] if key_index is not None else None
    return TriageResult(
        category=category,
        key_line=key.text if key else None,
        key_line_number=key.line if key else None,
        exception=exception,
        signature=signature(category, exception, summary),
        summary=summary,
        evidence=_evidence(lines, key_index, chain, candidates) if key else [],
        context=_context(lines, key_index),
        truncated=window.truncated,
        size_bytes=window.size_bytes,
        notes=notes,
        source=window.source,
        line_ranges=window.ranges,
    )


def triage_file(
    path: str | os.PathLike[str],
    *,
    head_bytes: int = HEAD_BYTES,
    tail_bytes: int = TAIL_BYTES,
    file: BinaryIO | None = None,
) -> TriageResult:
    """Triage a log file without a model.

    Reads at most ``head_bytes`` from the start and ``tail_bytes`` from the end,
    so time and memory do not grow with the file size. Lines of the head are
    numbered from 1; when the middle is skipped, lines of the tail are numbered
    negatively from the end (-1 = last line, as ``tail -n`` counts) and
    ``truncated`` is True. Files that fit the window get exact positive numbers.

    Precedence: the batch system's verdict (node failure, memory kill, and how the
    job ended: time limit, cancellation, preemption) wins over what the program
    printed, except that a verdict on how the job ended yields to a cause printed
    before it (an out-of-memory kill, a crash, an exception, a failed set-up, a
    launcher error) unless the job kept running normally after that cause; the
    verdict is then a note. Otherwise the root Python exception, i.e. the FIRST
    exception of the last chain (``The above exception was the direct cause...`` /
    ``During handling of the above exception...``); otherwise native crashes,
    loader, shell, MPI and CUDA messages; otherwise generic failure signs give
    ``unknown``; no sign at all gives ``none``. A failed environment set-up (an
    unknown module, a conda environment that cannot be activated) is the key line
    of a missing module reported after it. See `adaptive_llm_local.triage.rules`
    for the table.

    Parameters
    ----------
    path
        The log file.
    head_bytes, tail_bytes
        How much to read from each end.
    file
        The log already opened and checked by the caller, read instead of ``path``
        (see `read_log`): what was checked is what is read.

    Returns
    -------
    TriageResult
        Never raises for odd content (binary, non-UTF-8, huge lines).

    Raises
    ------
    LogNotReadableError
        The file is missing, a directory, or unreadable.
    """
    window = read_log(path, head_bytes=head_bytes, tail_bytes=tail_bytes, file=file)
    return triage_window(window)


def triage_text(
    text: str, *, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES
) -> TriageResult:
    """Triage a log held in memory; same rules and numbering as `triage_file`."""
    return triage_window(window_from_text(text, head_bytes=head_bytes, tail_bytes=tail_bytes))
