"""Diagnosis: triage first, then a schema-constrained model call explains it.

The deterministic triage owns the category, key line and signature. The model writes
the root cause and the fix; when its answer contradicts a rule hit (it blames memory
while the log says ``DUE TO TIME LIMIT``) or is unusable, the rule's explanation from
:mod:`adaptive_llm_local.knowledge` stands instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .errors import AssistantError
from .knowledge import categories_mentioned, guide_for
from .triage import CATEGORIES, Evidence, TriageResult, redact, triage_file

TokenCallback = Callable[[str], None]

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

# categories a rule can establish; ``unknown`` and ``none`` are the absence of one
RULE_CATEGORIES = frozenset(CATEGORIES) - {"unknown", "none"}
_MAX_LINE_CHARS = 300
_PROMPT_MARGIN_TOKENS = 48


class ChatModel(Protocol):
    """What diagnosis needs from a model (``runtime.LocalModel`` and test models)."""

    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int = ...,
        temperature: float = ...,
        schema: dict | None = ...,
        on_token: TokenCallback | None = ...,
    ) -> Any: ...


class Retriever(Protocol):
    """Finds past failures and docs relevant to a triaged log (see ``retrieval``)."""

    def context_for(self, result: TriageResult, *, k: int = 3) -> list[Source]: ...


@dataclass(frozen=True)
class Source:
    """Something retrieved that a diagnosis may cite."""

    kind: str  # "failure" or "doc"
    source: str  # path or job id
    lines: str  # e.g. "12-40"
    score: float
    text: str
    category: str | None = None
    signature: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def cite(self) -> str:
        return f"{self.source}:{self.lines}" if self.lines else self.source


@dataclass
class Diagnosis:
    """Why a job failed and how to fix it, with the evidence and where it came from."""

    category: str
    key_line: str | None
    exception: str | None
    signature: str
    summary: str
    evidence: list[Evidence]
    root_cause: str
    suggested_fix: str
    confidence: float
    model: str | None
    sources: list[Source] = field(default_factory=list)
    key_line_number: int | None = None
    log_path: str | None = None
    job_id: str | None = None
    job_name: str | None = None
    explained_by: str = "model"  # "model", "rule" (model overruled or unusable), "none"
    notes: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``diagnose --json`` shape: the triage keys plus the model's explanation."""
        return {
            "category": self.category,
            "key_line": self.key_line,
            "exception": self.exception,
            "signature": self.signature,
            "evidence": [{"line": e.line, "text": e.text} for e in self.evidence],
            "root_cause": self.root_cause,
            "suggested_fix": self.suggested_fix,
            "confidence": round(self.confidence, 3),
            "model": self.model,
            "sources": [
                {k: v for k, v in asdict(s).items() if k != "extra" and v is not None}
                for s in self.sources
            ],
            "summary": self.summary,
            "key_line_number": self.key_line_number,
            "explained_by": self.explained_by,
            "log": self.log_path,
            "job_id": self.job_id,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        return cls(
            category=data["category"],
            key_line=data.get("key_line"),
            exception=data.get("exception"),
            signature=data["signature"],
            summary=data.get("summary", ""),
            evidence=[Evidence(int(e["line"]), str(e["text"])) for e in data.get("evidence", [])],
            root_cause=data.get("root_cause", ""),
            suggested_fix=data.get("suggested_fix", ""),
            confidence=float(data.get("confidence", 0.0)),
            model=data.get("model"),
            sources=[Source(**s) for s in data.get("sources", [])],
            key_line_number=data.get("key_line_number"),
            log_path=data.get("log"),
            job_id=data.get("job_id"),
            job_name=data.get("job_name"),
            explained_by=data.get("explained_by", "model"),
            notes=list(data.get("notes", [])),
        )


# --- pure parts: prompt construction and answer reconciliation ---------------------------


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


def parse_answer(text: str) -> dict[str, Any] | None:
    """The model's JSON object, or ``None`` if the text is not one (e.g. cut by max_tokens)."""
    try:
        data = json.loads(text)
    except ValueError:
        match = re.search(r"\{.*\}", text, re.S)
        if not match:
            return None
        try:
            data = json.loads(match.group(0))
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def _usable(text: Any) -> bool:
    """A real sentence: enough words, and not an echo of the prompt's own labels."""
    if not isinstance(text, str):
        return False
    words = re.findall(r"[A-Za-z]{3,}", text)
    echo = re.search(
        r"log analysis says|line of the log that shows|log excerpt|usually means", text, re.I
    )
    return len(words) >= 5 and echo is None


def _ngrams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9_/.]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _repeats(text: Any, other: Any) -> bool:
    """Whether ``text`` mostly restates ``other`` (a fix that only repeats the cause)."""
    if not isinstance(text, str) or not isinstance(other, str):
        return False
    grams = _ngrams(text, 4)
    return bool(grams) and len(grams & _ngrams(other, 4)) >= 0.5 * len(grams)


