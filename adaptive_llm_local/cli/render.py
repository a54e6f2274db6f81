"""How triage results, diagnoses and sources look in a terminal (rich), and the ingestion bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .console import console, escape, visible, visible_text

if TYPE_CHECKING:
    from ..diagnose import Diagnosis
    from ..diagnose.sentences import Sentence
    from ..retrieval import Source
    from ..triage import TriageResult

_CATEGORY_STYLE = {"none": "green", "unknown": "yellow"}


def category_markup(category: str) -> str:
    return f"[{_CATEGORY_STYLE.get(category, 'bold red')}]{escape(category)}[/]"


def print_triage(out: Any, result: TriageResult) -> None:
    """A panel with the category, exception, key line and signature, then the evidence lines."""
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", justify="right")
    table.add_column()
    table.add_row("category", category_markup(result.category))
    if result.exception:
        table.add_row("exception", escape(result.exception))
    if result.key_line is not None:
        table.add_row("key line", f"{result.key_line_number}: {escape(result.key_line)}")
    table.add_row("signature", f"{escape(result.signature)}  [dim]{escape(result.summary)}[/]")
    for note in result.notes:
        table.add_row("note", f"[yellow]{escape(note)}[/]")
    out.print(Panel(table, title=f"triage · {escape(result.source)}", title_align="left"))
    for ev in result.evidence:
        mark = "[bold red]>[/]" if ev.line == result.key_line_number else " "
        out.print(f"{mark}[dim]{ev.line:>7}[/] {escape(ev.text)}")


def print_diagnosis(
    out: Any, diagnosis: Diagnosis, *, title: str = "diagnosis", key_line: bool = False
) -> None:
    """A panel with the cause, the fix and where each sentence comes from, then the sources.

    Each sentence is followed by what backs it (log lines, checks, ``[n]`` sources, the
    guide); the model's sentences are in italics behind a dim ``model`` tag, explained by
    a legend. A diagnosis stored before sentences existed shows its two strings.

    Parameters
    ----------
    title
        The panel's title (rich markup).
    key_line
        Show the log's key line too (when no triage panel was printed before).
    """
    from rich.panel import Panel
    from rich.text import Text

    from ..diagnose.diagnosis import MODEL_LEGEND

    body = Text()
    if key_line and diagnosis.key_line:
        body.append(f"Key line {diagnosis.key_line_number}: ", style="bold")
        body.append(diagnosis.key_line[:160] + "\n", style="yellow")
    for label, sentences, text in (
        ("Root cause", diagnosis.cause, diagnosis.root_cause),
        ("Fix", diagnosis.fix, diagnosis.suggested_fix),
    ):
        body.append(f"{label}: ", style="bold")
        if sentences:
            _append_sentences(body, sentences, diagnosis)
        else:
            body.append(text + "\n")
    checks = [c for c in diagnosis.checks if c.status != "skipped"]
    if checks:
        body.append("checks: ", style="dim")
        for i, check in enumerate(checks):
            body.append(" · " if i else "", style="dim")
            body.append(check.name, style="dim")
            body.append(f" {check.status}", style="red" if check.status == "problem" else "green")
        body.append("\n")
    body.append(
        f"confidence {diagnosis.confidence:.2f} · explained by {diagnosis.explained_by}",
        style="dim",
    )
    if diagnosis.model:
        body.append(f" · model {diagnosis.model}", style="dim")
    body.append(f" · {diagnosis.seconds:.1f} s", style="dim")
    if diagnosis.model_sentences:
        body.append(f"\n{MODEL_LEGEND}", style="dim italic")
    for note in diagnosis.notes:
        body.append(f"\nnote: {note}", style="yellow")
    out.print(Panel(visible_text(body), title=title, title_align="left", border_style="cyan"))
    print_sources(out, diagnosis.sources, diagnosis.signature)


def _append_sentences(body: Any, sentences: list[Sentence], diagnosis: Diagnosis) -> None:
    """One sentence a line (after the first), each followed by its grounds."""
    from ..diagnose.diagnosis import grounds_label

    for i, sentence in enumerate(sentences):
        if i:
            body.append("  ")
        if sentence.origin == "model":
            body.append("model ", style="dim")
            body.append(sentence.text, style="italic")
        else:
            body.append(sentence.text)
        grounds = grounds_label(sentence, diagnosis.sources)
        if grounds:
            body.append(f"  ({grounds})", style="dim")
        body.append("\n")


def print_sources(out: Any, sources: list[Source], signature: str | None = None) -> None:
    if sources:
        out.print("[bold]Sources[/]")
        for i, source in enumerate(sources, 1):
            out.print(f"  [{i}] {describe_source(source, signature)}")


def describe_source(source: Source, signature: str | None = None) -> str:
    """One line per source; a past failure with the same signature is flagged as seen before."""
    text = f"{source.kind} {escape(source.cite())}"
    if source.category:
        text += f" [dim]({escape(source.category)})[/]"
    text += f" score {source.score:.2f}"
    if source.kind == "failure" and signature and source.signature == signature:
        seen = source.extra.get("occurrences", 1)
        text = f"[bold green]seen before[/] ({seen}x, same signature): " + text
        if source.extra.get("fix_worked") is True:
            text += " · [green]its fix worked[/]"
    return text


def print_piece(out: Any, piece: str) -> None:
    """One piece of a model's answer as it streams, shown literally."""
    out.print(visible(piece), end="", markup=False, highlight=False)


