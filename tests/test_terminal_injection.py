"""Terminal and markup injection (issue 10, items 5 and 6).

Whatever a log, a document, a path, the index or the model holds reaches the terminal as
literal text: escape sequences, C1 controls and bidi overrides are shown written out
(``\\x1b``), rich markup such as ``[/]`` or ``[link=…]`` is shown, not parsed, and
``--json`` stays valid JSON that loads back to exactly the same strings.

The printers are driven with a real rich ``Console`` writing to a ``StringIO`` with
``force_terminal=True``; the command line runs as real subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from adaptive_llm_local.cli.console import escape, json_text, print_error, print_json, visible
from adaptive_llm_local.cli.render import (
    RichProgress,
    StreamedAnswer,
    describe_source,
    print_diagnosis,
    print_doctor,
    print_hits,
    print_index_stats,
    print_piece,
    print_sources,
    print_triage,
)
from adaptive_llm_local.diagnose import Diagnosis
from adaptive_llm_local.retrieval import Source
from adaptive_llm_local.triage import Evidence, TriageResult, triage_text

pytestmark = pytest.mark.hostile("terminal output")

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SGR = re.compile(r"\x1b\[[0-9;]*m")
"""What rich itself writes for colours and bold on a colour terminal."""


def forbidden(char: str) -> bool:
    """What must never reach a terminal from untrusted text: C0 except newline and tab,
    DEL, C1, bidi overrides, and the other invisible format characters."""
    code = ord(char)
    if char in "\n\t":
        return False
    if code < 0x20 or 0x7F <= code <= 0x9F or char in BIDI:
        return True
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def raw_controls(output: str) -> list[str]:
    return sorted({repr(c) for c in output if forbidden(c)})


def terminal(color: bool = False, width: int = 200) -> tuple[Console, io.StringIO]:
    """A real rich console as a terminal sees it (styles on only when ``color``)."""
    buffer = io.StringIO()
    out = Console(
        file=buffer,
        force_terminal=True,
        color_system="truecolor" if color else None,
        width=width,
        highlight=False,
    )
    return out, buffer


def render(printer: Any, *args: Any, **kwargs: Any) -> str:
    """What ``printer`` writes, checked on a plain and on a colour terminal."""
    out, buffer = terminal()
    printer(out, *args, **kwargs)
    plain = buffer.getvalue()
    assert raw_controls(plain) == []
    out, buffer = terminal(color=True)
    printer(out, *args, **kwargs)
    assert raw_controls(SGR.sub("", buffer.getvalue())) == []
    return plain


# --- the sequences from the issue ----------------------------------------------------

ATTACKS = {
    "full reset": "\x1bc",
    "line drawing charset": "\x1b(0",
    "screen alignment test": "\x1b#8",
    "save/restore cursor": "\x1b7moved\x1b8",
    "clear screen": "\x1b[2J\x1b[H",
    "OSC title": "\x1b]0;PWNED\x07",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "\x9b2J",
    "C1 OSC": "\x9d0;t\x9c",
    "C1 rest": "".join(chr(c) for c in range(0x80, 0xA0)),
    "bidi override": "\u202eevil\u202c",
    "DEL and BS": "a\x7fb\x08c",
    "lone surrogate": "name-\udcff",
}
MARKUP = ["[/]", "[bold]", "[link=http://evil.example]x[/link]", "[@click=app.quit]", "a\\"]


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_visible_writes_every_control_out(attack: str) -> None:
    shown = visible(attack)
    assert raw_controls(shown) == []
    assert visible("ok\ttab\nline é 日 😀 [/]") == "ok\ttab\nline é 日 😀 [/]"
    assert visible("\x1bc") == "\\x1bc" and visible("\u202e") == "\\u202e"


def test_escape_shows_markup_literally() -> None:
    out, buffer = terminal()
    for text in MARKUP:
        out.print(f"[dim]{escape(text)}[/]")
    assert buffer.getvalue().split("\n")[:-1] == MARKUP


def _triage_result(text: str, source: str) -> TriageResult:
    return TriageResult(
        category="python_exception",
        key_line=f"ValueError: {text}",
        key_line_number=3,
        exception=f"Bad{text}Error",
        signature="0123456789abcdef",
        summary=f"ValueError: {text}",
        evidence=[Evidence(3, f"ValueError: {text}"), Evidence(-1, text)],
        notes=[f"note {text}"],
        source=source,
    )


def _diagnosis(text: str) -> Diagnosis:
    return Diagnosis(
        category="python_exception",
        key_line=f"ValueError: {text}",
        exception="ValueError",
        signature="0123456789abcdef",
        summary=text,
        evidence=[Evidence(3, text)],
        root_cause=f"The model says {text}",
        suggested_fix=f"Run {text}",
        confidence=0.5,
        model=f"model-{text}",
        sources=[_source(text, "failure")],
        key_line_number=3,
        notes=[f"note {text}"],
    )


def _source(text: str, kind: str = "doc") -> Source:
    return Source(
        kind=kind,
        source=f"/shared/{text}.md",
        lines="1-3",
        score=0.5,
        text=f"document {text}",
        category=f"cat{text}" if kind == "failure" else None,
        signature="0123456789abcdef" if kind == "failure" else None,
    )


def _doctor(text: str) -> dict[str, Any]:
    return {"ok": False, "problems": [f"Model file not found: {text}"], "rows": [("model", text)]}


def _stats(text: str) -> dict[str, Any]:
    return {
        "location": f"/idx/{text}",
        "configured_embed_model": f"embed-{text}",
        "collections": {
            "failures": {"count": 2, "by_category": {text: 2}, "embed_model": f"old-{text}"}
        },
        "thresholds": {"failure": 0.5},
    }


def _note(out: Console, text: str) -> None:
    progress = RichProgress(out)
    progress.note(f"Skipped {text}: is a named pipe (FIFO), not a regular file")


def _streamed(out: Console, text: str) -> None:
    out.print(StreamedAnswer._render({"root_cause": text, "suggested_fix": text}))
    print_piece(out, text)


PRINTERS = {
    "triage": lambda out, text: print_triage(out, _triage_result(text, f"/logs/{text}.log")),
    "diagnosis": lambda out, text: print_diagnosis(out, _diagnosis(text), key_line=True),
    "sources": lambda out, text: print_sources(out, [_source(text, "failure"), _source(text)]),
    "search hits": lambda out, text: print_hits(out, text, [_source(text, "failure")]),
    "no search hits": lambda out, text: print_hits(out, text, []),
    "index stats": lambda out, text: print_index_stats(out, _stats(text)),
    "doctor": lambda out, text: print_doctor(out, _doctor(text)),
    "ingestion note": _note,
    "streamed answer": _streamed,
}


@pytest.mark.parametrize("printer", list(PRINTERS.values()), ids=list(PRINTERS))
@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_printers_show_attacks_as_text(printer: Any, attack: str) -> None:
    shown = render(printer, attack)
    if printer is not PRINTERS["no search hits"]:
        assert visible(attack) in shown.replace("\n", "") or "\\x" in shown or "\\u" in shown


@pytest.mark.parametrize("printer", list(PRINTERS.values()), ids=list(PRINTERS))
@pytest.mark.parametrize("markup", MARKUP)
def test_printers_show_markup_literally(printer: Any, markup: str) -> None:
    shown = render(printer, markup)
    assert markup in shown


def test_the_triage_panel_title_is_the_path_as_it_is() -> None:
    shown = render(print_triage, _triage_result("x", "/logs/[link=http://evil.example]a[/]b.log"))
    assert "/logs/[link=http://evil.example]a[/]b.log" in shown
    assert "\x1b]8" not in shown


def test_error_lines_are_literal(capsys: pytest.CaptureFixture[str]) -> None:
    print_error("Log file not found: /logs/[/]\x1bc\u202e.log")
    err = capsys.readouterr().err
    assert err == "error: Log file not found: /logs/[/]\\x1bc\\u202e.log\n"


def test_describe_source_escapes_the_category() -> None:
    source = _source("[/]", "failure")
    out, buffer = terminal()
    out.print(describe_source(source, source.signature))
    assert "cat[/]" in buffer.getvalue()


# --- JSON ------------------------------------------------------------------------------


def test_json_is_exact_and_safe(capsys: pytest.CaptureFixture[str]) -> None:
    data = {name: attack for name, attack in ATTACKS.items()}
    data["tag"] = "\U000e0041"
    print_json(data)
    printed = capsys.readouterr().out
    assert json.loads(printed) == data
    assert raw_controls(printed.replace("\n", "")) == []
    assert "日" in json_text({"x": "日"})  # non-ASCII text stays readable


# --- properties ------------------------------------------------------------------------

CONTROL = st.sampled_from(
    [*ATTACKS.values(), "\x1b", "\x1b[", "\x1b]", "\r", "\x00", "\u2028", "\u2029", "\ufeff"]
)
MARKUP_LIKE = st.sampled_from(
    [
        *MARKUP,
        "[",
        "]",
        "\\[",
        "[/bold]",
        "[red on blue]",
        "[#ff0000]",
        ":smile:",
        "[link=file:///etc/passwd]",
        "[/link]",
        "[b][/i]",
    ]
)
HOSTILE = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
        st.characters(min_codepoint=0, max_codepoint=0x9F).map(str),
        st.sampled_from(BIDI),
        CONTROL,
        MARKUP_LIKE,
    ),
    max_size=12,
).map("".join)


@pytest.mark.hostile("terminal output", cases=60)
@FAST
@given(HOSTILE, st.sampled_from(sorted(PRINTERS)))
def test_no_control_character_reaches_the_terminal(text: str, printer: str) -> None:
    render(PRINTERS[printer], text)


@pytest.mark.hostile("terminal output", cases=60)
@FAST
@given(HOSTILE)
def test_triaged_random_logs_print_safely(text: str) -> None:
    result = triage_text(f"Traceback (most recent call last):\n{text}\nValueError: {text}\n")
    render(print_triage, result)
    assert json.loads(json_text(result.to_json())) == json.loads(json.dumps(result.to_json()))


@pytest.mark.hostile("terminal output", cases=60)
@FAST
@given(HOSTILE)
def test_error_lines_stay_one_literal_line(text: str) -> None:
    out = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, out
    try:
        print_error(text.replace("\n", " "))
    finally:
        sys.stderr = sys_stderr
    assert raw_controls(out.getvalue()) == []


JSON_DATA = st.recursive(
    HOSTILE | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE, inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.hostile("terminal output", cases=60)
@FAST
@given(JSON_DATA)
def test_json_round_trips_and_is_safe(data: Any) -> None:
    text = json_text(data)
    assert json.loads(text) == data
    assert raw_controls(text.replace("\n", "")) == []


# --- the command line, as a user runs it ------------------------------------------------

HOSTILE_LOG = (
    "starting\n"
    "\x1bc\x1b]0;PWNED\x07\x1b(0\x1b#8\x1b7\x1b8 \xc2\x9b2J \xc2\x9d0;t\xc2\x9c\n"
    "Traceback (most recent call last):\n"
    '  File "/scratch/learner.py", line 3, in <module>\n'
    "ValueError: bad \x1bc value \xe2\x80\xaeevil\n"
).encode("latin-1")


def cli(*args: str, color: bool = False) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["COLUMNS"] = "400"  # long temporary paths fit in the panel's title
    if color:
        env["FORCE_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", *args],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )


def _raw_controls(output: bytes) -> list[str]:
    return raw_controls(SGR.sub("", output.decode("utf-8")))


@pytest.mark.parametrize("color", [False, True], ids=["pipe", "forced colour"])
def test_triage_of_a_hostile_log_in_a_hostile_path(tmp_path: Path, color: bool) -> None:
    log = tmp_path / "a[/]b[link=evil]" / "job[/].log"  # "[/]": a folder "a[" holding "]b…"
    log.parent.mkdir(parents=True)
    log.write_bytes(HOSTILE_LOG)
    done = cli("triage", str(log), color=color)
    assert done.returncode == 0, done.stderr.decode()
    assert _raw_controls(done.stdout) == [] and _raw_controls(done.stderr) == []
    out = SGR.sub("", done.stdout.decode())
    assert "python_exception" in out and "ValueError: bad \\x1bc value \\u202eevil" in out
    assert "job[/].log" in out.replace("\n", "").replace("│", "")


def test_triage_json_keeps_the_text_exact(tmp_path: Path) -> None:
    log = tmp_path / "job[/].log"
    log.parent.mkdir(parents=True)
    log.write_bytes(HOSTILE_LOG)
    done = cli("triage", str(log), "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert _raw_controls(done.stdout.replace(b"\n", b"")) == []
    data = json.loads(done.stdout)
    assert data["key_line"] == "ValueError: bad \x1bc value \u202eevil"


def test_errors_about_hostile_paths_are_one_literal_line(tmp_path: Path) -> None:
    done = cli("triage", str(tmp_path / "missing[/]\x1b]0;t\x07.log"))
    assert done.returncode == 2
    err = done.stderr.decode()
    assert _raw_controls(done.stderr) == [] and err.count("\n") == 1
    assert "missing[/]\\x1b]0;t\\x07.log" in err and "Traceback" not in err


@pytest.mark.usefixtures("home")
def test_diagnose_of_a_hostile_log_in_a_hostile_path(tmp_path: Path) -> None:
    log = tmp_path / "run[/]" / "job[/].log"
    log.parent.mkdir(parents=True)
    log.write_bytes(HOSTILE_LOG)
    done = cli("diagnose", str(log), "--no-index")
    assert done.returncode == 0, done.stderr.decode()
    assert _raw_controls(done.stdout) == [] and _raw_controls(done.stderr) == []
    assert "Root cause" in done.stdout.decode()


@pytest.mark.usefixtures("home")
def test_index_search_shows_a_hostile_document_literally(tmp_path: Path) -> None:
    docs = tmp_path / "docs[/]"
    docs.mkdir(parents=True)
    (docs / "guide.md").write_text(
        "# GPU guide\n\nRequest GPUs with --gres=gpu:1 \x1b]0;PWNED\x07\x1b[2J\x1bc and load "
        "the CUDA module [link=http://evil.example]first[/link] \u202eevil.\n"
    )
    assert cli("index", "add", str(docs), "--no-builtin").returncode == 0
    done = cli("index", "search", "request GPUs CUDA module", "--kind", "doc")
    assert done.returncode == 0, done.stderr.decode()
    assert _raw_controls(done.stdout) == []
    out = done.stdout.decode().replace("\n", "").replace("│", "").replace(" ", "")
    assert "\\x1b]0;PWNED\\x07" in out and "[link=http://evil.example]first[/link]" in out
    found = cli("index", "search", "request GPUs CUDA module", "--kind", "doc", "--json")
    hits = json.loads(found.stdout)
    assert any("\x1b]0;PWNED\x07" in hit["text"] and "\u202e" in hit["text"] for hit in hits)
