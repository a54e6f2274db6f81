"""The composition root: what the settings say reaches every part it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import AssistantError, IndexUnavailableError
from adaptive_llm_local.testing import ScriptedModel, good_answer
from adaptive_llm_local.triage import triage_text

LOG = "Traceback (most recent call last):\nKeyError: 'learning_rate'\n"


def test_max_tokens_from_the_settings_bounds_diagnoses_and_answers(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            good_answer(
                "The lookup of learning_rate on line 2 raised KeyError.",
                "Add the key to the config and resubmit.",
            ),
            "Use --mem to request more memory.",
        ]
    )
    assistant = Assistant.from_settings(
        Settings(home=tmp_path, max_tokens=77), model=model, index="off"
    )
    assert assistant.diagnose(triage_text(LOG)).explained_by == "model+rule"
    assert assistant.ask("How do I get more memory?").text.startswith("Use --mem")
    assert model.max_tokens == [77, 77]
    assert assistant.diagnoser.max_tokens == 77


def test_without_an_index_nothing_is_opened(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assistant = Assistant.from_settings(settings, model=ScriptedModel(), index="open")
    assert assistant.retriever is None and assistant.diagnoser.retriever is None
    assert not settings.index_path.exists()


def test_a_broken_index_is_reported_and_left_out(home: Path) -> None:
    settings = Settings.from_env()
    settings.chroma_path.mkdir(parents=True)
    (settings.chroma_path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexUnavailableError):
        Assistant.from_settings(settings, model=ScriptedModel())
    errors: list[AssistantError] = []
    assistant = Assistant.from_settings(
        settings, model=ScriptedModel(), on_index_error=errors.append
    )
    assert assistant.retriever is None
    assert len(errors) == 1 and isinstance(errors[0], IndexUnavailableError)


@pytest.mark.parametrize("checks", [True, False])
def test_the_machine_check_settings_reach_the_diagnoser(tmp_path: Path, checks: bool) -> None:
    missing = tmp_path / "inputs" / "grid.csv"
    log = (
        "Traceback (most recent call last):\n"
        f"FileNotFoundError: [Errno 2] No such file or directory: '{missing}'\n"
    )
    settings = Settings(home=tmp_path, checks=checks, check_timeout=2.5)
    assistant = Assistant.from_settings(settings, model=ScriptedModel(), index="off")
    assert assistant.diagnoser.machine_checks is checks
    assert assistant.diagnoser.check_timeout == 2.5
    names = [c.name for c in assistant.diagnose(triage_text(log)).checks]
    assert ("path_exists" in names) is checks


def test_the_tool_format_is_the_declared_one(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    for declared in ("hermes", None):
        model = ScriptedModel(tool_format=declared)
        assert Assistant.from_settings(settings, model=model, index="off").tool_format == declared
