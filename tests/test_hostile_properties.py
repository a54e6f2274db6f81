"""Property-based tests (Hypothesis): random bytes, control sequences and file trees.

Whatever a log, a document or a folder holds: no exception escapes triage, redaction,
chunking or ingestion; nothing outside the given folders is opened or stored; work on one
input stays bounded in time (``deadline``) and memory (``tracemalloc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import string
import sys
import tempfile
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_redact_corpus import SECRETS

from adaptive_llm_local.retrieval.chunking import MAX_CHARS, chunk_document, chunk_notebook
from adaptive_llm_local.retrieval.files import Candidate, Skipped, iter_candidates
from adaptive_llm_local.retrieval.ingest import IngestReport, NullProgress, plan_files
from adaptive_llm_local.triage import CATEGORIES, redact, triage_file, triage_text
from adaptive_llm_local.triage.redact import REDACTED

pytestmark = pytest.mark.hostile("hostile files and text")

MARKER = "OUTSIDE-MARKER-91c2"
FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

# --- what every property watches: files opened by this process --------------------------

_opened: list[str] | None = None
_opened_lock = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is None or event not in ("open", "os.scandir", "os.listdir"):
        return
    path = args[0] if args else None
    if isinstance(path, str | bytes | os.PathLike):
        with _opened_lock:
            if _opened is not None:
                _opened.append(os.fsdecode(path))


sys.addaudithook(_audit)


@contextlib.contextmanager
def recording_opens() -> Iterator[list[str]]:
    """Collect every path this process opens or lists inside the block."""
    global _opened
    seen: list[str] = []
    _opened = seen
    try:
        yield seen
    finally:
        _opened = None


# --- strategies ------------------------------------------------------------------------

CONTROL = st.sampled_from(
    [
        "\x1b[31m",
        "\x1b[0m",
        "\x1bc",
        "\x1b(0",
        "\x1b#8",
        "\x1b7",
        "\x1b8",
        "\x1b]0;title\x07",
        "\x1b]8;;http://x\x1b\\",
        "\x9b2J",
        "\x9d0;t\x9c",
        "\r",
        "\x00",
        "\x08",
        "\x7f",
        "\t",
        "\n",
        "\u202e",
        "\ufeff",
    ]
)
LOG_PIECES = st.sampled_from(
    [
        "Traceback (most recent call last):\n",
        '  File "/home/a/x.py", line 3, in <module>\n',
        "ModuleNotFoundError: No module named 'numpy'\n",
        "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=4.batch\n",
        "CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT\n",
        "Segmentation fault (core dumped)\n",
        "RuntimeError: CUDA error: out of memory\n",
        "    raise ValueError('x')\n",
        "ValueError: x\n",
        "password=hunter2 token=ghp_0123456789abcdefghijABCDEFGHIJklmnop\n",
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----END RSA PRIVATE KEY-----\n",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(st.text(max_size=80), CONTROL, LOG_PIECES), max_size=60).map(
    "".join
)


@FAST
@given(st.binary(max_size=20_000))
def test_triage_of_random_bytes(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".log") as fh:
        fh.write(data)
        fh.flush()
        result = triage_file(fh.name)
    assert result.category in CATEGORIES


@FAST
@given(HOSTILE_TEXT)
def test_triage_of_random_control_sequences(text: str) -> None:
    result = triage_text(text)
    assert result.category in CATEGORIES
    assert all("\n" not in ev.text for ev in result.evidence)


@FAST
@given(HOSTILE_TEXT)
def test_redaction_keeps_lines_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert once.count("\n") == text.count("\n")
    assert redact(once) == once


@FAST
@given(
    st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + " .,:;=/'\"-_@", max_size=40),
        max_size=6,
    ),
    st.sampled_from(SECRETS),
    st.integers(min_value=0, max_value=6),
)
def test_a_planted_secret_never_survives(
    lines: list[str], case: tuple[str, str, str], at: int
) -> None:
    _, line, secret = case
    lines.insert(min(at, len(lines)), line)
    out = redact("\n".join(lines))
    assert secret not in out
    assert out.count("\n") == len(lines) - 1


@FAST
@given(HOSTILE_TEXT, st.sampled_from([".md", ".rst", ".txt", ".py"]))
def test_chunking_random_text(text: str, suffix: str) -> None:
    try:
        chunks = chunk_document(text, suffix, clean=redact)
    except ValueError:
        assert suffix == ".py"  # only code nested past the parser's limits
        return
    lines = max(1, len(text.splitlines()))
    for chunk in chunks:
        assert 1 <= chunk.start <= chunk.end <= lines
        assert 0 < len(chunk.text) <= 2 * MAX_CHARS + 2
        assert isinstance(chunk.title, str)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
CELL = st.fixed_dictionaries(
    {},
    optional={
        "cell_type": st.one_of(st.sampled_from(["code", "markdown", "raw"]), JSON),
        "source": st.one_of(st.text(max_size=200), st.lists(st.text(max_size=50)), JSON),
        "outputs": JSON,
    },
)


@FAST
@given(
    st.one_of(JSON, st.fixed_dictionaries({"cells": st.lists(st.one_of(CELL, JSON), max_size=8)}))
)
def test_chunking_random_notebooks(data: object) -> None:
    try:
        chunks = chunk_notebook(json.dumps(data), clean=redact)
    except ValueError:
        assert not (isinstance(data, dict) and isinstance(data.get("cells"), list))
        return
    for chunk in chunks:
        assert isinstance(chunk.text, str) and isinstance(chunk.title, str) and chunk.text.strip()


# --- random file trees ------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["a", "b.md", "c.log", "d.py", "e.ipynb", "f.out", "g.txt", ".hidden.md"]),
    st.text(alphabet=string.ascii_letters + " -_[]()'$;", min_size=1, max_size=8).map(
        lambda s: s + ".md"
    ),
    st.binary(min_size=1, max_size=6)
    .filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b".."))
    .map(lambda b: b + b".log"),
)
CONTENT = st.one_of(
    st.binary(max_size=300),
    HOSTILE_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b"[" * 3000 + b"]" * 3000),
)
NODE = st.tuples(
    st.sampled_from(
        ["file", "file", "dir", "link-in", "link-out", "link-etc", "loop", "dangling", "fifo"]
    ),
    NAMES,
    CONTENT,
)


def _build(base: Path, nodes: list[tuple[str, str | bytes, bytes]]) -> tuple[Path, Path]:
    """A root folder of ``nodes`` (nested by order) and an outside folder it may link to."""
    root, outside = base / "root", base / "outside"
    root.mkdir()
    (outside / "docs").mkdir(parents=True)
    (outside / "secret.md").write_text(f"# Secret\n\n{MARKER} of another user\n")
    (outside / "docs" / "other.log").write_text(f"ValueError: {MARKER}\n")
    folders = [root]
    made: list[Path] = []
    for i, (kind, name, content) in enumerate(nodes):
        parent = folders[i % len(folders)]
        raw = os.fsencode(parent) + b"/" + (name if isinstance(name, bytes) else name.encode())
        path = Path(os.fsdecode(raw))
        if os.path.lexists(path):
            continue
        if kind == "file":
            path.write_bytes(content)
        elif kind == "dir":
            path.mkdir()
            folders.append(path)
        elif kind == "link-in" and made:
            path.symlink_to(made[i % len(made)])
        elif kind == "link-out":
            path.symlink_to(outside / ("docs" if i % 2 else "secret.md"))
        elif kind == "link-etc":
            path.symlink_to("/etc/passwd")
        elif kind == "loop":
            path.symlink_to(path)
        elif kind == "dangling":
            path.symlink_to(base / "missing")
        elif kind == "fifo":
            os.mkfifo(path)
        made.append(path)
    return root, outside


def _plan_guarded(paths: list[Path], timeout: float = 20) -> tuple[IngestReport, dict[str, Any]]:
    from adaptive_llm_local.triage import triage_file

    report = IngestReport()
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["plans"] = plan_files(iter_candidates(paths), triage_file, report, NullProgress())
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "planning hung"
    if "error" in out:
        raise out["error"]
    return report, out["plans"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NODE, max_size=14))
def test_random_trees_are_planned_without_reading_outside(nodes: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root, outside = _build(base, nodes)
        tracemalloc.start()
        try:
            with recording_opens() as opened:
                report, plans = _plan_guarded([root])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        touched = [os.path.realpath(p) for p in opened]
        assert not [p for p in touched if p.startswith(str(outside)) or p == "/etc/passwd"]
        stored = json.dumps(
            [
                [e.document, e.embed_text, e.metadata]
                for plan in plans.values()
                for e in plan.entries
            ]
        )
        assert MARKER not in stored
        for plan in plans.values():
            for entry in plan.entries:
                for value in (entry.document, entry.embed_text, *map(str, entry.metadata.values())):
                    value.encode("utf-8")  # nothing Chroma or the embedder would choke on
        for item in report.skipped:
            assert "\n" not in item.reason and item.path.encode("utf-8")
        assert peak < 64 * 2**20


@settings(max_examples=25, deadline=None)
@given(st.lists(NODE, max_size=10))
def test_candidates_stay_inside_the_roots(nodes: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root, _ = _build(base, nodes)
        for item in iter_candidates([root]):
            if isinstance(item, Candidate):
                assert str(item.path).startswith(str(root) + os.sep)
            else:
                assert isinstance(item, Skipped) and item.reason


# --- the real index, sparingly -----------------------------------------------------------


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[Any]:
    from adaptive_llm_local.config import Settings
    from adaptive_llm_local.retrieval import Index

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADAPTIVE_LLM_HOME", str(home))
        mp.setenv("ADAPTIVE_LLM_MODEL", str(model_path))
        for name in (
            "ADAPTIVE_LLM_INDEX_DIR",
            "ADAPTIVE_LLM_CHROMA_URL",
            "ADAPTIVE_LLM_EMBED_MODEL",
        ):
            mp.delenv(name, raising=False)
        index = Index(Settings.from_env(), keep_open=True)
        yield index
        index.close()


SMALL_NODE = st.tuples(
    NODE.map(lambda node: node[0]),
    NAMES,
    st.one_of(
        st.binary(max_size=120),
        st.lists(st.one_of(CONTROL, LOG_PIECES), max_size=5).map(lambda p: "".join(p).encode()),
    ),
)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(SMALL_NODE, max_size=6))
def test_random_trees_through_the_real_index(shared_index: Any, nodes: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root, _ = _build(base, nodes)
        report = shared_index.add_paths([root])
        assert report.files >= report.failures + report.documents
    with shared_index.session():
        rows = [
            r
            for kind in ("docs", "failures")
            if (table := shared_index._table(kind, create=False)) is not None
            for page in table.iter_all()
            for r in page
        ]
    assert all(MARKER not in r.document for r in rows)
    assert all(REDACTED in r.document or "hunter2" not in r.document for r in rows)


# --- inputs built to make patterns backtrack ------------------------------------------------

N = 50_000
PATHOLOGICAL = {
    "minus": "-" * N + "1",
    "attributes": "a" + ".b" * N,
    "scheme": "a" * N + "://x",
    "heading": "# " + " #" * N + "x",
    "dashes": "--" * N,
    "local part": "a." * N + "@",
    "domain": "@" + "a." * N,
    "jwt": "eyJ" * N,
    "assignments": "password=" * N,
    "mysql": "mysql " * N,
    "curl": "curl -u " * N,
    "userinfo": "http://a:" * N,
    "netrc": "login x " * N + "password",
    "key block": "-----BEGIN PRIVATE KEY-----" * (N // 10),
    "name": "a_" * N + "password=x",
    "base64 lines": ("A1b" * 22 + "\n") * (N // 10),
    "netrc lines": "machine x\npassword\n" * (N // 10),
    "putty": "Private-Lines: 9999\n" * (N // 10),
    "cookie": "cookie: a=" * N,
    "userinfo with slash": "http://a:b/" * N,
    "client options": "smbclient -U a%ldapsearch -w" * (N // 10),
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_text_is_redacted_and_chunked_in_bounded_time(name: str) -> None:
    text = PATHOLOGICAL[name]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for suffix in (".md", ".rst", ".py", ".txt"):
                with contextlib.suppress(ValueError):
                    chunk_document(text, suffix, clean=redact)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(60)  # linear work takes well under a second; quadratic backtracking hours
    assert not thread.is_alive(), f"{name}: redaction or chunking did not finish"
    assert not errors, errors
