"""Keep a model sentence only when the evidence backs every specific thing in it (pure).

The evidence is a :class:`Corpus`: the log lines the model saw, the facts the triage
extracted, the results of the machine checks, the retrieved sources, the guide's section
for the category, and the rule and fact sentences already written. A model sentence
survives :func:`ground_answer` when

* every path, name and number it states occurs in that evidence,
* every command it recommends occurs in the guide, a rule sentence or a check's result
  (a command that only a log line or a retrieved document proposes is an attacker's),
* it is not destructive, does not repeat text that addresses the assistant, talks about
  the failure's own category, was not cut off by the token limit, and adds something the
  rule and fact sentences did not already say.

Every dropped sentence leaves a :class:`Dropped` record saying why (without repeating a
dangerous sentence's text). Rule and fact sentences pass through :func:`screen`, which
drops destructive and instruction-like ones too: they may quote the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..knowledge import categories_mentioned, guide_for
from ..retrieval.source import Source
from ..triage import Evidence
from ..triage.facts import Facts
from .checks import CheckResult
from .claims import (
    NUMBER,
    Claim,
    canonical_unit,
    claims_of,
    command_tokens,
    content_words,
    ends_cleanly,
    proposes_command,
    split_sentences,
)
from .hazards import destructive, instruction_like
from .sentences import Grounds, Origin, Sentence

Part = Literal["cause", "fix"]
PieceKind = Literal["line", "fact", "check", "source", "guide", "rule"]

_MAX_LINES_PER_CLAIM = 3
_ECHO_WORDS = 4
"""A model sentence that shares this many consecutive words with a line that speaks to
the assistant repeats it."""


@dataclass(frozen=True)
class Piece:
    """One piece of evidence and where it comes from (a line number, a check, a citation)."""

    text: str
    kind: PieceKind
    line: int | None = None
    check: str | None = None
    source: str | None = None
    guide: str | None = None

    def grounds(self) -> Grounds:
        return Grounds(
            lines=(self.line,) if self.line is not None else (),
            checks=(self.check,) if self.check else (),
            sources=(self.source,) if self.source else (),
            guide=self.guide,
        )


@dataclass(frozen=True)
class Dropped:
    """A sentence that is not shown, and why (the text itself is not kept)."""

    part: Part
    origin: Origin
    why: str
    chars: int = 0

    def to_json(self) -> dict[str, str | int]:
        return {"part": self.part, "origin": self.origin, "why": self.why}


def guide_section(markdown: str, category: str) -> str:
    """The troubleshooting guide's section on ``category``, without its "Looks like" examples.

    The examples name modules and paths of other people's failures; only the cause and
    fix paragraphs may ground a sentence.
    """
    match = re.search(
        rf"^## .*\(`{re.escape(category)}`\)\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S
    )
    if match is None:
        return ""
    paragraphs = re.split(r"\n\s*\n", match.group(1).strip())
    return "\n\n".join(p for p in paragraphs if not p.lstrip().startswith("**Looks like"))


@dataclass(frozen=True)
class Corpus:
    """The evidence a diagnosis may rest on."""

    category: str
    pieces: tuple[Piece, ...]
    commands: tuple[tuple[tuple[str, ...], Piece], ...]
    instructions: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    trusted_words: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        category: str,
        *,
        lines: Iterable[Evidence] = (),
        facts: Facts | None = None,
        checks: Sequence[CheckResult] = (),
        sources: Sequence[Source] = (),
        guide: str = "",
        rules: Sequence[Sentence] = (),
        vocabulary: str = "",
    ) -> Corpus:
        """Collect the evidence.

        Parameters
        ----------
        lines
            The log lines the model saw (excerpt and evidence).
        guide
            The troubleshooting guide's text on this category (:func:`guide_section`);
            the short guide of :mod:`adaptive_llm_local.knowledge` is always included.
        rules
            The rule and fact sentences of the deterministic explanation.
        vocabulary
            Trusted text whose words a model sentence may use freely (the whole guide,
            the prompt's own instructions): only words that nothing but an instruction-like
            line contains betray an echo.
        """
        short = guide_for(category)
        guide_text = "\n".join((category, short.title, short.cause, short.fix, guide))
        pieces: list[Piece] = []
        instructions: list[str] = []
        seen: set[int] = set()
        for ev in lines:
            if ev.line in seen:
                continue
            seen.add(ev.line)
            if instruction_like(ev.text) or destructive(ev.text) or proposes_command(ev.text):
                # never evidence: it speaks to the assistant, or proposes what to run
                instructions.append(ev.text)
                continue
            pieces.append(Piece(ev.text, "line", line=ev.line))
            pieces.append(Piece(f"line {ev.line}", "line", line=ev.line))
        fact_items = facts.items if facts is not None else ()
        for f in fact_items:
            if instruction_like(f.value) or destructive(f.value) or proposes_command(f.value):
                instructions.append(f.value)  # e.g. the last output line, quoting the log
            else:
                pieces.append(Piece(f.value, "fact", line=f.line))
        for check in checks:
            detail = " ".join(check.detail.values())
            pieces.append(Piece(f"{check.text} {detail}", "check", check=check.name))
        for source in sources:
            if instruction_like(source.text) or destructive(source.text):
                instructions.append(source.text)
            else:
                cited = f"{source.kind} {source.cite()}: {source.text}"
                pieces.append(Piece(cited, "source", source=source.cite()))
        guide_piece = Piece(guide_text, "guide", guide=category)
        pieces.append(guide_piece)
        rule_pieces = [Piece(s.text, "rule", guide=s.grounds.guide) for s in rules]
        pieces.extend(rule_pieces)

        # Commands come from the guide, the checks and what the rules wrote themselves: a
        # rule or fact sentence that quotes the log (a line of code) proposes nothing.
        log_text = "\n".join((*[p.text for p in pieces if p.kind == "line"], *instructions))
        commands: list[tuple[tuple[str, ...], Piece]] = []
        for piece in (
            guide_piece,
            *[p for p in rule_pieces if p.text],
            *[p for p in pieces if p.kind == "check"],
        ):
            for code in re.findall(r"`([^`]+)`", piece.text):
                quoted = piece.kind == "rule" and code.strip() in log_text
                if not destructive(code) and not quoted:
                    commands.append((tuple(command_tokens(code)), piece))
            if piece.kind == "check":
                commands.append((tuple(command_tokens(piece.text)), piece))
        trusted = set(content_words(f"{guide_text}\n{vocabulary}"))
        for sentence in rules:
            trusted.update(content_words(sentence.text))
        return cls(
            category=category,
            pieces=tuple(pieces),
            commands=tuple(commands),
            instructions=tuple(instructions),
            facts=tuple(f.value for f in fact_items),
            trusted_words=frozenset(trusted),
        )

    def locate(self, claim: Claim) -> Grounds | None:
        """Where ``claim`` is backed, or ``None`` when nothing backs it."""
        if claim.kind == "command":
            wanted = tuple(command_tokens(claim.text))
            for tokens, piece in self.commands:
                if wanted and _contains(tokens, wanted):
                    return piece.grounds()
            return None
        found = [p for p in self.pieces if occurs(claim, p.text)]
        if not found:
            return None
        lines = [p.line for p in found if p.line is not None][:_MAX_LINES_PER_CLAIM]
        return merge(
            [Grounds(lines=tuple(lines))]
            + [p.grounds() for p in found if p.kind in ("check", "source", "guide")]
        )

    def echoes_instruction(self, text: str) -> bool:
        """Whether ``text`` repeats a line that speaks to the assistant, or words only it uses."""
        if not self.instructions:
            return False
        words = content_words(text)
        grams = {tuple(words[i : i + _ECHO_WORDS]) for i in range(len(words) - _ECHO_WORDS + 1)}
        evidence_words = {
            w for p in self.pieces if p.kind != "guide" for w in content_words(p.text)
        }
        for line in self.instructions:
            theirs = content_words(line)
            if grams & {
                tuple(theirs[i : i + _ECHO_WORDS]) for i in range(len(theirs) - _ECHO_WORDS + 1)
            }:
                return True
            borrowed = {w for w in set(words) & set(theirs) if len(w) >= 4}
            if borrowed - evidence_words - self.trusted_words:
                return True
        return False


def occurs(claim: Claim, text: str) -> bool:
    """Whether ``claim`` occurs in ``text`` as a whole word, path component or number."""
    if claim.kind == "number":
        return _number_occurs(claim, text)
    pattern = rf"(?<![\w]){re.escape(claim.text)}(?![\w])"
    return re.search(pattern, text) is not None


def _number_occurs(claim: Claim, text: str) -> bool:
    for match in NUMBER.finditer(text):
        if match.group(1) != claim.text:
            continue
        if not claim.unit or canonical_unit(match.group(2)) == claim.unit:
            return True
    return False


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def merge(grounds: Iterable[Grounds]) -> Grounds:
    """One :class:`Grounds` holding everything the given ones hold (order kept, no repeats)."""
    lines: list[int] = []
    checks: list[str] = []
    sources: list[str] = []
    guide: str | None = None
    for g in grounds:
        lines.extend(n for n in g.lines if n not in lines)
        checks.extend(c for c in g.checks if c not in checks)
        sources.extend(s for s in g.sources if s not in sources)
        guide = guide or g.guide
    return Grounds(tuple(lines), tuple(checks), tuple(sources), guide)


# --- judging one sentence ---------------------------------------------------------------------

_RULE_CATEGORIES_EXCLUDED = frozenset({"unknown", "none"})


def off_category(text: str, corpus: Corpus, names: Sequence[str] = ()) -> set[str]:
    """The other failure kinds ``text`` talks about instead of the corpus's category."""
    if corpus.category in _RULE_CATEGORIES_EXCLUDED:
        return set()
    mentioned = categories_mentioned(text)
    others = mentioned - {corpus.category} - _RULE_CATEGORIES_EXCLUDED
    if not others or corpus.category in mentioned:
        return set()
    if any(name and name in text for name in (*names, *corpus.facts)):
        return set()
    return others


def unsafe(text: str, corpus: Corpus | None = None) -> str | None:
    """Why no user may read ``text`` (from any origin), or ``None``."""
    why = destructive(text)
    if why is not None:
        return f"it recommends a destructive command (one that {why})"
    if instruction_like(text) or (corpus is not None and corpus.echoes_instruction(text)):
        return "it repeats text from the log or a document that addresses the assistant"
    return None


def judge(text: str, corpus: Corpus, *, names: Sequence[str] = ()) -> Sentence | str:
    """A grounded model sentence, or why ``text`` is dropped."""
    why = unsafe(text, corpus)
    if why is not None:
        return why
    others = off_category(text, corpus, names)
    if others:
        return (
            f"it is about {', '.join(sorted(others))}, but the log shows {corpus.category}; "
            "the rule wins"
        )
    claims = claims_of(text)
    if not claims:
        return "it names nothing the evidence can check (no path, name, number or command)"
    found: list[Grounds] = []
    for claim in claims:
        grounds = corpus.locate(claim)
        if grounds is None:
            return unbacked(claim)
        found.append(grounds)
    return Sentence(text, "model", merge(found))


def unbacked(claim: Claim, evidence: str = "the log, the checks, the sources and the guide") -> str:
    """Why a sentence stating ``claim``, which nothing in ``evidence`` backs, is dropped."""
    if claim.kind == "command":
        first = claim.text.split()[0] if claim.text.split() else "?"
        return (
            f"it recommends a command (`{first} …`) that neither the guide nor a check on this "
            "machine proposes"
        )
    what = {"path": "the path", "name": "", "number": "the number"}[claim.kind]
    shown = f"{claim.text} {claim.unit}".strip() if claim.kind == "number" else claim.text
    if len(shown) > 60:
        shown = shown[:59] + "…"
    label = f"{what} {shown}".strip()
    return f"it names {label}, which {evidence} do not contain"


def adds_something(sentence: Sentence, shown: Sequence[Sentence]) -> bool:
    """Whether ``sentence`` names something specific that ``shown`` does not.

    A paraphrase of the rule and fact sentences adds nothing a reader can act on, so only
    a new path, name, number or command counts.
    """
    said = " ".join(s.text for s in shown)
    return any(not occurs(claim, said) for claim in claims_of(sentence.text))


# --- a whole answer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grounded:
    """The sentences to show, what was dropped, and how much of the model's text survived."""

    cause: tuple[Sentence, ...]
    fix: tuple[Sentence, ...]
    dropped: tuple[Dropped, ...] = ()
    written: int = 0
    """Model sentences written."""
    written_chars: int = 0

    @property
    def kept(self) -> int:
        return sum(s.origin == "model" for s in (*self.cause, *self.fix))

    @property
    def kept_chars(self) -> int:
        return sum(len(s.text) for s in (*self.cause, *self.fix) if s.origin == "model")


def screen(sentences: Sequence[Sentence], part: Part) -> tuple[list[Sentence], list[Dropped]]:
    """Rule and fact sentences that are safe to show (they may quote the log)."""
    kept: list[Sentence] = []
    dropped: list[Dropped] = []
    for sentence in sentences:
        why = unsafe(sentence.text)
        if why is None:
            kept.append(sentence)
        else:
            dropped.append(Dropped(part, sentence.origin, why, len(sentence.text)))
    return kept, dropped


def ground_answer(
    base_cause: Sequence[Sentence],
    base_fix: Sequence[Sentence],
    model_cause: str | None,
    model_fix: str | None,
    corpus: Corpus,
    *,
    cut: tuple[bool, bool] = (False, False),
    names: Sequence[str] = (),
) -> Grounded:
    """The displayed cause and fix: the rule and fact sentences, then the model's that survive.

    Parameters
    ----------
    base_cause, base_fix
        Rule and fact sentences (already screened with :func:`screen`).
    model_cause, model_fix
        The model's root cause and fix as written (``None``: it gave none).
    cut
        Whether the model's cause or fix was cut off (token limit or the schema's length);
        its last sentence is then dropped unless it ends like a sentence.
    names
        Names that tie a sentence to this failure (the exception, names in the summary).
    """
    shown_cause = list(base_cause)
    shown_fix = list(base_fix)
    dropped: list[Dropped] = []
    written = 0
    written_chars = 0
    parts: tuple[tuple[Part, str | None, bool, list[Sentence]], ...] = (
        ("cause", model_cause, cut[0], shown_cause),
        ("fix", model_fix, cut[1], shown_fix),
    )
    for part, text, was_cut, shown in parts:
        sentences = split_sentences(text or "")
        for i, sentence in enumerate(sentences):
            written += 1
            written_chars += len(sentence)
            verdict: Sentence | str
            if was_cut and i == len(sentences) - 1 and not ends_cleanly(sentence):
                verdict = "it was cut off by the token limit"
            else:
                verdict = judge(sentence, corpus, names=names)
            if isinstance(verdict, Sentence) and not adds_something(
                verdict, [*shown_cause, *shown_fix]
            ):
                verdict = "it repeats what the rules and facts already say"
            if isinstance(verdict, str):
                dropped.append(Dropped(part, "model", verdict, len(sentence)))
            else:
                shown.append(verdict)
    return Grounded(tuple(shown_cause), tuple(shown_fix), tuple(dropped), written, written_chars)