def agrees(result: TriageResult, text: str) -> bool:
    """Whether ``text`` talks about the failure the rules found (its category or its names)."""
    if result.category not in RULE_CATEGORIES:
        return True
    mentioned = categories_mentioned(text)
    if result.category in mentioned:
        return True
    lowered = text.lower()
    names = [result.exception or "", *re.findall(r"'([\w.]+)'", result.summary or "")]
    return any(name and name.lower() in lowered for name in names)


def reconcile(
    result: TriageResult, answer: dict[str, Any] | None
) -> tuple[str, str, list[Evidence], float, str, list[str]]:
    """Merge the model's answer with the rules; the rule wins on contradiction.

    Returns root cause, fix, evidence, confidence, who explained it, and notes.
    """
    notes: list[str] = []
    rule_cause, rule_fix = rule_explanation(result)
    evidence = list(result.evidence)
    if answer is None:
        notes.append("the model's answer was not valid JSON; using the rule's explanation")
        return (
            rule_cause,
            rule_fix,
            evidence,
            0.7 if result.category in RULE_CATEGORIES else 0.3,
            "rule",
            notes,
        )

    cited: list[Evidence] = []
    by_line = {e.line: e for e in (*result.context, *result.evidence)}
    for raw in answer.get("evidence") or []:
        try:
            line = int(raw)
        except (TypeError, ValueError):
            continue
        if result.has_line(line) and line in by_line and by_line[line] not in cited:
            cited.append(by_line[line])
    dropped = len(answer.get("evidence") or []) - len(cited)
    if dropped > 0:
        notes.append(f"dropped {dropped} cited line(s) that are not in the log excerpt")
    merged = sorted({*evidence, *cited}, key=lambda e: (e.line < 0, abs(e.line)))

    try:
        confidence = float(answer.get("confidence", 0.5))
    except (TypeError, ValueError):
        confidence = 0.5
    if not 0.0 <= confidence <= 1.0:
        confidence = 0.5
    cause, fix = answer.get("root_cause"), answer.get("suggested_fix")
    cause_ok = _usable(cause)
    fix_ok = _usable(fix) and not _repeats(fix, cause)
    if cause_ok and not agrees(result, cause):
        others = sorted(categories_mentioned(cause) - {result.category, "unknown"})
        blamed = f"blamed {', '.join(others)}" if others else "did not explain it"
        notes.append(f"the model {blamed} but the log shows {result.category}; the rule wins")
        return rule_cause, rule_fix, merged, 0.8, "rule", notes
    if not cause_ok and not fix_ok:
        notes.append("the model's explanation was unusable; using the rule's explanation")
        fallback = 0.7 if result.category in RULE_CATEGORIES else 0.3
        return rule_cause, rule_fix, merged, fallback, "rule", notes
    if not (cause_ok and fix_ok):
        notes.append(
            f"the model's {'fix' if cause_ok else 'root cause'} was unusable; the rule's is used"
        )
    if result.category in RULE_CATEGORIES:
        confidence = max(confidence, 0.6)
    by = "model" if cause_ok and fix_ok else "model+rule"
    return (
        cause.strip() if cause_ok else rule_cause,
        fix.strip() if fix_ok else rule_fix,
        merged,
        confidence,
        by,
        notes,
    )


