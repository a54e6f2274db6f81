"""Can a scientist trust the diagnoses? Measured on the real fixture logs with the real model.

* **Grounded sentences**: the share of displayed sentences (rule, fact and model) whose
  every code-like token (anything with a digit, a slash, an underscore or a dot inside)
  occurs in the log, the guide, a fact or a check (goal 100%). This oracle is independent
  of :mod:`adaptive_llm_local.diagnose.grounding`, which decides what is displayed.
* **Specific fixes**: the share of failures whose fix names every concrete thing that
  ``tests/fixtures/logs/truth.json`` says a correct fix names (``must_mention``; an inner
  list means any one of them) and nothing it must not say, reported for the ``tune`` and
  the ``holdout`` split separately (goal >= 90%). Without that file, this is skipped.
* **Model text that survived** grounding: sentences and characters kept / written.
* **Diagnosis time**: median and p95 per log (triage, facts, checks, model, grounding), and
  the rule/fact path alone (no model) for comparison.

``BENCH_GROUNDING_MAX_LOGS`` caps the number of logs (default: all of them).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import CHECKOUT_DIR, Settings
from . import Report, median, out_dir, p95
from .trust import judge

LOGS = CHECKOUT_DIR / "tests" / "fixtures" / "logs"
TRUTH = LOGS / "truth.json"
SPLITS = ("tune", "holdout")
CODE_TOKEN = re.compile(r"[\w./~:=-]*(?:\d|/|_|\w\.\w)[\w./~:=-]*")


def ungrounded_tokens(sentence: str, evidence: str) -> list[str]:
    """The code-like tokens of ``sentence`` that ``evidence`` does not contain as whole words.

    Case is ignored (``MPI_Abort`` names the log's ``MPI_ABORT``), and a trailing slash.
    """
    found = CODE_TOKEN.findall(sentence.replace("`", " "))
    tokens = [t.rstrip(".,:;)").rstrip("/") for t in found]
    return [
        t
        for t in tokens
        if t and re.search(rf"(?<![\w]){re.escape(t)}(?![\w])", evidence, re.I) is None
    ]


def evidence_text(log: Path, diagnosis: Any, facts: Sequence[str]) -> str:
    """Everything a displayed sentence may rest on: the log, the guide, facts, checks, sources."""
    from ..knowledge import GUIDE
    from ..retrieval.builtin import guide_text

    short = "\n".join(f"{g.title}\n{g.cause}\n{g.fix}" for g in GUIDE.values())
    checks = "\n".join(f"{c.text} {' '.join(c.detail.values())}" for c in diagnosis.checks)
    sources = "\n".join(f"{s.cite()} {s.text}" for s in diagnosis.sources)
    lines = "\n".join(f"line {e.line}" for e in diagnosis.evidence)
    return "\n".join(
        (log.read_text(errors="replace"), guide_text(), short, checks, sources, *facts, lines)
    )


def names_everything(fix: str, label: dict[str, Any]) -> bool:
    """Whether ``fix`` names every ``must_mention`` item and no ``must_not_mention`` one
    (the same judge as :mod:`.trust`: ``fit.py:10`` is also ``line 10 of fit.py``)."""
    return judge("", label, fix).specific


def _logs() -> list[tuple[str, Path, dict[str, Any] | None]]:
    truth: dict[str, dict[str, Any]] = {}
    if TRUTH.is_file():
        truth = json.loads(TRUTH.read_text()).get("logs", {})
    names = sorted(json.loads((LOGS / "expected.json").read_text()))
    limit = int(os.environ.get("BENCH_GROUNDING_MAX_LOGS", "0") or 0)
    chosen = names[:limit] if limit > 0 else names
    return [(name, LOGS / name, truth.get(name)) for name in chosen if (LOGS / name).is_file()]


def _share(good: int, total: int) -> str:
    return f"{good}/{total} = {good / total:.1%}" if total else "n/a"


def run(report: Report) -> None:
    from ..assistant import Assistant
    from ..diagnose.checks import run_checks
    from ..diagnose.explain import explain
    from ..triage import triage_file
    from ..triage.facts import extract_facts

    assistant = Assistant.from_settings(Settings.from_env(), index="off")
    assistant.load()
    report("model", assistant.model.name)
    rows: list[dict[str, Any]] = []
    rule_seconds: list[float] = []
    for name, path, label in _logs():
        start = time.perf_counter()
        result = triage_file(path)
        facts = extract_facts(result)
        explain(result, facts, run_checks(result, facts))
        rule_seconds.append(time.perf_counter() - start)

        start = time.perf_counter()
        diagnosis = assistant.diagnose(triage_file(path))
        seconds = time.perf_counter() - start
        evidence = evidence_text(path, diagnosis, extract_facts(result).values())
        sentences = [*diagnosis.cause, *diagnosis.fix]
        rows.append(
            {
                "log": name,
                "category": diagnosis.category,
                "split": (label or {}).get("split"),
                "specific": names_everything(diagnosis.suggested_fix, label) if label else None,
                "sentences": len(sentences),
                "grounded": sum(not ungrounded_tokens(s.text, evidence) for s in sentences),
                "ungrounded": [s.text for s in sentences if ungrounded_tokens(s.text, evidence)],
                "model_shown": len(diagnosis.model_sentences),
                "grounding": diagnosis.grounding,
                "explained_by": diagnosis.explained_by,
                "seconds": seconds,
                "fix": diagnosis.suggested_fix,
            }
        )
    (out_dir() / "grounding.json").write_text(json.dumps(rows, indent=1))
    _report(report, rows, rule_seconds)


def _report(report: Report, rows: list[dict[str, Any]], rule_seconds: list[float]) -> None:
    shown = sum(r["sentences"] for r in rows)
    report("fixture logs diagnosed (no index, machine checks on)", str(len(rows)))
    report(
        "displayed sentences fully grounded (goal 100%)",
        _share(sum(r["grounded"] for r in rows), shown),
    )
    for split in SPLITS:
        labelled = [r for r in rows if r["split"] == split and r["category"] != "none"]
        if labelled:
            report(
                f"fixes naming the concrete thing, {split} (goal >= 90%)",
                _share(sum(bool(r["specific"]) for r in labelled), len(labelled)),
            )
    if not any(r["split"] for r in rows):
        report("fixes naming the concrete thing", f"skipped: no {TRUTH.name}")
    written = sum(r["grounding"].get("model_sentences", 0) for r in rows)
    kept = sum(r["grounding"].get("model_kept", 0) for r in rows)
    chars = sum(r["grounding"].get("model_chars", 0) for r in rows)
    kept_chars = sum(r["grounding"].get("model_kept_chars", 0) for r in rows)
    report("model sentences that survived grounding", _share(kept, written))
    report("model text that survived grounding (characters)", _share(kept_chars, chars))
    report(
        "diagnoses showing a model sentence",
        _share(sum(r["model_shown"] > 0 for r in rows), len(rows)),
    )
    reasons = Counter(
        re.sub(r"`[^`]*`|\S*\d\S*|names \S+", "…", d["why"]).split(";")[0]
        for r in rows
        for d in r["grounding"].get("dropped", [])
    )
    for why, count in reasons.most_common(4):
        report(f"  dropped: {why[:52]}", str(count))
    seconds = [r["seconds"] for r in rows]
    report("diagnosis time per log (median / p95)", f"{median(seconds):.2f} / {p95(seconds):.2f} s")
    report(
        "rule/fact path alone, no model (median)",
        f"{median(rule_seconds) * 1000:.0f} ms",
    )
