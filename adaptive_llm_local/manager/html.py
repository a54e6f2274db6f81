"""The manager's notebook view: one HTML table of failures grouped by signature."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..diagnose.diagnosis import MODEL_LEGEND, grounds_label
from ..visible import visible


def summary_html(
    groups: Sequence[dict[str, Any]],
    *,
    status: str,
    categories: Counter[str],
    model_calls: int,
    n_errors: int,
) -> str:
    """Render ``groups`` (from ``jobs.group_by_signature``) under a one-line header.

    Parameters
    ----------
    groups
        Failed jobs grouped by signature, biggest first.
    status
        ``running`` or ``stopped``.
    categories
        Diagnosed jobs per failure category.
    model_calls, n_errors
        Counts shown in the header.
    """
    rows = []
    for group in groups:
        jobs = ", ".join(map(str, group["jobs"][:8])) + (" …" if group["count"] > 8 else "")
        rows.append(
            "<tr>"
            f"<td style='text-align:right'><b>{group['count']}</b></td>"
            f"<td><code>{html.escape(group['category'])}</code></td>"
            f"<td>{html.escape(group['summary'])}"
            f"<br><small>{_said(group, 'cause', 'root_cause')}</small>"
            f"<br><small><b>Fix:</b> {_said(group, 'fix', 'suggested_fix')}</small></td>"
            f"<td><small>{html.escape(jobs)}</small></td>"
            "</tr>"
        )
    header = (
        f"<b>LLMManager</b> · {status} · {sum(categories.values())} failed job(s) diagnosed, "
        f"{len(groups)} distinct failure(s), {model_calls} model call(s)"
    )
    if categories:
        header += " · " + ", ".join(f"{c}: {n}" for c, n in categories.most_common())
    if n_errors:
        header += f" · <span style='color:#b00'>{n_errors} error(s)</span>"
    if not rows:
        return f"<div>{header}</div>"
    by_model = any(
        s.origin == "model" for g in groups for s in (*g.get("cause", ()), *g.get("fix", ()))
    )
    legend = f"<br><small><i>{html.escape(MODEL_LEGEND)}</i></small>" if by_model else ""
    # bidi overrides and other invisible characters from logs are shown, not obeyed
    return visible(
        f"<div>{header}<table><thead><tr><th>jobs</th><th>category</th>"
        "<th>failure · cause · fix</th><th>job ids</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table>{legend}</div>"
    )


def _said(group: dict[str, Any], key: str, text_key: str) -> str:
    """The sentences of a cause or fix, each with its grounds; the model's in italics.

    Falls back to the joined string for diagnoses stored before sentences existed.
    """
    sentences = group.get(key) or []
    if not sentences:
        return html.escape(group[text_key])
    out = []
    for sentence in sentences:
        text = html.escape(sentence.text)
        if sentence.origin == "model":
            text = f"<i title='written by the model'>{text}</i>"
        grounds = grounds_label(sentence, list(group.get("sources") or []))
        if grounds:
            text += f" <sup style='opacity:0.6'>{html.escape(grounds)}</sup>"
        out.append(text)
    return " ".join(out)