# --- the diagnoser ----------------------------------------------------------------------


class Diagnoser:
    """Runs triage → retrieval → model → reconciliation for one log at a time.

    Parameters
    ----------
    model
        A chat model; ``None`` loads the configured local model on first use.
    retriever
        Optional source of past failures and docs.
    max_tokens
        Tokens the model may generate for one diagnosis.
    """

    def __init__(
        self,
        model: ChatModel | None = None,
        retriever: Retriever | None = None,
        *,
        max_tokens: int = 320,
        temperature: float = 0.0,
    ) -> None:
        self._model = model
        self.retriever = retriever
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.model_calls = 0

    @property
    def model(self) -> ChatModel:
        if self._model is None:
            from .runtime import get_chat_model

            self._model = get_chat_model()
        return self._model

    def sources_for(self, result: TriageResult) -> list[Source]:
        if self.retriever is None or result.category == "none":
            return []
        return self.retriever.context_for(result, k=3)

    def diagnose(
        self,
        result: TriageResult,
        *,
        sources: Sequence[Source] | None = None,
        on_token: TokenCallback | None = None,
    ) -> Diagnosis:
        """Explain a triaged log. A log without failure (``none``) needs no model call."""
        start = time.perf_counter()
        index_notes: list[str] = []
        try:
            found = list(sources) if sources is not None else self.sources_for(result)
        except AssistantError as exc:  # a locked or broken index must not block a diagnosis
            found = []
            index_notes.append(f"index not consulted: {exc}")
        if result.category == "none":
            cause, fix = rule_explanation(result)
            return self._build(
                result, cause, fix, list(result.evidence), 0.9, None, [], "none", [], start
            )

        model = self.model
        budget = model.n_ctx - self.max_tokens - _PROMPT_MARGIN_TOKENS
        messages, kept, tokens = fit_prompt(
            result, found, count_tokens=model.count_tokens, budget=budget
        )
        if tokens > budget:
            raise AssistantError(
                f"The context window is too small for a diagnosis ({model.n_ctx} tokens, "
                f"{self.max_tokens} reserved for the answer): raise ADAPTIVE_LLM_N_CTX."
            )
        completion = model.chat(
            messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            schema=DIAGNOSIS_SCHEMA,
            on_token=on_token,
        )
        self.model_calls += 1
        text = getattr(completion, "text", completion)
        cause, fix, evidence, confidence, by, notes = reconcile(result, parse_answer(str(text)))
        notes = [*index_notes, *notes]
        return self._build(
            result, cause, fix, evidence, confidence, model.name, kept, by, notes, start
        )

    def diagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        return self.diagnose(triage_file(path), on_token=on_token)

    async def adiagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        """:meth:`diagnose_file` in a worker thread (file reads and the model stay off the loop)."""
        return await asyncio.to_thread(self.diagnose_file, path, on_token=on_token)

    def _build(
        self,
        result: TriageResult,
        cause: str,
        fix: str,
        evidence: list[Evidence],
        confidence: float,
        model: str | None,
        sources: list[Source],
        by: str,
        notes: list[str],
        start: float,
    ) -> Diagnosis:
        return Diagnosis(
            category=result.category,
            key_line=result.key_line,
            exception=result.exception,
            signature=result.signature,
            summary=result.summary,
            evidence=evidence,
            root_cause=cause,
            suggested_fix=fix,
            confidence=confidence,
            model=model,
            sources=sources,
            key_line_number=result.key_line_number,
            log_path=result.source,
            explained_by=by,
            notes=[*result.notes, *notes],
            seconds=time.perf_counter() - start,
        )
