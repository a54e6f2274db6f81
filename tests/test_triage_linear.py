"""Every rule is linear in the line length: 100k-character lines of its own keyword soup.

A soup is a rule's keywords (in three casings) and its catalogue lines, whole and cut
short (a cut line starts a match that then fails late, the case that makes a pattern
with an unbounded gap backtrack), once as written and once without digits. The test
compares ten passes over a 10k-character line with one pass over a 100k-character
line: the same work for a linear pattern, ten times more for a quadratic one. The
bound is generous (4x) and the best of five runs counts, so a busy machine does not
make it fail; no absolute time is asserted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from test_triage_catalogue import CATALOGUE

from adaptive_llm_local.triage import triage_text
from adaptive_llm_local.triage.reader import MAX_LINE_CHARS
from adaptive_llm_local.triage.rules import RULES, Rule, scan_lines

SMALL, BIG = 10_000, 100_000
RATIO = 4.0


def _pieces(rule: Rule) -> list[str]:
    lines = [e.lines[e.key] for e in CATALOGUE if e.rule == rule.name]
    parts: list[str] = []
    for line in lines:
        parts += [line, line[: len(line) * 2 // 3], line[: len(line) // 3]]
    for keyword in rule.keywords:
        parts += [keyword, keyword.upper(), keyword.title()]
    return parts


def _soups(parts: list[str], size: int) -> list[str]:
    soups = []
    for piece in (" ".join(parts) + " ", re.sub(r"\d", "", " ".join(parts)) + " "):
        soups.append((piece * (size // len(piece) + 1))[:size])
    return soups


def _best_of_five(work: Callable[[], object], passes: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(passes):
            work()
        best = min(best, time.perf_counter() - start)
    return best


def _run(rule: Rule, text: str) -> Callable[[], object]:
    if rule.scope == "line":
        return lambda: sum(1 for _ in rule.regex.finditer(text))
    exception_text = "RuntimeError: " + text  # how match_exception sees a root exception
    return lambda: rule.regex.search(exception_text)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_is_linear_in_the_line_length(rule: Rule) -> None:
    parts = _pieces(rule)
    for small, big in zip(_soups(parts, SMALL), _soups(parts, BIG), strict=True):
        assert len(big) == BIG and "\n" not in big
        ten_small = _best_of_five(_run(rule, small), 10)
        one_big = _best_of_five(_run(rule, big), 1)
        assert one_big < RATIO * ten_small + 1e-4, (rule.name, one_big, ten_small)


def test_the_whole_table_is_linear_on_one_soup_of_every_rule() -> None:
    parts = [p for rule in RULES for p in _pieces(rule)]
    for small, big in zip(_soups(parts, SMALL), _soups(parts, BIG), strict=True):
        ten_small = _best_of_five(lambda s=small: scan_lines([s]), 10)
        one_big = _best_of_five(lambda b=big: scan_lines([b]), 1)
        assert one_big < RATIO * ten_small + 1e-3, (one_big, ten_small)


def test_a_log_of_100k_character_lines_triages_on_lines_cut_to_the_reader_s_cap() -> None:
    parts = [p for rule in RULES for p in _pieces(rule)]
    lines = _soups(parts, BIG) * 3
    result = triage_text("\n".join(lines) + "\n")
    assert result.category != "none"
    assert all(len(ev.text) <= MAX_LINE_CHARS + 20 for ev in result.evidence)
