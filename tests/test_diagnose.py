"""Diagnosis: reconciliation and prompt budget with scripted models; the real model end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from adaptive_llm_local.diagnose import (
    Diagnoser,
    Diagnosis,
    Source,
    agrees,
    fit_prompt,
    parse_answer,
    reconcile,
)
from adaptive_llm_local.testing import ScriptedModel, good_answer
from adaptive_llm_local.triage import triage_file, triage_text

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())

TIME_LIMIT_LOG = (
    "step 10 of 5000\nstep 11 of 5000\n"
    "slurmstepd: error: *** JOB 4711 ON node07 CANCELLED AT 2026-11-25T10:00:00 DUE TO TIME LIMIT ***\n"
)
KEYERROR_LOG = (
    "loading config\nTraceback (most recent call last):\n"
    '  File "/home/alice/run.py", line 9, in main\n    rate = cfg["learning_rate"]\n'
    "KeyError: 'learning_rate'\n"
)


def one_fixture_per_category() -> list[str]:
    chosen: dict[str, str] = {}
    for name, meta in sorted(EXPECTED.items()):
        if meta["category"] not in chosen and not meta.get("produced", "").startswith(
            "hand-written"
        ):
            chosen[meta["category"]] = name
    return sorted(chosen.values())


# --- pure logic ---------------------------------------------------------------------------


def test_the_rule_wins_when_the_model_blames_something_else() -> None:
    result = triage_text(TIME_LIMIT_LOG)
    answer = good_answer(
        "The job ran out of memory because the arrays were too large for the node.",
        "Request more memory with --mem and resubmit the job.",
    )
    verdict = reconcile(result, answer)
    assert result.category == "time_limit"
    assert verdict.explained_by == "rule"
    assert "time limit" in verdict.root_cause.lower() and "--time" in verdict.suggested_fix
    assert any("out_of_memory" in n and "rule wins" in n for n in verdict.notes)


def test_an_agreeing_model_answer_is_added_after_the_rule_with_its_grounds() -> None:
    result = triage_text(TIME_LIMIT_LOG)
    cause = "SLURM stopped the job when it reached its wall time limit at step 11."
    fix = "Ask for a longer --time or split the 5000 steps over several jobs."
    verdict = reconcile(result, good_answer(cause, fix, evidence=[3], confidence=0.85))
    assert verdict.explained_by == "model+rule"
    for part, text in ((verdict.cause, cause), (verdict.fix, fix)):
        *rules, model = part
        assert rules and {s.origin for s in rules} <= {"rule", "fact"}  # the rules come first
        assert model.origin == "model" and model.text == text
    assert verdict.cause[-1].grounds.lines == (2,)  # "step 11" is on line 2
    assert verdict.fix[-1].grounds.guide == "time_limit"  # `--time` comes from the guide
    assert verdict.root_cause.endswith("at step 11.")
    assert [e.line for e in verdict.evidence] == [3]
    # the confidence comes from the evidence, not from the model's own number
    unsure = reconcile(result, good_answer(cause, fix, evidence=[3], confidence=0.05))
    assert unsure.confidence == verdict.confidence != 0.85


def test_hallucinated_evidence_lines_are_dropped() -> None:
    result = triage_text(KEYERROR_LOG)
    answer = good_answer(
        "The configuration has no 'learning_rate' entry, so the lookup raised KeyError.",
        "Add learning_rate to the configuration file and resubmit.",
        evidence=[5, 99, -3, 2],
    )
    verdict = reconcile(result, answer)
    lines = {e.line for e in verdict.evidence}
    assert 99 not in lines and -3 not in lines
    assert {5, 2} <= lines
    assert any("dropped 2" in n for n in verdict.notes)


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {
            "root_cause": "The log analysis says: time limit",
            "suggested_fix": "Log excerpt",
            "evidence": [],
            "confidence": 1,
        },
        {"root_cause": "x", "suggested_fix": "", "evidence": [], "confidence": 1},
    ],
)
def test_unusable_answers_fall_back_to_the_rule(answer: dict | None) -> None:
    verdict = reconcile(triage_text(TIME_LIMIT_LOG), answer)
    assert verdict.explained_by == "rule" and "time limit" in verdict.root_cause.lower()
    assert verdict.suggested_fix and 0 < verdict.confidence <= 1 and verdict.notes


def test_agreement_by_exception_or_module_name() -> None:
    result = triage_text(
        "Traceback (most recent call last):\nModuleNotFoundError: No module named 'numpyx'\n"
    )
    assert agrees(result, "numpyx is not available where the job runs")
    assert not agrees(result, "The node was rebooted by the administrators during the night")


def test_parse_answer_tolerates_wrapping_and_rejects_garbage() -> None:
    assert parse_answer('noise {"root_cause": "a"} tail') == {"root_cause": "a"}
    assert parse_answer('{"root_cause": "cut by max_tok') is None
    assert parse_answer("[1, 2]") is None


def test_prompt_fits_the_budget_by_construction() -> None:
    noisy = "".join(f"INFO step {i} " + "x" * 250 + "\n" for i in range(3000)) + KEYERROR_LOG
    result = triage_text(noisy)
    sources = [Source("failure", f"job {i}", "1-40", 0.9, "y" * 2000) for i in range(5)]
    count = ScriptedModel().count_tokens
    for budget in (400, 900, 2000):
        messages, _, tokens = fit_prompt(result, sources, count_tokens=count, budget=budget)
        assert tokens <= budget
        assert "KeyError: 'learning_rate'" in messages[-1]["content"]
    big_messages, big_kept, _ = fit_prompt(result, sources, count_tokens=count, budget=100_000)
    assert len(big_kept) == 5 and len(big_messages[-1]["content"]) > len(messages[-1]["content"])


def test_a_context_window_too_small_for_any_prompt_is_a_clear_error() -> None:
    from adaptive_llm_local.errors import AssistantError

    model = ScriptedModel(n_ctx=400)
    with pytest.raises(AssistantError, match="ADAPTIVE_LLM_N_CTX"):
        Diagnoser(model, max_tokens=320).diagnose(triage_text(KEYERROR_LOG))
    assert model.calls == []


def test_secrets_in_the_log_never_reach_the_model() -> None:
    log = (
        "export HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123456\n"
        "password=hunter2secret\ncontact alice@example.org\n" + KEYERROR_LOG
    )
    model = ScriptedModel(
        [
            good_answer(
                "The lookup of learning_rate raised KeyError in run.py.",
                "Add the key to the config and resubmit.",
            )
        ]
    )
    Diagnoser(model).diagnose(triage_text(log))
    sent = json.dumps(model.calls)
    for secret in ("hf_abcdefghijklmnopqrstuvwxyz123456", "hunter2secret", "alice@example.org"):
        assert secret not in sent


def test_a_clean_log_needs_no_model_call() -> None:
    model = ScriptedModel([RuntimeError("must not be called")])
    diagnosis = Diagnoser(model).diagnose(triage_text("all good\nfinished 20 points\n"))
    assert diagnosis.category == "none" and diagnosis.explained_by == "none"
    assert model.calls == []


class OneSource:
    """A retriever that always cites the same past failure (with an ``extra`` field)."""

    def context_for(self, result: object, *, k: int = 3) -> list[Source]:
        return [
            Source(
                "failure",
                "job 41",
                "3-5",
                0.91,
                "KeyError: 'learning_rate'",
                "python_exception",
                "0123456789abcdef",
                extra={"occurrences": 2},
            ),
        ]


def test_diagnosis_json_round_trip_keeps_every_field() -> None:
    model = ScriptedModel(
        [
            good_answer(
                "The lookup of learning_rate raised KeyError in run.py.",
                "Add the key to the config and resubmit.",
                [5],
            )
        ]
    )
    made = Diagnoser(model, OneSource()).diagnose(triage_text(KEYERROR_LOG))
    diagnosis = replace(made, job_id="4711", job_name="sweep-3", created_at=1_700_000_000.25)
    assert diagnosis.sources and diagnosis.evidence and diagnosis.seconds > 0
    data = json.loads(json.dumps(diagnosis.to_json()))
    for key in (
        "category",
        "key_line",
        "exception",
        "signature",
        "evidence",
        "root_cause",
        "suggested_fix",
        "confidence",
        "model",
        "sources",
    ):
        assert key in data
    restored = Diagnosis.from_json(data)
    # a source's ``extra`` (search bookkeeping) is not part of the stored shape
    expected = replace(diagnosis, sources=[replace(s, extra={}) for s in diagnosis.sources])
    assert restored == expected


# --- the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_diagnoser(model_path: Path) -> Diagnoser:
    from adaptive_llm_local.config import Settings
    from adaptive_llm_local.models import ModelFile
    from adaptive_llm_local.runtime import LocalModel

    return Diagnoser(LocalModel(ModelFile(model_path), n_ctx=4096, settings=Settings.from_env()))


@pytest.mark.parametrize("name", one_fixture_per_category())
def test_real_model_diagnoses_real_logs(real_diagnoser: Diagnoser, name: str) -> None:
    expected = EXPECTED[name]
    path = FIXTURES / name
    diagnosis = real_diagnoser.diagnose(triage_file(path))
    assert diagnosis.category == expected["category"]
    assert diagnosis.root_cause.strip() and diagnosis.suggested_fix.strip()
    assert 0.0 <= diagnosis.confidence <= 1.0
    text = path.read_text(errors="replace")
    for evidence in diagnosis.evidence:
        assert evidence.line > 0 and evidence.text.strip()
    if diagnosis.key_line:
        assert diagnosis.key_line in text or expected["category"] in {"none"}
    if expected["category"] == "none":
        assert diagnosis.model is None
    else:
        assert diagnosis.model == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert diagnosis.explained_by in {"model", "rule", "model+rule"}


def test_real_model_streams_tokens_while_diagnosing(real_diagnoser: Diagnoser) -> None:
    pieces: list[str] = []
    diagnosis = real_diagnoser.diagnose(triage_text(KEYERROR_LOG), on_token=pieces.append)
    assert len(pieces) > 5
    streamed = parse_answer("".join(pieces))
    assert streamed is not None and set(streamed) >= {"root_cause", "suggested_fix"}
    assert diagnosis.category == "python_exception"


def _cli(
    *args: str, env: dict[str, str] | None = None, wrap: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*(wrap or []), sys.executable, "-m", "adaptive_llm_local.cli", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=300,
        check=False,
    )


def test_cli_diagnose_json_inside_a_loopback_only_network_namespace(home: Path) -> None:
    """The whole diagnosis path works with no network at all (not even a route out)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    probe = subprocess.run([unshare or "false", "-rn", "true"], capture_output=True, check=False)
    if not (unshare and ip) or probe.returncode != 0:
        pytest.skip("unshare -rn is not available on this machine")
    log = FIXTURES / "missing_module" / "numpyx.log"
    wrap = [unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]
    done = _cli("diagnose", str(log), "--json", wrap=wrap)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["category"] == "missing_module" and data["root_cause"]
    assert "numpyx" in data["key_line"]
    # every sentence says where it comes from; the strings are the sentences joined
    assert data["root_cause"] == " ".join(s["text"] for s in data["cause"])
    assert data["suggested_fix"] == " ".join(s["text"] for s in data["fix"])
    assert {s["origin"] for s in data["cause"] + data["fix"]} <= {"rule", "fact", "model"}
    assert isinstance(data["checks"], list) and "model_sentences" in data["grounding"]


