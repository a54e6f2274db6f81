"""Count the hostile cases the suite tries, by area, and print them at the end.

A test marked ``@pytest.mark.hostile("area")`` counts as one case, or as ``cases=N``
when it tries N attacks itself (a corpus loop, a Hypothesis property's examples). The
summary says, per area, how many cases were tried and how many of them held (the test
passed), so the README's security promises have a number behind each area.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_TRIED: dict[str, list[int]] = defaultdict(lambda: [0, 0])


def cases_of(item: pytest.Item) -> tuple[str, int] | None:
    """The area and number of cases ``item`` tries, or None when it is not marked."""
    mark = item.get_closest_marker("hostile")
    if mark is None:
        return None
    area = str(mark.args[0]) if mark.args else "other"
    return area, int(mark.kwargs.get("cases", 1))


def record(item: pytest.Item, passed: bool) -> None:
    found = cases_of(item)
    if found is None:
        return
    area, cases = found
    _TRIED[area][0] += cases
    if passed:
        _TRIED[area][1] += cases


def summary_lines() -> list[str]:
    """One line per area: cases tried and held; empty when no marked test ran."""
    if not _TRIED:
        return []
    width = max(len(area) for area in _TRIED)
    lines = [
        f"  {area:<{width}}  {held:>5} of {tried:>5} held"
        for area, (tried, held) in sorted(_TRIED.items())
    ]
    total, held = sum(t for t, _ in _TRIED.values()), sum(h for _, h in _TRIED.values())
    return [
        "hostile cases tried, by area:",
        *lines,
        f"  {'all':<{width}}  {held:>5} of {total:>5} held",
    ]
