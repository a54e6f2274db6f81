"""Rendering for the notebook chat: Markdown, highlighting, sanitising, bubbles, the job list."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from adaptive_llm_local.diagnose import Diagnosis
from adaptive_llm_local.triage import Evidence
from adaptive_llm_local.widget.failures import RUN_THREAD, failure_options, thread_for
from adaptive_llm_local.widget.messages import (
    Block,
    assistant_html,
    diagnosis_html,
    history_html,
    sources_html,
)
from adaptive_llm_local.widget.render import (
    diff_html,
    guess_language,
    markdown_html,
    sanitize,
)
from adaptive_llm_local.widget.style import CSS

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<iframe src="http://example.invalid/"></iframe>',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    '<div onmouseover="steal()">hover</div>',
    "<style>body { display: none }</style>",
    '<object data="x.swf"></object><embed src="x">',
    '<form action="http://example.invalid"><input name=q></form>',
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
]
SAFE_TAGS = {"p", "pre", "code", "span", "a", "div", "strong", "em", "br"}


class Elements(HTMLParser):
    """Every element and attribute a browser would build from some HTML."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def assert_inert(markup: str) -> None:
    for tag, attrs in Elements(markup).found:
        assert tag in SAFE_TAGS, (tag, markup)
        assert not [a for a in attrs if a.startswith("on") or a in ("style", "src")], markup
        href = (attrs.get("href") or "").strip().lower()
        assert not href or href.startswith(("http:", "https:", "mailto:")), markup


@pytest.mark.parametrize("hostile", HOSTILE)
def test_sanitize_removes_what_could_run_or_load(hostile: str) -> None:
    assert_inert(sanitize(hostile))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_markdown_shows_raw_html_as_text_and_runs_nothing(hostile: str) -> None:
    html = markdown_html(f"The log said: {hostile}\n\n```\n{hostile}\n```")
    assert_inert(html)
    assert "&lt;" in html  # shown to the reader as text


def test_markdown_links_keep_safe_schemes_only() -> None:
    html = markdown_html("[ok](https://example.org) [bad](javascript:alert(1))")
    assert 'href="https://example.org"' in html
    assert "javascript:" not in html.split("[bad]")[0] and 'href="javascript' not in html


def test_code_fences_are_highlighted_with_span_classes_not_nested_pre() -> None:
    html = markdown_html("Try:\n\n```python\nimport numpy as np\nx = np.zeros(3)  # ok\n```\n")
    assert '<pre class="alm-hl"><code class="language-python">' in html
    assert '<span class="kn">import</span>' in html and '<span class="c1"># ok</span>' in html
    assert html.count("<pre") == 1


def test_unlabelled_code_gets_a_guessed_language() -> None:
    assert guess_language("Traceback (most recent call last):\n  File 'x'\nValueError: x") == "pytb"
    assert guess_language("def f(x):\n    return x\n") == "python"
    assert guess_language("--- a/x\n+++ b/x\n") == "diff"
    assert guess_language("#!/bin/bash\nsbatch job.sh\n") == "bash"
    assert guess_language("the job ran out of memory, see above") == "text"
    assert "language-python" in markdown_html("```\nimport os\nos.getcwd()\n```")


def test_tables_and_emphasis_render() -> None:
    html = markdown_html("| a | b |\n|---|---|\n| 1 | **2** |\n")
    assert "<table>" in html and "<strong>2</strong>" in html


def test_diff_lines_are_marked_removed_and_added() -> None:
    html = diff_html("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-\told\n+    new\n")
    assert 'class="alm-hl alm-diff"' in html
    assert '<span class="gd">-\told</span>' in html and '<span class="gi">+    new</span>' in html


def test_theme_colours_come_from_jupyterlab_variables() -> None:
    assert "--jp-mirror-editor-keyword-color" in CSS and "--jp-layout-color2" in CSS
    assert "http" not in CSS and "@import" not in CSS and "url(" not in CSS


def _diagnosis(**extra: object) -> Diagnosis:
    return Diagnosis(
        category="missing_module",
        key_line="ModuleNotFoundError: No module named '<script>x</script>'",
        exception="ModuleNotFoundError",
        signature="sig",
        summary="s",
        evidence=[Evidence(3, "<img src=x onerror=alert(1)>")],
        root_cause="The module is missing.",
        suggested_fix="Install it.",
        confidence=0.8,
        model="m",
        job_id="7",
        **extra,  # type: ignore[arg-type]
    )