def test_cli_missing_model_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ADAPTIVE_LLM_MODEL": str(tmp_path / "gone.gguf")}
    done = _cli("diagnose", str(FIXTURES / "missing_module" / "numpyx.log"), "--json", env=env)
    assert done.returncode == 2
    assert "gone.gguf" in done.stderr and "make models" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_corrupt_model_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    env = {**os.environ, "ADAPTIVE_LLM_MODEL": str(bad)}
    done = _cli("diagnose", str(FIXTURES / "missing_module" / "numpyx.log"), env=env)
    assert done.returncode == 2
    assert "bad.gguf" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_cli_bad_log_paths(home: Path, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nope.log" if kind == "missing" else tmp_path
    done = _cli("triage", str(target), "--json")
    assert done.returncode == 2
    assert str(target) in done.stderr and "Traceback" not in done.stderr


def test_cli_streams_a_readable_diagnosis(home: Path) -> None:
    done = _cli("diagnose", str(FIXTURES / "missing_module" / "numpyx.log"), "--no-index")
    assert done.returncode == 0, done.stderr
    assert "missing_module" in done.stdout and "Root cause" in done.stdout and "Fix" in done.stdout


def test_a_fix_that_repeats_the_cause_is_dropped() -> None:
    result = triage_text(KEYERROR_LOG)
    same = "The lookup of learning_rate in /home/alice/run.py raised KeyError."
    verdict = reconcile(result, good_answer(same, same))
    assert verdict.root_cause.endswith(same) and same not in verdict.suggested_fix
    assert [s.origin for s in verdict.fix] == ["rule"]
    assert verdict.explained_by == "model+rule"
    assert any("fix sentence" in n and "repeats" in n for n in verdict.notes)
