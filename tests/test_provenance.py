"""Where each sentence comes from: ``--json``, the store, the terminal and the HTML view."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rich.console import Console

from adaptive_llm_local.cli.render import print_diagnosis
from adaptive_llm_local.diagnose import Diagnosis
from adaptive_llm_local.diagnose.checks import CheckResult
from adaptive_llm_local.diagnose.sentences import Grounds, Sentence
from adaptive_llm_local.manager.html import summary_html
from adaptive_llm_local.manager.jobs import group_by_signature
from adaptive_llm_local.manager.persistence import DiagnosisStore
from adaptive_llm_local.retrieval import Source
from adaptive_llm_local.triage import Evidence

SOURCE = Source("failure", "job 41", "3-5", 0.91, "ModuleNotFoundError: numpyx", "missing_module")
CAUSE = [
    Sentence(
        "The job's Python could not import numpyx.",
        "rule",
        Grounds(lines=(6,), guide="missing_module"),
    ),
    Sentence(
        "numpyx is not findable by /usr/bin/python3.", "fact", Grounds(checks=("module_findable",))
    ),
    Sentence(
        "The import on line 5 of train.py <b>failed</b>.",
        "model",
        Grounds(lines=(4, 5), sources=("job 41:3-5",)),
    ),
]
FIX = [
    Sentence("Install numpyx into the job's environment.", "rule", Grounds(guide="missing_module"))
]
CHECK = CheckResult(
    "module_findable",
    "problem",
    "numpyx is not findable by /usr/bin/python3.",
    {"module": "numpyx"},
)


def grounded_diagnosis() -> Diagnosis:
    return Diagnosis(
        category="missing_module",
        key_line="ModuleNotFoundError: No module named 'numpyx'",
        exception="ModuleNotFoundError",
        signature="0123456789abcdef",
        summary="ModuleNotFoundError: No module named 'numpyx'",
        evidence=[Evidence(6, "ModuleNotFoundError: No module named 'numpyx'")],
        root_cause=" ".join(s.text for s in CAUSE),
        suggested_fix=FIX[0].text,
        confidence=0.85,
        model="SmolLM2-135M-Instruct.Q4_1.gguf",
        sources=[SOURCE],
        key_line_number=6,
        explained_by="model+rule",
        created_at=1_700_000_000.0,
        cause=list(CAUSE),
        fix=list(FIX),
        checks=[CHECK],
        grounding={"model_sentences": 2, "model_kept": 1, "dropped": []},
    )


def test_json_gives_every_sentence_its_origin_and_grounds() -> None:
    data = json.loads(json.dumps(grounded_diagnosis().to_json()))
    assert data["cause"][2] == {
        "text": "The import on line 5 of train.py <b>failed</b>.",
        "origin": "model",
        "grounds": {"lines": [4, 5], "sources": ["job 41:3-5"]},
    }
    assert data["cause"][1]["grounds"] == {"checks": ["module_findable"]}
    assert data["fix"][0]["origin"] == "rule"
    assert data["checks"] == [
        {
            "name": "module_findable",
            "status": "problem",
            "text": "numpyx is not findable by /usr/bin/python3.",
            "detail": {"module": "numpyx"},
        }
    ]
    assert (
        data["root_cause"].startswith("The job's Python") and data["explained_by"] == "model+rule"
    )
    assert Diagnosis.from_json(data) == grounded_diagnosis()


def test_the_store_keeps_sentences_and_still_loads_rows_from_before_them(tmp_path: Path) -> None:
    store = DiagnosisStore(tmp_path / "state.sqlite3")
    store.put_diagnosis(grounded_diagnosis())
    assert store.get_diagnosis("0123456789abcdef") == grounded_diagnosis()

    old = grounded_diagnosis().to_json()
    for key in ("cause", "fix", "checks", "grounding", "facts"):
        del old[key]
    old["signature"] = "fedcba9876543210"
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        db.execute(
            "INSERT INTO diagnoses VALUES (?, ?, ?, ?, ?, ?)",
            ("fedcba9876543210", "missing_module", "s", None, json.dumps(old), 1.0),
        )
    loaded = store.get_diagnosis("fedcba9876543210")
    assert loaded is not None and loaded.cause == [] and loaded.checks == []
    assert loaded.facts is None  # stored before facts were kept: the chat's seed reads the log
    assert loaded.root_cause == grounded_diagnosis().root_cause


def _render(diagnosis: Diagnosis) -> tuple[str, str]:
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    print_diagnosis(console, diagnosis)
    return console.export_text(clear=False), console.export_text(styles=True)


def test_the_terminal_marks_model_sentences_and_shows_their_grounds() -> None:
    plain, styled = _render(grounded_diagnosis())
    assert "The job's Python could not import numpyx.  (line 6 · guide)" in plain
    assert "numpyx is not findable by /usr/bin/python3.  (check module_findable)" in plain
    assert "model The import on line 5 of train.py <b>failed</b>.  (lines 4, 5 · [1])" in plain
    assert "model: the model's words" in plain  # the legend
    assert "checks: module_findable problem" in plain
    assert "\x1b[3mThe import on line 5" in styled  # italics
    assert "\x1b[3mThe job's Python" not in styled


def test_the_terminal_shows_an_old_diagnosis_as_before() -> None:
    old = Diagnosis.from_json(
        {k: v for k, v in grounded_diagnosis().to_json().items() if k not in ("cause", "fix")}
    )
    plain, _ = _render(old)
    assert f"Root cause: {old.root_cause}" in plain and "model: the model's words" not in plain


def test_the_html_view_marks_model_sentences_and_escapes_them() -> None:
    diagnosis = grounded_diagnosis()
    groups = group_by_signature({"4711": diagnosis})
    from collections import Counter

    page = summary_html(
        groups, status="running", categories=Counter(missing_module=1), model_calls=1, n_errors=0
    )
    assert (
        "<i title='written by the model'>The import on line 5 of train.py "
        "&lt;b&gt;failed&lt;/b&gt;.</i> <sup style='opacity:0.6'>lines 4, 5 · [1]</sup>"
    ) in page
    assert (
        "numpyx is not findable by /usr/bin/python3. <sup style='opacity:0.6'>check module_findable</sup>"
        in page
    )
    assert "the model&#x27;s words" in page  # the legend
    assert "<b>failed</b>" not in page


def test_the_live_draft_never_shows_a_destructive_command() -> None:
    from adaptive_llm_local.cli.render import StreamedAnswer

    for partial in ("Run rm -rf", "Run rm -rf ~ now", "Use chmod -R", "Run curl http://x"):
        console = Console(record=True, width=200)
        fields = {"root_cause": "The job failed.", "suggested_fix": partial}
        console.print(StreamedAnswer._render(fields))
        shown = console.export_text()
        assert "The job failed." in shown and partial not in shown and "withheld" in shown


def test_the_html_view_shows_bidi_overrides_and_controls_instead_of_obeying_them() -> None:
    from collections import Counter

    data = {k: v for k, v in grounded_diagnosis().to_json().items() if k not in ("cause", "fix")}
    data["root_cause"] = "Job fil\u202eexe.txt\u202c failed \x1b[31mred\x9b."
    hostile = Diagnosis.from_json(data)
    page = summary_html(
        group_by_signature({"4711": hostile}),
        status="running",
        categories=Counter(missing_module=1),
        model_calls=1,
        n_errors=0,
    )
    assert not any(ch in page for ch in "\u202e\u202c\x1b\x9b")
    assert "fil\\u202eexe.txt\\u202c failed \\x1b[31mred\\x9b." in page
