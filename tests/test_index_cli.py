"""``adaptive-llm-local index add|search|stats|rebuild`` through the real command line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from retrieval_fixtures import *  # noqa: F403
from retrieval_fixtures import run_python

from adaptive_llm_local.cli import main

HIT_KEYS = {"kind", "source", "lines", "score", "text"}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_add_search_stats_and_the_documented_json_shape(
    home: Path, sample_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(p) for p in sample_files.values()]
    report = _json(capsys, ["index", "add", *paths, "--no-builtin", "--json"])
    assert report["failures"] == 3 and report["documents"] == 1 and report["added"] == 6

    hits = _json(
        capsys, ["index", "search", "ModuleNotFoundError: No module named 'numpy'", "--json"]
    )
    assert isinstance(hits, list) and hits
    for hit in hits:
        expected = HIT_KEYS | ({"category", "signature"} if hit["kind"] == "failure" else set())
        assert set(hit) == expected and hit["kind"] in ("failure", "doc")
    assert hits[0]["kind"] == "failure" and hits[0]["category"] == "missing_module"
    assert hits[0]["score"] == 1.0 and [h["score"] for h in hits[1:]] == sorted(
        (h["score"] for h in hits[1:]), reverse=True
    )

    assert _json(capsys, ["index", "search", "a recipe for chocolate cake", "--json"]) == []
    assert main(["index", "search", "a recipe for chocolate cake"]) == 0
    assert "Nothing relevant" in capsys.readouterr().out

    stats = _json(capsys, ["index", "stats", "--json"])
    assert stats["collections"]["failures"]["by_category"] == {
        "missing_module": 2,
        "out_of_memory": 1,
    }
    assert stats["collections"]["docs"]["count"] == 3

    again = _json(capsys, ["index", "add", *paths, "--no-builtin", "--json"])
    assert again["added"] == 0 and again["unchanged"] == 6


def test_search_without_an_index_says_so(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "search", "anything", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [] and "index add" in captured.err
    assert main(["index", "stats"]) == 0 and "No index" in capsys.readouterr().out


def test_model_change_is_reported_and_fixed_by_rebuild(
    home: Path, sample_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", "add", str(sample_files["oom"]), "--no-builtin", "--json"]) == 0
    capsys.readouterr()
    shutil.copy(os.environ["ADAPTIVE_LLM_MODEL"], home / "models" / "new-embed.gguf")
    assert main(["index", "search", "out of memory", "--json"]) == 2
    assert "index rebuild" in capsys.readouterr().err
    assert main(["index", "stats"]) == 0 and "index rebuild" in capsys.readouterr().out
    assert main(["index", "rebuild", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rebuilt"] == {"failures": 1}
    hits = _json(
        capsys,
        [
            "index",
            "search",
            "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch",
            "--json",
        ],
    )
    assert hits and hits[0]["category"] == "out_of_memory"


def test_add_shows_a_progress_bar_and_a_summary(home: Path, sample_files: dict[str, Path]) -> None:
    done = run_python(
        "import sys\nfrom adaptive_llm_local.cli import main\n"
        f"sys.exit(main(['index', 'add', {str(sample_files['guide'])!r}, {str(sample_files['oom'])!r}, '--no-builtin']))",
        env={"COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    assert "embedding docs" in done.stderr and "3/3" in done.stderr
    assert "2 file(s)" in done.stdout and "4 entries added" in done.stdout
