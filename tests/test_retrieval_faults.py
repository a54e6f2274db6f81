"""Retrieval under faults: kill -9 mid-ingest, two processes, read-only folders, bad files, no server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from retrieval_fixtures import *  # noqa: F403
from retrieval_fixtures import REPO, free_port

from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import IndexLockedError, IndexUnavailableError
from adaptive_llm_local.retrieval import Index
from adaptive_llm_local.retrieval import ingest as ingest_module
from adaptive_llm_local.retrieval.connection import COLLECTIONS, REBUILD_SUFFIX
from adaptive_llm_local.retrieval.files import MAX_DOC_BYTES

CHILD_INGEST = textwrap.dedent(
    """
    import sys
    from adaptive_llm_local.config import Settings
    from adaptive_llm_local.retrieval import Index
    from adaptive_llm_local.retrieval.embedder import Embedder

    class Report:
        phase = ""
        def start(self, total, description):
            self.phase = description
        def advance(self, n):
            if self.phase.startswith("embedding"):
                print("WROTE", n, flush=True)
        def note(self, message):
            pass

    settings = Settings.from_env()
    index = Index(settings, embedder=Embedder.from_settings(settings, batch_size=2))
    index.add_paths([sys.argv[1]], progress=Report())
    print("DONE", flush=True)
    """
)

CHILD_HOLD = textwrap.dedent(
    """
    import sys, time
    from adaptive_llm_local.config import Settings
    from adaptive_llm_local.retrieval import Index
    index = Index(Settings.from_env(), keep_open=True).open()
    print("READY", flush=True)
    time.sleep(float(sys.argv[1]))
    index.close()
    print("RELEASED", flush=True)
    """
)


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
    )


def _docs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sections = "\n\n".join(
            f"## Topic {i}.{j}\n\n"
            + f"Paragraph about subject {i} {j}: modules, partitions and quotas. " * 3
            for j in range(2)
        )
        (folder / f"doc{i}.md").write_text(f"# Document {i}\n\n{sections}\n")
    return folder


def _rows(settings: Settings, kind: str = "docs") -> list[str]:
    index = Index(settings, create=False)
    try:
        with index.session():
            table = index._table(kind, create=False)
            return [] if table is None else [r.id for page in table.iter_all() for r in page]
    finally:
        index.close()


@pytest.mark.slow
def test_kill_9_mid_ingest_then_restart_completes_without_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    folder = _docs(tmp_path / "docs", 6)
    expected = sum(len(e) for e in (ingest_module.plan_doc(p) for p in sorted(folder.glob("*.md"))))
    child = _spawn(CHILD_INGEST, str(folder))
    written = 0
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("WROTE"):
            written += int(line.split()[1])
            if written >= 4:  # two batches are committed: kill it in the middle of the third
                os.kill(child.pid, signal.SIGKILL)
                break
        assert not line.startswith("DONE"), "ingestion finished before it could be killed"
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    survived = _rows(settings)
    assert 4 <= len(survived) < expected and len(set(survived)) == len(survived)

    index = Index(settings)
    report = index.add_paths([folder])
    assert report.added == expected - len(survived) and report.unchanged == len(survived)
    final = _rows(settings)
    assert len(final) == expected == len(set(final))
    assert index.add_paths([folder]).added == 0
    hits = index.search("quotas and partitions for subject 3", kinds=("doc",))
    assert hits and all(h.kind == "doc" for h in hits)
    index.close()


def test_a_second_process_is_refused_with_the_owner_named(settings: Settings) -> None:
    Index(settings).add_entries([])  # creates the folder
    Index(settings).open().close()
    owner = _spawn(CHILD_HOLD, "30")
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "READY"
        started = time.monotonic()
        with pytest.raises(
            IndexLockedError, match=rf"locked by process {owner.pid} .*Chroma server"
        ):
            Index(replace(settings, index_lock_timeout=0.5)).open()
        assert time.monotonic() - started < 5
    finally:
        owner.kill()
        owner.wait(timeout=10)
    # the kernel dropped the dead owner's lock
    Index(replace(settings, index_lock_timeout=5)).open().close()


def test_a_second_process_waits_a_bounded_time_for_the_owner(settings: Settings) -> None:
    Index(settings).open().close()
    owner = _spawn(CHILD_HOLD, "1.5")
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "READY"
        started = time.monotonic()
        index = Index(replace(settings, index_lock_timeout=30)).open()
        waited = time.monotonic() - started
        index.close()
        assert 0.5 < waited < 30
        assert owner.wait(timeout=30) == 0
    finally:
        owner.kill()


def test_two_indexes_in_one_process_share_the_lock(settings: Settings) -> None:
    first = Index(settings, keep_open=True).open()
    second = Index(replace(settings, index_lock_timeout=0.2), keep_open=True).open()
    first.close()
    second.close()


@pytest.fixture
def read_only_index(settings: Settings) -> Iterator[Path]:
    """The index folder, made read-only by a read-only bind mount (root) or permissions."""
    Index(settings).open().close()
    folder = settings.index_path
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only bind mount: {done.stderr.decode().strip()}")
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], check=False)
    else:
        for path in (folder, *folder.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)
        try:
            yield folder
        finally:
            for path in (folder, *folder.rglob("*")):
                path.chmod(path.stat().st_mode | 0o200)


def test_read_only_index_folder_gives_a_clear_error(
    settings: Settings, read_only_index: Path
) -> None:
    with pytest.raises(IndexUnavailableError, match=r"not writable.*ADAPTIVE_LLM_INDEX_DIR"):
        Index(settings).open()


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_indexed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = folder / "good.md"
    good.write_text(
        "# Good\n\nThis document is fine and should be indexed without trouble at all.\n"
    )
    (folder / "binary.md").write_bytes(bytes(range(256)) * 64)
    huge = folder / "huge.txt"
    with huge.open("w") as fh:
        line = "a line of a very large text file\n"
        fh.write(line * (MAX_DOC_BYTES // len(line) + 10))
    big_log = folder / "big.log"
    with big_log.open("w") as fh:
        fh.write("progress: step ok\n" * 1_500_000)  # ~27 MB: triage reads it bounded
        fh.write(
            'Traceback (most recent call last):\n  File "x.py", line 1\nZeroDivisionError: division by zero\n'
        )
    unreadable = folder / "secret.md"
    unreadable.write_text("# Secret\n\nnot for you\n")
    vanishing = folder / "vanishing.md"
    vanishing.write_text("# Soon gone\n\nthis file is deleted before it is read\n")
    (folder / "folder.md").mkdir()
    (tmp_path / "notes.xyz").write_text("not a supported type")

    if os.geteuid() == 0:  # root reads anything: make this one path fail the way a 000 file does
        real_open = os.open

        def guarded(path: object, *args: object, **kwargs: object) -> object:
            if os.path.basename(os.fspath(path)) == "secret.md":  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", guarded)
    else:
        unreadable.chmod(0)

    real_plan = ingest_module.plan_doc

    def racing(path: Path, *args: object) -> object:
        if path.name == "vanishing.md":
            path.unlink()
        return real_plan(path, *args)

    monkeypatch.setattr(ingest_module, "plan_doc", racing)

    report = Index(settings).add_paths([folder, tmp_path / "missing.md", tmp_path / "notes.xyz"])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "binary" in reasons["binary.md"]
    assert "too large" in reasons["huge.txt"]
    assert "permission denied" in reasons["secret.md"]
    assert "vanished" in reasons["vanishing.md"]
    assert "does not exist" in reasons["missing.md"]
    assert "unsupported file type .xyz" in reasons["notes.xyz"]
    assert "folder.md" not in reasons  # a folder is walked, not read
    assert report.documents == 1 and report.failures == 1
    assert len(_rows(settings, "docs")) == 1 and len(_rows(settings, "failures")) == 1


def test_an_unreachable_server_gives_a_clear_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(
        IndexUnavailableError, match=r"Cannot reach the Chroma server at http://127\.0\.0\.1:\d+"
    ):
        Index(Settings.from_env()).open()


def test_an_interrupted_rebuild_is_finished_or_discarded_on_open(settings: Settings) -> None:
    from adaptive_llm_local.retrieval.store import LocalEmbeddingFunction, Store

    index = Index(settings)
    index.add_entries([])
    with index.session():
        index._table("docs", create=True)
        index._table("failures", create=True)
    index.close()
    docs, failures = COLLECTIONS["docs"], COLLECTIONS["failures"]
    store = Store.local(settings.chroma_path)
    ef = LocalEmbeddingFunction(None, "x", 576)
    meta = {"embed_model": index.embedder.model_id, "embed_dim": 576}
    store.create(docs + REBUILD_SUFFIX, ef, {**meta, "complete": False})  # crashed while copying
    store.drop(failures)
    store.create(
        failures + REBUILD_SUFFIX, ef, {**meta, "complete": True}
    )  # crashed before the swap
    store.close()

    reopened = Index(settings).open()
    with reopened.session():
        assert reopened._store is not None
        names = set(reopened._store.names())
    reopened.close()
    assert names == {docs, failures}
