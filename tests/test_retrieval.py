"""Retrieval: chunking, ranking, ingestion and search, against a local index and a real Chroma server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from retrieval_fixtures import *  # noqa: F403

from adaptive_llm_local.config import Settings
from adaptive_llm_local.diagnose import Diagnoser, Source
from adaptive_llm_local.retrieval import Index, open_retriever
from adaptive_llm_local.retrieval.chunking import (
    Chunk,
    chunk_markdown,
    chunk_notebook,
    chunk_python,
    chunk_rst,
    merge_small,
    split_long,
)
from adaptive_llm_local.retrieval.files import looks_binary
from adaptive_llm_local.retrieval.lexical import overlap_scores
from adaptive_llm_local.retrieval.queries import question_categories, triage_query
from adaptive_llm_local.retrieval.ranking import collapse_signature, dense_hits, merge
from adaptive_llm_local.retrieval.records import (
    Occurrence,
    content_id,
    doc_entries,
    failure_embed_text,
    failure_entry,
    is_signature,
)
from adaptive_llm_local.testing import ScriptedModel, good_answer
from adaptive_llm_local.triage import triage_file, triage_text

# --- chunking (pure) ---------------------------------------------------------------------------


def test_markdown_is_cut_at_headings_not_inside_code_fences() -> None:
    text = (
        "# Title\n\n"
        + "intro " * 60
        + "\n\n## Install\n\n```\n# not a heading\npip install x\n```\n\n"
        + "more " * 60
    )
    chunks = chunk_markdown(text)
    assert [c.title for c in chunks] == ["Title", "Title › Install"]
    assert chunks[1].start == 5 and "# not a heading" in chunks[1].text
    assert all(text.splitlines()[c.start - 1].startswith("#") for c in chunks)


def test_rst_sections_follow_adornment_order() -> None:
    body = "words " * 50
    text = f"Guide\n=====\n\n{body}\n\nSection\n-------\n\n{body}\n\nSub\n~~~\n\n{body}\n\nOther\n-----\n\n{body}\n"
    titles = [c.title for c in chunk_rst(text)]
    assert titles == ["Guide", "Guide › Section", "Guide › Section › Sub", "Guide › Other"]


def test_python_is_cut_at_top_level_definitions_with_decorators() -> None:
    body = "    x = 1\n" * 30
    inner = "    " + body.replace("\n", "\n    ").rstrip() + "\n"
    code = f'"""Module doc."""\nimport os\n\n\n@decorator\ndef first():\n{body}\n\nclass Second:\n    """Doc."""\n\n    def method(self):\n{inner}'
    chunks = chunk_python(code)
    titles = [c.title for c in chunks]
    assert titles == ["module; def first", "class Second"]  # the tiny module header is merged
    assert "@decorator\ndef first" in chunks[0].text and chunks[1].start == 39


def test_big_classes_are_split_per_method_and_bad_python_falls_back_to_text() -> None:
    methods = "".join(f"    def m{i}(self):\n" + "        y = 2\n" * 20 + "\n" for i in range(6))
    chunks = chunk_python(f"class Big:\n    '''Doc.'''\n\n{methods}")
    assert any(c.title.startswith("Big.m") for c in chunks)
    assert all(len(c.text) <= 1500 for c in chunks)
    assert chunk_python("def broken(:\n    pass\n")[0].text.startswith("def broken")


def test_notebook_chunks_are_cells_and_outputs_are_ignored() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Setup\n", "Load the modules. " * 20]},
            {
                "cell_type": "code",
                "source": "import numpy\n" * 20,
                "outputs": [{"text": "SECRET OUTPUT"}],
            },
            {"cell_type": "code", "source": ""},
        ]
    }
    chunks = chunk_notebook(json.dumps(nb))
    assert chunks and chunks[0].lines.startswith("cell")
    assert all("SECRET OUTPUT" not in c.text for c in chunks)
    with pytest.raises(ValueError):
        chunk_notebook("{}")


def test_long_sections_split_at_blank_lines_keep_line_numbers() -> None:
    paragraphs = "\n\n".join(f"paragraph {i} " + "word " * 60 for i in range(10))
    pieces = split_long(Chunk(paragraphs, 11, 11 + paragraphs.count("\n"), "T"), max_chars=700)
    assert len(pieces) > 2 and all(len(p.text) <= 700 for p in pieces)
    lines = paragraphs.splitlines()
    for piece in pieces:
        assert lines[piece.start - 11] == piece.text.splitlines()[0]
    merged = merge_small([Chunk("a", 1, 1, "A"), Chunk("b" * 300, 2, 5, "B")])
    assert len(merged) == 1 and merged[0].lines == "1-5"


# --- records, lexical, ranking (pure) ------------------------------------------------------------


def test_ids_are_content_derived_and_failures_embed_a_masked_description() -> None:
    chunks = [Chunk("same text", 1, 1), Chunk("same text", 3, 3)]
    first = doc_entries(chunks, group="g", source="s", name="n", doc_type="text", origin="file")
    again = doc_entries(chunks, group="g", source="s", name="n", doc_type="text", origin="file")
    assert [e.id for e in first] == [e.id for e in again] and first[0].id != first[1].id
    assert content_id("a", 1) != content_id("a", 2)
    a = triage_text(NUMPY_TRACE)
    text = failure_embed_text(
        a.category, a.exception, "error at /scratch/u1/run-17/x.py line 42", []
    )
    assert "missing module" in text and "<PATH>" in text and "42" not in text
    entry = failure_entry(a, Occurrence(job_id="4711", job_key="4711", run="r1"))
    assert entry.metadata["source"] == "job 4711" and entry.metadata["signature"] == a.signature
    assert is_signature(a.signature) and not is_signature("hello")


def test_word_overlap_tells_on_topic_from_off_topic() -> None:
    texts = [
        "Request more memory with --mem; memory limits kill jobs.",
        "Load the CUDA module for GPUs.",
    ]
    (mem_cov, mem_w), (gpu_cov, _) = overlap_scores("how do I request more memory", texts)
    assert mem_cov == 1.0 and gpu_cov == 0.0 and 0 < mem_w < 1
    assert max(c for c, _ in overlap_scores("recipe for chocolate cake", texts)) == 0.0
    assert question_categories("how do I get more memory?") == ["out_of_memory"]
    pasted = triage_query("ModuleNotFoundError: No module named 'numpyx'")
    assert pasted.exception == "ModuleNotFoundError"


class _Row:
    def __init__(self, rid: str, distance: float | None, **meta: object) -> None:
        self.id, self.distance, self.document = rid, distance, f"text {rid}"
        self.metadata = {"kind": "failure", "source": rid, "lines": "1", **meta}


def test_signature_matches_collapse_to_the_most_useful_occurrence() -> None:
    rows = [
        _Row("old", None, signature="s", category="c", time=1, job_id="1"),
        _Row(
            "fixed",
            None,
            signature="s",
            category="c",
            time=2,
            job_id="2",
            root_cause="r",
            suggested_fix="f",
            fix_worked=True,
        ),
        _Row("new", None, signature="s", category="c", time=3, job_id="3"),
    ]
    (hit,) = collapse_signature(rows)
    assert hit.source == "fixed" and hit.score == 1.0
    assert hit.extra["occurrences"] == 3 and hit.extra["job_ids"] == ["3", "2", "1"]
    assert "this fix worked" in hit.text


def test_dense_hits_respect_the_threshold_and_merge_orders_kinds() -> None:
    rows = [
        _Row("near", 0.01, signature="a"),
        _Row("twin", 0.012, signature="a"),
        _Row("far", 0.3, signature="b"),
    ]
    hits = dense_hits(rows, 0.025)
    assert [h.source for h in hits] == ["near"] and hits[0].extra["occurrences_nearby"] == 2
    assert dense_hits(rows, 0.001) == []
    doc = Source("doc", "guide.md", "1-3", 0.6, "t", extra={"id": "d"})
    fails = [
        Source("failure", f"f{i}", "1", 0.99 - i / 100, "t", "c", f"s{i}", {"id": f"f{i}"})
        for i in range(4)
    ]
    assert [s.kind for s in merge([], fails, [doc], 3)] == ["failure", "failure", "doc"]
    assert [s.kind for s in merge([], fails, [doc], 3, first="doc")] == [
        "doc",
        "failure",
        "failure",
    ]
    assert merge([], [], [], 3) == []


def test_binary_detection_tolerates_a_few_nul_bytes() -> None:
    assert looks_binary(bytes(range(256)) * 4)
    assert not looks_binary(b"line\n" * 100 + b"\x00\x00")
    assert not looks_binary("naïve ünïcode ✓\n".encode() * 50)


# --- the index, on both backends ---------------------------------------------------------------


def test_add_search_and_incremental_updates(
    backend: Settings, sample_files: dict[str, Path]
) -> None:
    index = Index(backend)
    report = index.add_paths(sample_files.values())
    assert report.failures == 3 and report.documents == 1 and not report.skipped
    assert report.added == 3 + 3

    again = index.add_paths(sample_files.values())
    assert again.added == 0 and again.removed == 0 and again.unchanged == report.added

    hits = index.search("ModuleNotFoundError: No module named 'numpy'")
    assert hits[0].kind == "failure" and hits[0].extra["match"] == "signature"
    assert hits[0].extra["occurrences"] == 2 and hits[0].category == "missing_module"
    assert hits[0].lines and Path(hits[0].source).name.startswith("numpy-")

    docs = index.search("how do I load the CUDA module for GPU jobs?", kinds=("doc",))
    assert (
        docs and docs[0].source == str(sample_files["guide"].resolve()) and docs[0].lines == "6-10"
    )
    assert index.search("what is a good recipe for chocolate cake?") == []

    guide = sample_files["guide"]
    guide.write_text(guide.read_text().replace("--gres=gpu:1", "--gpus=1"))
    edited = index.add_paths([guide])
    assert edited.added == 1 and edited.removed == 1 and edited.unchanged == 2
    texts = [h.text for h in index.search("load the CUDA module to request GPUs", kinds=("doc",))]
    assert any("--gpus=1" in t for t in texts) and not any("--gres=gpu:1" in t for t in texts)
    assert index.stats()["collections"]["docs"]["count"] == 3
    index.close()


def test_failures_remember_diagnoses_and_come_back_as_seen_before(
    backend: Settings, tmp_path: Path
) -> None:
    index = Index(backend)
    first = triage_text(NUMPY_TRACE)
    job = type(
        "Job", (), {"key": "4711", "job_id": "4711", "job_name": "learner-3", "seen_at": 1.7e9}
    )()
    entry_id = index.record_failure(job, first, None, run="run-a")
    assert entry_id and index.record_failure(job, first, None, run="run-a") == entry_id
    diagnosis = {
        "root_cause": "numpy is not installed in the job env",
        "suggested_fix": "pin numpy",
        "model": "m",
    }
    assert index.record_diagnosis("4711", diagnosis, fix_worked=True) == 1
    assert index.record_fix_outcome("nope", True) == 0

    repeat = triage_text(NUMPY_TRACE.replace("run-1", "run-2"))
    sources = index.context_for(repeat, k=3)
    assert sources[0].kind == "failure" and sources[0].source == "job 4711"
    assert sources[0].extra["match"] == "signature" and sources[0].extra["fix_worked"] is True
    assert "Fix: pin numpy (this fix worked)" in sources[0].text
    assert index.search(first.signature)[0].extra["job_name"] == "learner-3"
    index.close()


NUMPY_TRACE = (
    "python 3.11 in /scratch/run-1\nTraceback (most recent call last):\n"
    '  File "/scratch/run-1/learner.py", line 3, in <module>\n    import numpy as np\n'
    "ModuleNotFoundError: No module named 'numpy'\n"
)


def test_diagnosis_cites_a_repeated_failure_and_ask_cites_only_what_was_retrieved(
    settings: Settings, sample_files: dict[str, Path]
) -> None:
    from adaptive_llm_local.answer import answer_question

    Index(settings).add_paths([sample_files["numpy_a"], sample_files["guide"]])
    retriever = open_retriever(settings)
    assert retriever is not None
    model = ScriptedModel(
        [good_answer("numpy is missing in the job environment", "install numpy there", [5])]
    )
    diagnosis = Diagnoser(model, retriever).diagnose_file(sample_files["numpy_b"])
    seen = [s for s in diagnosis.sources if s.kind == "failure"]
    assert seen and seen[0].signature == diagnosis.signature and "numpy-101.log" in seen[0].source
    assert "Seen before" in model.calls[0][-1]["content"]

    asked = ScriptedModel(["Load the CUDA module first [1]; see also [7]."])
    answer = answer_question("How do I use GPUs with CUDA?", asked, retriever)
    assert answer.sources and answer.cited == [1]
    retrieved = {s.cite() for s in retriever.search("How do I use GPUs with CUDA?", k=3)}
    assert {answer.sources[n - 1].cite() for n in answer.cited} <= retrieved


def test_default_embedding_function_and_telemetry_never_load(
    settings: Settings, sample_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    def forbidden(self: object, input: object) -> None:  # Chroma checks this signature
        raise AssertionError("Chroma's default (downloading) embedding function was used")

    def no_download(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma tried to download its default ONNX model")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", forbidden)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__call__", forbidden)
    monkeypatch.setattr(
        onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "_download_model_if_not_exists", no_download
    )
    index = Index(settings)
    index.add_paths([sample_files["oom"], sample_files["guide"]])
    assert index.search("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=99.batch")
    with index.session():
        assert index._store is not None
        assert index._store._client.get_settings().anonymized_telemetry is False
        collection = index._store._client.get_collection(
            "adaptive-llm-failures", embedding_function=index._ef()
        )
        config = collection.configuration_json
        assert config["embedding_function"]["name"] == "adaptive-llm-local"
        assert config["hnsw"]["space"] == "cosine"
        meta = collection.metadata
        assert meta["embed_model"] == index.embedder.model_id and meta["embed_dim"] == 576
    index.close()


def test_another_embedding_model_needs_a_rebuild(
    settings: Settings, home: Path, sample_files: dict[str, Path]
) -> None:
    from adaptive_llm_local.errors import IndexMismatchError

    Index(settings).add_paths([sample_files["numpy_a"], sample_files["guide"]])
    # a dedicated embedding GGUF appears in models/ (same weights, another file: another model id)
    shutil.copy(os.environ["ADAPTIVE_LLM_MODEL"], home / "models" / "other-embed.gguf")
    changed = Settings.from_env()
    with pytest.raises(
        IndexMismatchError,
        match=r"built with embedding model SmolLM2.*now configured other-embed\.gguf.*index rebuild",
    ):
        open_retriever(changed)
    index = Index(changed)
    assert index.rebuild() == {"failures": 1, "docs": 3}
    index.close()
    retriever = open_retriever(changed)
    assert retriever is not None and retriever.search(
        "ModuleNotFoundError: No module named 'numpy'"
    )
    assert retriever.stats()["collections"]["docs"]["embed_model"].startswith("other-embed.gguf#")


def test_open_retriever_without_an_index_is_none_and_cheap(settings: Settings) -> None:
    from retrieval_fixtures import run_python

    assert open_retriever(settings, create=False) is None
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from adaptive_llm_local.retrieval import open_retriever\n"
        "from adaptive_llm_local.config import Settings\n"
        "assert open_retriever(Settings.from_env(), create=False) is None\n"
        "print(round(time.perf_counter() - t, 3), 'chromadb' in sys.modules, 'llama_cpp' in sys.modules)"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    seconds, chroma, llama = done.stdout.split()
    assert chroma == "False" and llama == "False" and float(seconds) < 2.0


def test_real_fixture_logs_are_triaged_into_failures(settings: Settings) -> None:
    logs = sorted((Path(__file__).parent / "fixtures" / "logs").glob("*/*.log"))
    if not logs:
        pytest.skip("tests/fixtures/logs is not there yet")
    picked = [p for p in logs if p.parent.name in ("time_limit", "segfault")][:4]
    index = Index(settings)
    report = index.add_paths(picked)
    assert report.failures == len(picked)
    hit = index.search(triage_file(picked[0]).key_line or "")[0]
    assert hit.category == picked[0].parent.name
    index.close()


def test_installed_api_docstrings_are_indexed_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adaptive_llm_local.retrieval import builtin

    real = builtin.api_chunks

    def only_slurm_run(module: object) -> list:  # the whole API takes a minute to embed
        return [c for c in real(module) if c[0] == "adaptive_scheduler.slurm_run"]

    monkeypatch.setattr(builtin, "api_chunks", only_slurm_run)
    index = Index(settings)
    report = index.add_builtin_docs(guide=False)
    assert report.added >= 1 and index.add_builtin_docs(guide=False).added == 0
    hits = index.search("how do I call slurm_run with partition and cores?", kinds=("doc",))
    assert hits and hits[0].source == "adaptive_scheduler.slurm_run"
    assert hits[0].extra["origin"] == "api" and "-" in hits[0].lines
    index.close()
