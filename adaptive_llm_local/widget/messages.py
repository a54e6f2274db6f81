"""Chat items as HTML bubbles: messages, tool steps, diagnoses, approvals (pure functions).

Inputs are the chat API's objects (``ChatResult``, ``PendingApproval``, history items,
``Diagnosis``) read through :func:`field`, which takes attributes or mapping keys alike,
so a history item may be a dataclass or a dict. Every string that came from a log, a
file or the model goes through :mod:`.render` (escaped or sanitised) before it is
placed in the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..visible import visible
from .render import code_block, diff_html, escape, file_html, markdown_html, sanitize

MODEL_TITLE = (
    "written by the model: check it against the log and the cited sources "
    "(rule and fact sentences come from the failure rules and the log itself)"
)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``, else ``default``."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass(frozen=True)
class Block:
    """A numbered block of a thread (a tool step) that answers cite as ``[n]``."""

    n: int
    label: str
    tool: str
    path: str | None
    text: str


def block_of(step: Any) -> Block | None:
    """The citable block of a tool step or a tool history item (``None`` if unnumbered)."""
    n = field(step, "n")
    if n is None:
        return None
    args = field(step, "args") or {}
    text = field(step, "content")
    if text is None:
        text = field(step, "text", "")
    return Block(
        int(n),
        str(field(step, "label") or ""),
        str(field(step, "tool") or ""),
        args.get("file_path") if isinstance(args, Mapping) else None,
        str(text),
    )


def bubble(kind: str, body: str, *, meta: str = "") -> str:
    """One chat bubble; ``body`` and ``meta`` must already be safe HTML."""
    header = f'<div class="alm-meta">{meta}</div>' if meta else ""
    return f'<div class="alm-msg alm-{kind}">{header}<div class="alm-body">{body}</div></div>'


def model_badge() -> str:
    return f'<sup class="alm-origin" title="{escape(MODEL_TITLE)}">model</sup>'


def user_html(text: str) -> str:
    return bubble("user", markdown_html(text), meta="you")


def block_html(block: Block) -> str:
    """The content of a block: file reads highlighted by the file's name."""
    header, _, body = block.text.partition("\n")
    if block.tool == "read_file" and block.path and body:
        return f"<small>{escape(header)}</small>" + file_html(block.path, body)
    return sanitize(code_block(block.text, "text"))


def sources_html(cited: Iterable[Any], blocks: Mapping[int, Block]) -> str:
    """A compact list of cited blocks; each opens (a ``<details>``) to show its lines."""
    items = []
    for source in cited:
        n = int(field(source, "n", source) if not isinstance(source, int) else source)
        block = blocks.get(n)
        label = str(field(source, "label", "") or (block.label if block else ""))
        summary = f"<summary>[{n}] {escape(label)}</summary>"
        body = block_html(block) if block is not None else "<small>(not in this thread)</small>"
        items.append(f"<details>{summary}{body}</details>")
    if not items:
        return ""
    return '<div class="alm-sources">sources: ' + "".join(items) + "</div>"


def assistant_html(
    text: str,
    *,
    cited: Sequence[Any] = (),
    blocks: Mapping[int, Block] | None = None,
    streaming: bool = False,
    stopped: bool = False,
    origin: str = "model",
) -> str:
    """An answer; a model-written one is marked as such."""
    meta = "assistant"
    if origin == "model":
        meta += " " + model_badge()
    if stopped:
        meta += " (stopped)"
    if streaming:
        meta += ' <span class="alm-busy">● writing…</span>'
    body = markdown_html(text) if text.strip() else "<p>…</p>"
    return bubble("assistant", body + sources_html(cited, blocks or {}), meta=meta)


def tool_html(step: Any) -> str:
    """A tool step (a read, a search, a command's output, a write with its diff), collapsed
    unless it is short."""
    block = block_of(step)
    tool = str(field(step, "tool") or "tool")
    label = str(field(step, "label") or tool)
    ok = field(step, "ok", True)
    n = f"[{block.n}] " if block is not None else ""
    content = (
        block_html(block)
        if block is not None
        else sanitize(
            code_block(str(field(step, "content", field(step, "text", "")) or ""), "text")
        )
    )
    status = "" if ok else ' <span class="alm-denied">failed</span>'
    summary = f"<summary>{escape(n + label)}{status}</summary>"
    open_attr = " open" if len(content) < 1200 else ""
    diff = str(field(step, "diff") or "")
    shown = diff_html(diff) if diff.strip() else ""
    return bubble(
        "tool", f"<details{open_attr}>{summary}{content}</details>{shown}", meta=escape(tool)
    )


def sentences_html(sentences: Sequence[Any]) -> str:
    """Sentences of a diagnosis; model-written ones underlined and labelled."""
    parts = []
    for sentence in sentences:
        text = escape(str(field(sentence, "text", "")).strip())
        origin = str(field(sentence, "origin", "rule"))
        if origin == "model":
            parts.append(f'<span class="alm-s alm-s-model">{text}</span>{model_badge()}')
        else:
            parts.append(f'<span class="alm-s alm-s-{escape(origin)}">{text}</span>')
    return " ".join(parts)


