"""What the model is asked: the answer's JSON schema, the messages, and fitting them to the context.

Pure functions. The triage's category guide (:mod:`adaptive_llm_local.knowledge`) goes
into the prompt and is also the explanation that stands when the model's does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..knowledge import guide_for
from ..retrieval.source import Source
from ..triage import Evidence, TriageResult, redact

# The patterns make even a 135M model answer in sentences ("The job ...") instead of
# echoing labels of the prompt; they exclude characters that would break the JSON.
DIAGNOSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "root_cause": {"type": "string", "pattern": '^The job [^"\\\\\\n\\r\\t]{20,280}$'},
        "suggested_fix": {"type": "string", "pattern": '^[A-Z][^"\\\\\\n\\r\\t]{20,360}$'},
        "evidence": {"type": "array", "items": {"type": "integer"}, "maxItems": 6},
        "confidence": {"type": "number"},
    },
    "required": ["root_cause", "suggested_fix", "evidence", "confidence"],
}

SYSTEM_PROMPT = (
    "You are an HPC support engineer. A batch job failed. Using the triage and the log "
    "excerpt, state the root cause in one or two sentences and a concrete fix. Cite the "
    "line numbers of the log lines that prove it. Reply with JSON only."
)

_MAX_LINE_CHARS = 300


def _clip(text: str, limit: int = _MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(result: TriageResult) -> str:
    if result.key_line:
        line = result.key_line.strip()
        return line if len(line) <= 160 else line[:159] + "…"
    return result.summary or result.exception or result.category


def rule_explanation(result: TriageResult) -> tuple[str, str]:
    """Root cause and fix straight from the category guide (no model)."""
    guide = guide_for(result.category)
    detail = _detail(result) if result.category != "none" else ""
    return guide.cause.format(detail=detail), guide.fix


def build_messages(
    result: TriageResult,
    sources: Sequence[Source],
    *,
    context_lines: Sequence[Evidence],
) -> list[dict[str, str]]:
    """The chat messages for one diagnosis (every log line already redacted by triage)."""
    guide = guide_for(result.category)
    head = [
        f"A batch job failed. The log analysis says: {guide.title.lower()} ({result.category})."
    ]
    if result.key_line is not None:
        head.append(
            f"The line of the log that shows the failure is line {result.key_line_number}: "
            f"{_clip(result.key_line, 200)}"
        )
    head.append(f"This usually means: {guide.cause.format(detail=_detail(result))}")
    head.append(f"The usual fix: {guide.fix}")
    parts = ["\n".join(head)]
    if context_lines:
        excerpt = "\n".join(f"{e.line:>6}| {_clip(e.text)}" for e in context_lines)
        parts.append("Log excerpt (line number | text):\n" + excerpt)
    if sources:
        cited = "\n".join(
            f"[{i}] {s.kind} {s.cite()}: {_clip(redact(s.text))}" for i, s in enumerate(sources, 1)
        )
        parts.append("Seen before and documentation:\n" + cited)
    parts.append(
        "Explain the root cause of this failure in one sentence and give a concrete fix, as "
        "JSON with root_cause, suggested_fix, evidence (line numbers) and confidence (0-1)."
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def fit_prompt(
    result: TriageResult,
    sources: Sequence[Source],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
) -> tuple[list[dict[str, str]], list[Source], int]:
    """Messages that fit ``budget`` tokens, shrinking step by step until they do.

    Drops, in order: sources beyond the best one, context lines far from the key line
    (down to 8), the last source, the remaining context lines.
    Returns the messages, the sources kept and the prompt's token count; the count
    exceeds ``budget`` only when even the bare triage header does not fit.
    """
    key = result.key_line_number
    context = list(result.context)
    kept = list(sources)

    def size(msgs: list[dict[str, str]]) -> int:
        # chat templates add a few tokens per message
        return sum(count_tokens(m["content"]) + 8 for m in msgs)

    while True:
        messages = build_messages(result, kept, context_lines=context)
        tokens = size(messages)
        if tokens <= budget:
            return messages, kept, tokens
        if len(kept) > 1:
            kept.pop()
        elif len(context) > 8:
            context.pop(max(range(len(context)), key=lambda i: _distance(context[i].line, key)))
        elif kept:
            kept.pop()
        elif context:
            context.pop(max(range(len(context)), key=lambda i: _distance(context[i].line, key)))
        else:
            return messages, kept, tokens


def _distance(line: int, key: int | None) -> int:
    if key is None:
        return -line if line < 0 else line
    return abs(line - key)
