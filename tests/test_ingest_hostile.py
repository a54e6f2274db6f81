"""``index add`` on hostile folders: links out of the roots, secrets in docs, files that
break parsers, FIFOs and other files that are not regular files (issue 10, items 1, 2, 7, 8).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from retrieval_fixtures import *  # noqa: F403

from adaptive_llm_local.cli import main
from adaptive_llm_local.config import Settings
from adaptive_llm_local.retrieval import Index
from adaptive_llm_local.retrieval.files import Candidate, Skipped, iter_candidates
from adaptive_llm_local.retrieval.ingest import IngestReport, NullProgress, plan_files
from adaptive_llm_local.triage import triage_file

pytestmark = pytest.mark.hostile("index add")

MARKER = "OUTSIDE-THE-ROOTS-7f3a"
FAILING_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/scratch/run/learner.py", line 3, in <module>\n'
    "    import numpy as np\n"
    "ModuleNotFoundError: No module named 'numpy'\n"
)
GOOD_DOC = "# Good\n\nThis guide is fine and explains how to request GPUs on the cluster.\n"


def _rows(settings: Settings, kind: str) -> list[Any]:
    index = Index(settings, create=False)
    try:
        with index.session():
            table = index._table(kind, create=False)
            return [] if table is None else [r for page in table.iter_all() for r in page]
    finally:
        index.close()


def _stored_text(settings: Settings) -> str:
    rows = [*_rows(settings, "docs"), *_rows(settings, "failures")]
    return json.dumps([[r.document, r.metadata] for r in rows], ensure_ascii=False)


def _add(settings: Settings, paths: list[Any]) -> IngestReport:
    index = Index(settings)
    try:
        return index.add_paths(paths)
    finally:
        index.close()


def _reasons(report: IngestReport) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in report.skipped}


def _plan(paths: list[Any], timeout: float = 20) -> IngestReport:
    """Plan (read, triage, chunk) in a thread: a hang fails the test instead of the suite."""
    report = IngestReport()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            plan_files(iter_candidates(paths), triage_file, report, NullProgress())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"planning hung for {timeout} s on {paths}")
    if failure:
        raise failure[0]
    return report


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the roots with a private file and a sub-folder of docs."""
    folder = tmp_path / "outside"
    (folder / "docs").mkdir(parents=True)
    private = folder / "private.txt"
    private.write_text(f"{MARKER} private notes of another user\n")
    private.chmod(0o600)
    (folder / "docs" / "other.md").write_text(f"# Other\n\n{MARKER} in a linked folder.\n")
    (folder / "job.log").write_text(FAILING_LOG + f"{MARKER}\n")
    return folder


# --- item 1: links ------------------------------------------------------------------------


def test_links_out_of_the_roots_are_skipped_with_a_reason(
    settings: Settings, tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "good.md").write_text(GOOD_DOC)
    (root / "sub" / "inner.md").write_text("# Inner\n\nA document inside the root folder.\n")
    (root / "shadow.txt").symlink_to(outside / "private.txt")
    (root / "passwd.md").symlink_to("/etc/passwd")
    (root / "relative.md").symlink_to(Path("..") / "outside" / "private.txt")
    (root / "linked-docs").symlink_to(outside / "docs", target_is_directory=True)
    (root / "job.log").symlink_to(outside / "job.log")
    (root / "alias.md").symlink_to(root / "sub" / "inner.md")  # inside the root: fine
    (root / "up").symlink_to(root, target_is_directory=True)  # a loop inside the root
    direct = tmp_path / "direct.md"
    direct.symlink_to(outside / "private.txt")

    report = _add(settings, [root, direct])

    reasons = _reasons(report)
    for name in ("shadow.txt", "passwd.md", "relative.md", "linked-docs", "job.log", "direct.md"):
        assert name in reasons, (name, reasons)
        assert "link" in reasons[name] and "outside" in reasons[name], reasons[name]
    assert "alias.md" not in reasons and "up" not in reasons
    assert report.documents == 2 and report.failures == 0
    stored = _stored_text(settings)
    assert MARKER not in stored and "root:x:0:0" not in stored
    sources = {r.metadata["source"] for r in _rows(settings, "docs")}
    assert sources == {str(root / "good.md"), str(root / "sub" / "inner.md")}