def _explanation(data: Mapping[str, Any], listed: str, plain: str, by_model: bool) -> str:
    sentences = data.get(listed)
    if sentences:
        return sentences_html(sentences)
    text = escape(str(data.get(plain) or ""))
    if by_model and text:
        return f'<span class="alm-s alm-s-model">{text}</span>{model_badge()}'
    return text


def diagnosis_html(diagnosis: Any, *, job_id: str | None = None) -> str:
    """The stored diagnosis of a failed job: category, key line, cause, fix, evidence, sources."""
    to_json = getattr(diagnosis, "to_json", None)
    data: Mapping[str, Any] = to_json() if callable(to_json) else dict(diagnosis)
    by_model = data.get("explained_by") == "model"
    rows = [
        f"<b>{escape(str(data.get('category', 'unknown')))}</b>"
        + (f" · job {escape(str(job_id))}" if job_id else "")
        + (
            f" · confidence {float(data.get('confidence') or 0):.0%}"
            if data.get("confidence")
            else ""
        )
    ]
    if data.get("key_line"):
        number = data.get("key_line_number")
        where = f"line {number}: " if number else ""
        rows.append(f"<small>{escape(where)}</small><code>{escape(str(data['key_line']))}</code>")
    rows.append("<b>Cause:</b> " + _explanation(data, "cause", "root_cause", by_model))
    rows.append("<b>Fix:</b> " + _explanation(data, "fix", "suggested_fix", by_model))
    evidence = data.get("evidence") or []
    if evidence:
        lines = "\n".join(f"{e['line']:>5}  {e['text']}" for e in evidence)
        log = escape(str(data.get("log") or "log"))
        rows.append(
            f"<details><summary>evidence from {log}</summary>"
            + sanitize(code_block(lines, "text"))
            + "</details>"
        )
    sources = data.get("sources") or []
    if sources:
        items = []
        for s in sources:
            cite = f"{s.get('source', '')}:{s.get('lines', '')}".rstrip(":")
            items.append(
                f"<details><summary>{escape(cite)} ({escape(str(s.get('kind', '')))})</summary>"
                + sanitize(code_block(str(s.get("text", "")), "text"))
                + "</details>"
            )
        rows.append('<div class="alm-sources">sources: ' + "".join(items) + "</div>")
    body = "".join(f"<div>{row}</div>" for row in rows)
    return bubble("diagnosis", sanitize(body), meta="stored diagnosis (not recomputed)")


def action_html(action: Any, index: int) -> str:
    """One proposed write: what it does and its highlighted diff."""
    summary = escape(visible(field(action, "summary", "a change"), name=True))
    hunks = field(action, "hunks") or ()
    note = f" <small>({len(hunks)} hunks)</small>" if len(hunks) > 1 else ""
    diff = str(field(action, "diff", "") or "")
    body = diff_html(diff) if diff.strip() else "<small>(no textual diff)</small>"
    return f"<div><b>{index}.</b> {summary}{note}</div>{body}"


def approval_html(pending: Any) -> str:
    """The approval request: every waiting write with its diff."""
    actions = list(field(pending, "actions", ()) or ())
    parts = [action_html(a, i) for i, a in enumerate(actions, 1)]
    return bubble(
        "approval",
        "".join(parts) or "<small>(nothing to show)</small>",
        meta="<b>approval needed</b>: nothing is written until you approve",
    )


def decision_html(approved: bool, text: str = "") -> str:
    verdict = (
        '<span class="alm-applied">approved</span>'
        if approved
        else '<span class="alm-denied">denied</span>'
    )
    extra = markdown_html(text) if text.strip() else ""
    return bubble("tool", verdict + extra, meta="decision")


def error_html(message: str) -> str:
    return bubble("error", f"<p>{escape(message)}</p>", meta="error")


def notice_html(message: str) -> str:
    return bubble("tool", f"<p>{escape(message)}</p>", meta="note")


def blocks_of(items: Iterable[Any]) -> dict[int, Block]:
    """The numbered blocks of a thread's history, by number."""
    blocks = {}
    for item in items:
        if field(item, "role") == "tool":
            block = block_of(item)
            if block is not None:
                blocks[block.n] = block
    return blocks


def _cited_refs(item: Any) -> list[Any]:
    cited = [int(n) for n in field(item, "cited", ()) or ()]
    refs = {int(field(s, "n")): s for s in field(item, "sources", ()) or ()}
    return [refs.get(n, n) for n in cited]


def history_html(items: Sequence[Any]) -> list[str]:
    """A thread's history (``llm.history``) as bubbles, oldest first."""
    blocks = blocks_of(items)
    out = []
    for item in items:
        role = field(item, "role")
        kind = field(item, "kind")
        text = str(field(item, "text", "") or "")
        if role == "user":
            out.append(user_html(text))
        elif role == "assistant" and kind == "note":
            out.append(notice_html(text))
        elif role == "assistant":
            out.append(
                assistant_html(
                    text,
                    cited=_cited_refs(item),
                    blocks=blocks,
                    stopped=bool(field(item, "stopped", False)),
                )
            )
        else:
            out.append(tool_html(item))
    return out
