"""Every displayed sentence of every fixture diagnosis is grounded, whatever the model writes.

A scripted model answers every fixture log with invented paths, packages, numbers and
commands next to one sentence the log backs. The check here is independent of the
grounding code: every code-like token of a displayed sentence (anything with a digit, a
slash, an underscore or a dot inside) must occur in the log, the guide, a fact or a check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptive_llm_local.bench.grounding import evidence_text, ungrounded_tokens
from adaptive_llm_local.diagnose import Diagnoser, Diagnosis
from adaptive_llm_local.testing import ScriptedModel, good_answer
from adaptive_llm_local.triage import triage_file
from adaptive_llm_local.triage.facts import extract_facts

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
INVENTED = ("/invented/cache/train_Z.npy", "hpcjobs", "2019", "512G", "fit_lasso.py", "rm -rf")


def inventing_model(key_line_number: int | None) -> ScriptedModel:
    where = f"The job stopped at line {key_line_number}." if key_line_number else "It stopped."
    return ScriptedModel(
        [
            good_answer(
                f"The job failed because /invented/cache/train_Z.npy was removed by hpcjobs in "
                f"2019. {where} The helper fit_lasso.py crashed",
                "Run `pip install hpcjobs==2019` and `rm -rf ~/.cache` first. Request 512G "
                "with --mem=512G and rerun fit_lasso.py.",
            )
        ]
    )


@pytest.fixture(scope="module")
def diagnoses() -> list[tuple[Path, Diagnosis, list[str]]]:
    out = []
    for name in sorted(EXPECTED):
        path = FIXTURES / name
        result = triage_file(path)
        model = inventing_model(result.key_line_number)
        diagnosis = Diagnoser(model, check_timeout=2.0).diagnose(result)
        out.append((path, diagnosis, list(extract_facts(result).values())))
    return out


def test_every_displayed_sentence_of_every_fixture_is_grounded(
    diagnoses: list[tuple[Path, Diagnosis, list[str]]],
) -> None:
    problems = []
    for path, diagnosis, facts in diagnoses:
        evidence = evidence_text(path, diagnosis, facts)
        shown = f"{diagnosis.root_cause} {diagnosis.suggested_fix}"
        for invented in INVENTED:
            if invented in shown:
                problems.append(f"{path.name}: shows {invented!r}")
        for sentence in (*diagnosis.cause, *diagnosis.fix):
            assert sentence.origin in ("rule", "fact", "model")
            missing = ungrounded_tokens(sentence.text, evidence)
            if missing:
                problems.append(f"{path.name} [{sentence.origin}]: {missing} in {sentence.text!r}")
    assert not problems, "\n".join(problems)


def test_the_displayed_strings_are_the_sentences_joined(
    diagnoses: list[tuple[Path, Diagnosis, list[str]]],
) -> None:
    for _, diagnosis, _ in diagnoses:
        assert diagnosis.cause and diagnosis.fix
        assert diagnosis.root_cause == " ".join(s.text for s in diagnosis.cause)
        assert diagnosis.suggested_fix == " ".join(s.text for s in diagnosis.fix)
        assert diagnosis.cause[0].origin in ("rule", "fact")  # the rules come first


def test_grounded_model_sentences_survive_and_say_where_they_come_from(
    diagnoses: list[tuple[Path, Diagnosis, list[str]]],
) -> None:
    failures = [(p, d) for p, d, _ in diagnoses if d.category != "none"]
    kept = [(p, s) for p, d in failures for s in d.model_sentences]
    # "The job stopped at line N." is backed by the key line of every failure with one
    assert len(kept) >= 0.8 * sum(d.key_line_number is not None for _, d in failures)
    for _, sentence in kept:
        assert sentence.grounds.lines, sentence
    for _, diagnosis in failures:
        grounding = diagnosis.grounding
        assert grounding["model_sentences"] == 5
        assert grounding["model_kept"] == len(diagnosis.model_sentences)
        assert len(grounding["dropped"]) >= 5 - grounding["model_kept"]
        assert diagnosis.explained_by == ("model+rule" if grounding["model_kept"] else "rule")
        # the confidence comes from the evidence: no model sentence raises it past the checks
        assert 0.05 <= diagnosis.confidence <= 0.95