def print_hits(out: Any, query: str, hits: list[Source]) -> None:
    """``index search``: a table of hits, best first (text cut at 400 characters)."""
    if not hits:
        out.print(f"Nothing relevant in the index for {escape(repr(query))}.")
        return
    from rich.table import Table

    table = Table(show_lines=True, title=f"index search · {escape(query)}", title_justify="left")
    for name in ("#", "kind", "source", "score", "text"):
        table.add_column(name, overflow="fold")
    for i, hit in enumerate(hits, 1):
        what = escape(hit.kind) + (f"\n[dim]{escape(hit.category)}[/]" if hit.category else "")
        text = hit.text if len(hit.text) <= 400 else hit.text[:399] + "…"
        table.add_row(str(i), what, escape(hit.cite()), f"{hit.score:.3f}", escape(text))
    out.print(table)


def print_index_stats(out: Any, stats: dict[str, Any]) -> None:
    """``index stats``: location, embedding model, counts per collection, thresholds."""
    from rich.table import Table

    table = Table(title="adaptive-llm-local index", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("location", escape(stats["location"]))
    table.add_row("embedding model", escape(stats["configured_embed_model"]))
    for kind, info in stats["collections"].items():
        detail = info.get("by_category") or info.get("by_origin") or {}
        breakdown = ", ".join(f"{k} {v}" for k, v in detail.items())
        table.add_row(
            escape(kind),
            f"{info['count']} entries" + (f" ({escape(breakdown)})" if breakdown else ""),
        )
        built = info.get("embed_model")
        if built and built != stats["configured_embed_model"]:
            table.add_row(
                "", f"[red]built with {escape(built)}: run `adaptive-llm-local index rebuild`[/]"
            )
    thresholds = stats["thresholds"]
    table.add_row("relevance", ", ".join(f"{k} {v:g}" for k, v in thresholds.items()))
    out.print(table)


def print_doctor(out: Any, report: dict[str, Any]) -> None:
    """``doctor``: one row per fact, then the problems found (or "ready")."""
    from rich.table import Table

    table = Table(title="adaptive-llm-local doctor", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in report["rows"]:
        table.add_row(escape(key), escape(value))
    out.print(table)
    for problem in report["problems"]:
        out.print(f"[red]✗[/] {escape(problem)}")
    if report["ok"]:
        out.print("[green]✓[/] ready")


class StreamedAnswer:
    """A transient live view of the root cause and the fix while the model writes them.

    Use as a context manager and pass :attr:`on_token` to the diagnosis.
    """

    def __init__(self, out: Any) -> None:
        from rich.live import Live

        from ..diagnose import PartialAnswer

        self._live = Live(self._render({}), console=out, refresh_per_second=12, transient=True)
        self.on_token = PartialAnswer(lambda fields: self._live.update(self._render(fields)))

    def __enter__(self) -> StreamedAnswer:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    @staticmethod
    def _render(fields: dict[str, str]) -> Any:
        """The model's draft, dimmed: it is checked against the evidence when it is done.

        A draft that recommends a destructive command or repeats text addressed to the
        assistant is withheld even here.
        """
        from rich.text import Text

        from ..diagnose.hazards import instruction_like, risky_draft

        text = Text()
        if not fields:
            text.append("thinking…", style="dim")
        else:
            text.append("model draft, checked when done\n", style="dim italic")
        for label, key in (("Root cause", "root_cause"), ("Fix", "suggested_fix")):
            if key in fields:
                text.append(f"{label}: ", style="bold")
                draft = fields[key]
                if risky_draft(draft) or instruction_like(draft):
                    text.append("(withheld: it does not pass the safety checks)\n", style="dim")
                else:
                    text.append(draft + "\n", style="dim")
        return visible_text(text)


class RichProgress:
    """A rich progress bar on stderr for :class:`~adaptive_llm_local.retrieval.Progress`.

    Parameters
    ----------
    out
        The console to draw on (default: stderr).
    """

    def __init__(self, out: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=out if out is not None else console(stderr=True),
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, total: int, description: str) -> None:
        if total <= 0:
            return
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, message: str) -> None:
        self._progress.console.print(f"[yellow]{escape(message)}[/]", soft_wrap=True)