def test_diagnosis_marks_model_sentences_and_escapes_log_text() -> None:
    data = _diagnosis().to_json()
    data["cause"] = [
        {"text": "The job could not import x.", "origin": "fact", "grounds": {"lines": [3]}},
        {"text": "It was probably never installed.", "origin": "model", "grounds": {}},
    ]
    data["fix"] = [{"text": "Run `pip install x`.", "origin": "rule", "grounds": {}}]
    html = diagnosis_html(data, job_id="7")
    assert '<span class="alm-s alm-s-fact">The job could not import x.</span>' in html
    assert '<span class="alm-s alm-s-model">It was probably never installed.</span>' in html
    assert html.count('class="alm-origin"') == 1
    assert not re.search(r"<(script|img)\b", html) and "&lt;script&gt;" in html


def test_diagnosis_without_sentences_marks_a_model_explanation_whole() -> None:
    html = diagnosis_html(_diagnosis())
    assert "alm-s-model" in html and "The module is missing." in html
    rule = diagnosis_html(_diagnosis(explained_by="rule"))
    assert "alm-s-model" not in rule and "The module is missing." in rule


def test_sources_open_the_cited_lines_highlighted() -> None:
    blocks = {
        2: Block(2, "train.py:1-2", "read_file", "train.py", "train.py (lines 1-2):\nimport os\n")
    }
    html = sources_html([2, 9], blocks)
    assert "<details><summary>[2] train.py:1-2</summary>" in html
    assert '<span class="kn">import</span>' in html and "[9]" in html
    answer = assistant_html("See [2].", cited=[2], blocks=blocks)
    assert "alm-origin" in answer and "alm-sources" in answer


def test_history_renders_each_kind() -> None:
    items = [
        {"role": "tool", "kind": "seed", "tool": "read_file", "n": 1, "label": "x.py:1-1",
         "args": {"file_path": "x.py"}, "text": "x.py (lines 1-1):\ndef f(): pass\n", "ok": True},
        {"role": "user", "kind": "message", "text": "why?"},
        {"role": "assistant", "kind": "answer", "text": "Because [1].", "cited": (1,),
         "sources": ({"n": 1, "label": "x.py:1-1"},), "stopped": True},
        {"role": "assistant", "kind": "note", "text": "Proposed fix: indentation."},
        {"role": "tool", "kind": "step", "tool": "write_file", "n": 2, "label": "edit x.py",
         "text": "Edited x.py", "ok": True, "diff": "--- a/x.py\n+++ b/x.py\n"},
    ]  # fmt: skip
    html = history_html(items)
    assert len(html) == 5
    assert "alm-tool" in html[0] and '<span class="k">def</span>' in html[0]
    assert "alm-user" in html[1]
    assert "alm-origin" in html[2] and "(stopped)" in html[2] and "[1] x.py:1-1" in html[2]
    assert "alm-origin" not in html[3] and "Proposed fix" in html[3]
    assert "alm-diff" in html[4] and "Edited x.py" in html[4]


class Group:
    def __init__(self, signature: str, count: int, job_ids: tuple[str, ...]) -> None:
        self.signature, self.count, self.job_ids = signature, count, job_ids
        self.category, self.summary = "python_exception", "ValueError: bad <input>"


def test_failure_list_groups_jobs_under_their_signature() -> None:
    groups = [Group("a", 2, ("3", "5")), Group("b", 1, ("4",))]
    options = failure_options(groups)
    assert options[0][1] == RUN_THREAD
    assert options[1] == ("2 × python_exception · ValueError: bad <input>", "group:a")
    assert [v for _, v in options] == ["run", "group:a", "job:3", "job:5", "group:b", "job:4"]
    assert thread_for("group:a", groups) == "3" and thread_for("job:4", groups) == "4"
    assert thread_for("run", groups) == RUN_THREAD and thread_for(None, groups) is None


@pytest.mark.parametrize("hidden", ["\u202e", "\u2066", "\u200b", "\x1b[2J", "\x9b", "\u2028"])
def test_bidi_overrides_and_controls_are_written_out_not_obeyed(hidden: str) -> None:
    for shown in (markdown_html(f"see fil{hidden}exe.txt"), sanitize(f"<p>a{hidden}b</p>")):
        assert hidden[0] not in shown
        assert hidden[0].encode("unicode_escape").decode() in shown