def test_a_linked_root_folder_is_walked_but_its_links_stay_inside(
    tmp_path: Path, outside: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.md").write_text(GOOD_DOC)
    (real / "escape.md").symlink_to(outside / "private.txt")
    named = tmp_path / "named"
    named.symlink_to(real, target_is_directory=True)
    found = list(iter_candidates([named]))
    assert [c.path.name for c in found if isinstance(c, Candidate)] == ["a.md"]
    assert [Path(s.path).name for s in found if isinstance(s, Skipped)] == ["escape.md"]


def test_index_add_prints_one_line_per_skipped_link(
    home: Path, tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "good.md").write_text(GOOD_DOC)
    (root / "shadow.md").symlink_to(outside / "private.txt")
    (root / "linked").symlink_to(outside / "docs", target_is_directory=True)
    assert main(["index", "add", str(root), "--no-builtin"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if "skipped" in line]
    assert any("shadow.md" in line and "outside" in line for line in lines), lines
    assert any("linked" in line and "outside" in line for line in lines), lines
    summary = " ".join(captured.out.split())
    assert "1 document(s)" in summary and "2 skipped" in summary


# --- item 2: documents are redacted like logs ----------------------------------------------

DOC_SECRETS = {
    "github": "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
    "password": "Tr0ub4dor&3-horse",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "email": "alice.smith@uni-example.edu",
    "pem": "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "notebook": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
}


@pytest.fixture
def secret_docs(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "setup.md").write_text(
        "# Setup\n\n"
        f"Clone with `git clone https://{DOC_SECRETS['github']}@github.com/lab/code`.\n\n"
        f"Questions to {DOC_SECRETS['email']}.\n\n"
        "## Deploy key\n\n"
        "-----BEGIN RSA PRIVATE KEY-----\n"
        f"{DOC_SECRETS['pem']}\n"
        f"{DOC_SECRETS['pem'][::-1]}\n"
        "-----END RSA PRIVATE KEY-----\n\n"
        "## Database\n\n"
        f"Connect with password={DOC_SECRETS['password']} to the lab database.\n"
    )
    (folder / "settings.py").write_text(
        '"""Settings of the lab pipeline."""\n\n'
        f'AWS_SECRET_ACCESS_KEY = "{DOC_SECRETS["aws_secret"]}"\n'
        f'STRIPE_KEY = "{DOC_SECRETS["stripe"]}"\n\n\n'
        "def connect():\n"
        f'    return login(user="bob", password="{DOC_SECRETS["password"]}")\n'
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Analysis\n", "Load the data first.\n"]},
            {
                "cell_type": "code",
                "source": [f'import os\nos.environ["HF_TOKEN"] = "{DOC_SECRETS["notebook"]}"\n'],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "analysis.ipynb").write_text(json.dumps(notebook))
    return folder


def test_documents_are_redacted_before_embedding_and_storing(
    settings: Settings, secret_docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = Index(settings)
    embedded: list[str] = []
    real_embed = index.embedder.embed

    def recording(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return real_embed(texts)

    index.embedder.embed = recording  # type: ignore[method-assign]
    try:
        report = index.add_paths([secret_docs])
    finally:
        index.close()
    assert report.documents == 3 and not report.skipped
    stored = _stored_text(settings)
    seen = stored + "\n".join(embedded)
    for name, secret in DOC_SECRETS.items():
        assert secret not in seen, name
        assert secret[::-1] not in seen, name
    assert "[REDACTED]" in stored and "[EMAIL]" in stored
    # the private key block keeps its lines: citations still point at the right lines
    row = next(r for r in _rows(settings, "docs") if "Connect with" in r.document)
    first = int(str(row.metadata["lines"]).split("-")[0])
    offset = next(i for i, line in enumerate(row.document.split("\n")) if "Connect with" in line)
    assert first + offset == 16, (row.metadata["lines"], row.document)

    assert main(["index", "search", "database password for the lab", "--json"]) == 0
    out = capsys.readouterr().out
    assert all(secret not in out for secret in DOC_SECRETS.values())


# --- item 7: one bad file never aborts ----------------------------------------------------


def _bad_files(folder: Path) -> dict[str, str]:
    """Write files that broke ``index add``; returns name -> what the reason must mention."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "minus.py").write_text("-" * 100000 + "1")
    (folder / "attrs.py").write_text("a" + ".b" * 200000)
    (folder / "deep.ipynb").write_text("[" * 100000 + "]" * 100000)
    (folder / "deepcells.ipynb").write_text('{"cells": ' + "[" * 50000 + "]" * 50000 + "}")
    (folder / "malformed.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": ["code"], "source": [1, None, {"a": 2}]},
                    {"cell_type": "markdown", "source": {"text": "# Title"}},
                    "not a cell",
                    {"cell_type": "markdown", "source": 5},
                ]
            }
        )
    )
    (folder / "loop.md").symlink_to(folder / "loop.md")
    (folder / "ping.md").symlink_to(folder / "pong.md")
    (folder / "pong.md").symlink_to(folder / "ping.md")
    return {
        "minus.py": "minus.py",
        "attrs.py": "attrs.py",
        "deep.ipynb": "deep.ipynb",
        "deepcells.ipynb": "deepcells.ipynb",
        "loop.md": "loop",
        "ping.md": "loop",
        "pong.md": "loop",
    }


def test_one_bad_file_never_aborts_index_add(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bad"
    expected = _bad_files(folder)
    (folder / "sibling.log").write_text(FAILING_LOG)
    (folder / "good.md").write_text(GOOD_DOC)
    odd = os.fsencode(folder) + b"/caf\xe9-\xff\xfe.md"
    with open(odd, "wb") as fh:
        fh.write(b"# Odd name\n\nA document whose file name is not valid UTF-8 at all.\n")
    with open(os.fsencode(folder) + b"/run-\xff.log", "wb") as fh:
        fh.write(FAILING_LOG.replace("numpy", "scipy").encode())

    report = _add(settings, [folder])

    reasons = _reasons(report)
    for name, words in expected.items():
        assert name in reasons, (name, reasons)
        assert words.split()[0] in reasons[name] or words in name, reasons[name]
        assert "\n" not in reasons[name]
    assert report.failures == 2  # sibling.log and the log with the odd name
    sources = {str(r.metadata["source"]) for r in _rows(settings, "docs")}
    assert str(folder / "good.md") in sources
    assert any("caf" in s for s in sources), sources  # indexed under a printable name
    assert main(["index", "search", "document whose file name is odd", "--json"]) == 0
    capsys.readouterr()  # printing the odd name must not crash either
    assert main(["index", "add", str(folder), "--no-builtin"]) == 0
    out = capsys.readouterr()
    assert "skipped" in out.out + out.err


def test_a_malformed_notebook_keeps_its_text_cells(tmp_path: Path) -> None:
    from adaptive_llm_local.retrieval.chunking import chunk_notebook

    chunks = chunk_notebook(
        json.dumps(
            {
                "cells": [
                    {"cell_type": ["code"], "source": [1, None, "print('kept')\n"]},
                    {"cell_type": "markdown", "source": {"text": "# Title"}},
                    {"cell_type": "markdown", "source": "# Real heading\n\nbody text"},
                ]
            }
        )
    )
    text = "\n".join(c.text for c in chunks)
    assert "print('kept')" in text and "body text" in text
    assert all(isinstance(c.title, str) for c in chunks)


# --- item 8: FIFOs, sockets and devices ---------------------------------------------------


@pytest.fixture
def special_files(tmp_path: Path) -> Iterator[dict[str, Path]]:
    folder = tmp_path / "special"
    folder.mkdir()
    (folder / "good.log").write_text(FAILING_LOG)
    fifo_log = folder / "job.log"
    os.mkfifo(fifo_log)
    fifo_doc = folder / "notes.md"
    os.mkfifo(fifo_doc)
    direct = tmp_path / "direct.log"
    os.mkfifo(direct)
    sock_path = folder / "socket.out"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    files = {"folder": folder, "fifo_log": fifo_log, "fifo_doc": fifo_doc, "direct": direct}
    try:
        os.mknod(folder / "zero.err", 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero
        files["device"] = folder / "zero.err"
    except OSError:
        pass  # no CAP_MKNOD here: the FIFOs and the socket still cover the code path
    try:
        yield files
    finally:
        sock.close()
        for fifo in (fifo_log, fifo_doc, direct):
            # release anything still blocked on a FIFO, so a failure does not hang the suite
            with contextlib.suppress(OSError):
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)


def test_fifos_sockets_and_devices_are_never_opened(special_files: dict[str, Path]) -> None:
    report = _plan([special_files["folder"], special_files["direct"]])
    reasons = _reasons(report)
    for name in ("job.log", "notes.md", "direct.log", "socket.out"):
        assert "not a regular file" in reasons[name], reasons
    if "device" in special_files:
        assert "not a regular file" in reasons["zero.err"]
    assert report.failures == 1


def test_index_add_with_a_fifo_finishes(settings: Settings, special_files: dict[str, Path]) -> None:
    done: list[IngestReport] = []
    thread = threading.Thread(
        target=lambda: done.append(
            _add(settings, [special_files["folder"], special_files["direct"]])
        ),
        daemon=True,
    )
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "index add hung on a FIFO"
    assert done and done[0].failures == 1


def test_triage_of_a_fifo_passed_directly_says_so(special_files: dict[str, Path]) -> None:
    from adaptive_llm_local.errors import LogNotReadableError

    errors: list[LogNotReadableError] = []

    def work() -> None:
        try:
            triage_file(special_files["direct"])
        except LogNotReadableError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and errors
    assert "not a regular file" in str(errors[0])
