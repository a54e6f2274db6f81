"""How specific the rule/fact path's fixes are, on the labelled fixture logs.

``tests/fixtures/logs/truth.json`` says for every fixture log what really went wrong and
which concrete things (module, path, key, resource, line of code) a correct fix names
(``must_mention``; an inner list means any one of them) and what it must not say
(``must_not_mention``). A fix is *specific* when it names all of them and none of the
others. The logs are split once, by a hash of their name, into ``tune`` (used to improve
the explanations) and ``holdout`` (never used for that); both are reported separately.

Run ``python -m adaptive_llm_local.bench.trust`` for the numbers and the misses of the
tune split (the holdout's misses are counted, never printed).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CHECKOUT_DIR
from ..diagnose.explain import explain
from ..triage import triage_file
from ..triage.facts import extract_facts

LOGS = CHECKOUT_DIR / "tests" / "fixtures" / "logs"
TRUTH = LOGS / "truth.json"
SPLITS = ("tune", "holdout")
GOAL = 0.9

Mention = str | list[str]


def split_of(name: str) -> str:
    """``holdout`` for about two logs in five, by a hash of the name fixed before tuning."""
    return "holdout" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 < 2 else "tune"


def _normal(text: str) -> str:
    return " ".join(text.replace("`", "").lower().split())


_FILE_LINE = re.compile(r"^(?P<file>[\w.<>/-]+):(?P<line>\d+)$")


def _variants(item: str) -> list[str]:
    """``fit.py:10`` is also named as ``line 10 of fit.py`` or ``fit.py, line 10``."""
    match = _FILE_LINE.match(item)
    if not match:
        return [item]
    file, line = match.group("file"), match.group("line")
    return [item, f"line {line} of {file}", f"{file}, line {line}", f"{file} line {line}"]


def mentions(text: str, item: Mention) -> bool:
    """Whether ``text`` names ``item`` (or one of a list of alternatives)."""
    options = [item] if isinstance(item, str) else item
    normal = _normal(text)
    return any(_normal(v) in normal for option in options for v in _variants(option))


@dataclass
class Verdict:
    """How one diagnosis's fix compares with the label."""

    name: str
    split: str
    category: str
    specific: bool
    missing: list[Mention] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    fix: str = ""


def judge(name: str, label: dict[str, Any], fix: str) -> Verdict:
    missing = [m for m in label.get("must_mention", []) if not mentions(fix, m)]
    forbidden = [m for m in label.get("must_not_mention", []) if mentions(fix, m)]
    return Verdict(
        name,
        label["split"],
        label["category"],
        specific=not missing and not forbidden,
        missing=missing,
        forbidden=forbidden,
        fix=fix,
    )


def load_truth(path: Path = TRUTH) -> dict[str, dict[str, Any]]:
    logs: dict[str, dict[str, Any]] = json.loads(path.read_text())["logs"]
    return logs


def rule_fix(log: Path) -> str:
    """The fix the rule/fact path alone writes for a log (no model, no machine checks)."""
    result = triage_file(log)
    return explain(result, extract_facts(result)).fix_text


@dataclass
class Report:
    """Specific-fix shares per split, over failures (``none`` logs are counted apart)."""

    verdicts: list[Verdict]
    seconds: float

    def share(self, split: str) -> float:
        failures = [v for v in self.verdicts if v.split == split and v.category != "none"]
        return sum(v.specific for v in failures) / len(failures) if failures else 0.0

    def counts(self, split: str) -> tuple[int, int]:
        failures = [v for v in self.verdicts if v.split == split and v.category != "none"]
        return sum(v.specific for v in failures), len(failures)

    def successes_kept(self) -> tuple[int, int]:
        """Logs without failure whose fix says there is nothing to fix."""
        ok = [v for v in self.verdicts if v.category == "none"]
        return sum(v.specific for v in ok), len(ok)

    def misses(self, split: str) -> list[Verdict]:
        return [v for v in self.verdicts if v.split == split and not v.specific]


def measure(logs: Path = LOGS, truth: dict[str, dict[str, Any]] | None = None) -> Report:
    truth = truth if truth is not None else load_truth(logs / "truth.json")
    start = time.perf_counter()
    verdicts = [judge(name, label, rule_fix(logs / name)) for name, label in sorted(truth.items())]
    return Report(verdicts, time.perf_counter() - start)


def lines(report: Report) -> list[str]:
    out = []
    for split in SPLITS:
        good, total = report.counts(split)
        out.append(
            f"specific fixes ({split}): {good}/{total} = {report.share(split):.1%} "
            f"(goal >= {GOAL:.0%})"
        )
    good, total = report.successes_kept()
    out.append(f"logs without failure told there is nothing to fix: {good}/{total}")
    out.append(f"rule/fact path over {len(report.verdicts)} logs: {report.seconds * 1000:.0f} ms")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    report = measure()
    for line in lines(report):
        print(line)
    for miss in report.misses("tune"):
        print(f"  tune miss {miss.name}: missing {miss.missing} forbidden {miss.forbidden}")
        print(f"    fix: {miss.fix}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
