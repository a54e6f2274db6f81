"""Every failure category has its knowledge in each of the five places that hold it.

``triage.CATEGORIES`` is the one list (the public contract of DESIGN.md); the others are
checked against it: the triage rules (``triage/rules.py``), the guide entry
(``knowledge.GUIDE``), the troubleshooting section (``data/troubleshooting.md``), the
explainer (``diagnose/explainers``) and the fixture logs (``tests/fixtures/logs/<category>``).
A category missing from one place fails here by name; a category without an explainer
already fails when ``diagnose`` is imported, and is never explained as ``unknown``.
Pure and fast: ``make lint`` runs it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from adaptive_llm_local.diagnose.explain import explain
from adaptive_llm_local.diagnose.explainers import BY_CATEGORY, registry
from adaptive_llm_local.diagnose.grounding import guide_section
from adaptive_llm_local.knowledge import GUIDE
from adaptive_llm_local.retrieval.builtin import guide_text
from adaptive_llm_local.triage import CATEGORIES, RULES, triage_file, triage_text
from adaptive_llm_local.triage.facts import Facts

CONTRACT = (
    "missing_module",
    "python_exception",
    "out_of_memory",
    "time_limit",
    "cancelled",
    "segfault",
    "file_error",
    "syntax_error",
    "gpu_error",
    "mpi_error",
    "node_failure",
    "unknown",
    "none",
)
"""The failure categories of DESIGN.md's public contract, exact strings."""

NEEDS_NO_RULE = {
    "none": "triage answers `none` when no rule matches: it is the absence of every rule",
}
NEEDS_NO_SECTION = {
    "none": "the log shows no failure, so there is nothing to troubleshoot; the guide "
    "entry (`knowledge.GUIDE['none']`) says to check the scheduler's accounting",
}
"""Categories that need no rule or no troubleshooting section, and why (all others do)."""

LOGS = Path(__file__).parent / "fixtures" / "logs"
EXPECTED: dict[str, dict[str, str | None]] = json.loads((LOGS / "expected.json").read_text())
_SECTION = re.compile(r"^## .*\(`(\w+)`\)\s*$", re.M)


def test_triage_lists_exactly_the_categories_of_the_public_contract() -> None:
    assert CATEGORIES == CONTRACT
    assert set(NEEDS_NO_RULE) <= set(CATEGORIES) and set(NEEDS_NO_SECTION) <= set(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_has_its_rules(category: str) -> None:
    rules = [rule.name for rule in RULES if rule.category == category]
    if category in NEEDS_NO_RULE:
        assert rules == [], f"{category} is documented as needing no rule, yet has {rules}"
    else:
        assert rules, f"no triage rule gives {category}"


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_has_a_guide_entry(category: str) -> None:
    guide = GUIDE[category]
    assert guide.title and guide.cause and guide.fix


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_has_its_troubleshooting_section(category: str) -> None:
    section = guide_section(guide_text(), category)
    if category in NEEDS_NO_SECTION:
        assert section == "", f"{category} is documented as needing no section, yet has one"
    else:
        assert "**Fix.**" in section, f"data/troubleshooting.md has no section on {category}"


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_has_its_own_explainer(category: str) -> None:
    explainer = BY_CATEGORY[category]
    assert explainer.__name__ == category
    assert category == "unknown" or explainer is not BY_CATEGORY["unknown"]


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_has_fixture_logs_that_triage_to_it(category: str) -> None:
    logs = sorted(p for p in (LOGS / category).iterdir() if p.is_file())
    assert logs, f"tests/fixtures/logs/{category}/ holds no log"
    for log in logs:
        name = f"{category}/{log.name}"
        assert EXPECTED[name]["category"] == category, name
        result = triage_file(log)
        assert result.category == category, name


def test_no_place_knows_a_category_triage_does_not_have() -> None:
    known = set(CATEGORIES)
    assert set(GUIDE) == known
    assert set(BY_CATEGORY) == known
    assert {rule.category for rule in RULES} == known - set(NEEDS_NO_RULE)
    assert set(_SECTION.findall(guide_text())) == known - set(NEEDS_NO_SECTION)
    folders = {p.name for p in LOGS.iterdir() if p.is_dir()}
    assert folders == known
    assert {name.split("/")[0] for name in EXPECTED} == known


def test_a_category_without_an_explainer_fails_at_registration() -> None:
    without = {c: f for c, f in BY_CATEGORY.items() if c != "time_limit"}
    with pytest.raises(ValueError, match="'time_limit' has no explainer"):
        registry(without)
    with pytest.raises(ValueError, match="'out_of_memory' has no guide entry"):
        registry(BY_CATEGORY, {c: g for c, g in GUIDE.items() if c != "out_of_memory"})
    with pytest.raises(ValueError, match="'oom' is not a triage category"):
        registry({**BY_CATEGORY, "oom": BY_CATEGORY["out_of_memory"]})
    assert registry(BY_CATEGORY) == BY_CATEGORY


def test_a_category_triage_does_not_have_is_never_explained_as_unknown() -> None:
    result = triage_text("Traceback (most recent call last):\nKeyError: 'x'\n")
    result.category = "made_up"
    with pytest.raises(ValueError, match="no explainer for category 'made_up'"):
        explain(result, Facts())
