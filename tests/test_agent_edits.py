"""Edits, diffs, hunks and the deterministic fixes /fix proposes (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_llm_local.agent import ToolError
from adaptive_llm_local.agent.edits import as_replacement, check_compiles, propose, replace_once
from adaptive_llm_local.agent.fixes import (
    fix_indentation,
    format_slurm_time,
    parse_slurm_time,
    raise_limits,
)
from adaptive_llm_local.triage import triage_file
from adaptive_llm_local.triage.facts import Fact, Facts, extract_facts

LOGS = Path(__file__).parent / "fixtures" / "logs" / "syntax_error"
TEN = "".join(f"v{i} = {i}\n" for i in range(20))


def test_replace_once_needs_exactly_one_match() -> None:
    assert replace_once("a.py", "x = 1\ny = 2\n", "y = 2", "y = 3") == "x = 1\ny = 3\n"
    with pytest.raises(ToolError, match="not found"):
        replace_once("a.py", "x = 1\n", "x  = 1", "x = 2")
    with pytest.raises(ToolError, match="occurs 2 times"):
        replace_once("a.py", "x = 1\nx = 1\n", "x = 1", "x = 2")
    with pytest.raises(ToolError, match="does not exist"):
        replace_once("a.py", None, "x", "y")
    with pytest.raises(ToolError, match="exists"):
        replace_once("a.py", "x\n", "", "y")
    assert replace_once("new.py", None, "", "print(1)\n") == "print(1)\n"


def test_python_must_still_compile() -> None:
    check_compiles("a.py", "def f():\n    return 1\n")
    check_compiles("a.txt", "def f(:\n")  # only Python files are compiled
    with pytest.raises(ToolError, match=r"would not compile after this edit: .* \(line 1\)"):
        check_compiles("a.py", "def f(:\n")


def test_a_diff_splits_into_hunks_that_apply_one_by_one() -> None:
    after = TEN.replace("v1 = 1", "v1 = 100").replace("v18 = 18", "v18 = 180")
    proposal = propose("v.py", TEN, after)
    assert len(proposal.hunks) == 2
    assert proposal.diff.startswith("--- a/v.py\n+++ b/v.py\n@@ -1,5 +1,5 @@\n")
    assert "-v1 = 1\n+v1 = 100\n" in proposal.hunks[0].text
    assert "-v18 = 18\n+v18 = 180\n" in proposal.hunks[1].text
    assert proposal.select([1, 2]) == after
    assert proposal.select([]) == TEN
    only_second = proposal.select([2])
    assert "v1 = 1\n" in only_second and "v18 = 180\n" in only_second
    with pytest.raises(ToolError, match="no hunk 3"):
        proposal.select([3])


def test_diff_marks_a_missing_final_newline_and_new_files() -> None:
    assert "\\ No newline at end of file" in propose("a.py", "x = 1", "x = 2").diff
    assert propose("n.py", None, "x = 1\n").diff.startswith("--- /dev/null\n+++ b/n.py\n")
    with pytest.raises(ToolError, match="changes nothing"):
        propose("a.py", "x\n", "x\n")


@pytest.mark.parametrize(
    "after",
    [
        TEN.replace("v3 = 3", "v3 = 33"),
        TEN + "tail = 1\n",
        "head = 0\n" + TEN,
        TEN.replace("v5 = 5\n", ""),
        "x = 1\n",
    ],
)
def test_as_replacement_is_a_unique_search_and_replace(after: str) -> None:
    old, new = as_replacement(TEN, after)
    assert TEN.count(old) == 1
    assert replace_once("v.py", TEN, old, new) == after


def test_fix_indentation_on_the_fixture_logs(tmp_path: Path) -> None:
    tab = "def f(x):\n    if x:\n        y = 1\n\treturn 1\n"
    fixed = fix_indentation("tabs.py", tab, 4)
    assert fixed == "def f(x):\n    if x:\n        y = 1\n    return 1\n"
    loop = "total = 0\nfor i in range(3):\ntotal += i\n"
    assert fix_indentation("loop.py", loop, 3) == "total = 0\nfor i in range(3):\n    total += i\n"
    plot = "x = 1\ny = 3\nz = 2\n    w = 2\n"
    assert fix_indentation("plot.py", plot, 4) == "x = 1\ny = 3\nz = 2\nw = 2\n"
    assert fix_indentation("ok.py", "def f(:\n    pass\n", 1) is None  # not an indentation problem
    assert fix_indentation("ok.py", "x = 1\n", 7) is None


def test_the_user_frames_a_fix_starts_from_are_triages_facts() -> None:
    """/fix and the chat's seed take the failing line from triage's facts (the user's
    frame, then its caller), not from a parser of their own."""
    frames = extract_facts(triage_file(LOGS / "imported_module.log")).user_frames()
    assert frames == (
        ("/tmp/adaptive-llm-fixtures/run-49213/helpers.py", 2),
        ("/tmp/adaptive-llm-fixtures/run-49213/main.py", 2),
    )
    assert extract_facts(triage_file(LOGS / "tab_error.log")).user_frames() == (
        ("/tmp/adaptive-llm-fixtures/run-76292/tabs.py", 3),
    )
    no_file = Facts((Fact("frame_file", "<string>", 4), Fact("frame_line", "1", 4)))
    assert no_file.user_frames() == ()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90", 5400),
        ("10:30", 630),
        ("01:00:00", 3600),
        ("2-00", 172800),
        ("1-12:30", 131400),
        ("1-00:00:05", 86405),
        ("UNLIMITED", None),
        ("abc", None),
    ],
)
def test_slurm_time_formats(value: str, seconds: int | None) -> None:
    assert parse_slurm_time(value) == seconds


def test_raise_limits_doubles_time_and_memory() -> None:
    script = "#!/bin/bash\n#SBATCH --job-name=fit\n#SBATCH --time=00:45:00\n#SBATCH --mem=1500M\npython fit.py\n"
    raised, what = raise_limits(script, "time_limit")
    assert "#SBATCH --time=01:30:00\n" in raised and what == "--time 00:45:00 -> 01:30:00"
    raised, what = raise_limits(script, "out_of_memory")
    assert "#SBATCH --mem=3000M\n" in raised and what == "--mem 1500M -> 3000M"
    assert raise_limits("#SBATCH -t 23:00:00\n", "time_limit")[0] == "#SBATCH -t 1-22:00:00\n"
    assert (
        raise_limits("#SBATCH --mem-per-cpu 2G\n", "out_of_memory")[0]
        == "#SBATCH --mem-per-cpu 4G\n"
    )
    assert raise_limits("#SBATCH --time=UNLIMITED\n", "time_limit") is None
    assert raise_limits("#SBATCH --mem=0\n", "out_of_memory") is None
    assert raise_limits(script, "segfault") is None
    assert format_slurm_time(3 * 86400 + 61) == "3-00:01:01"
