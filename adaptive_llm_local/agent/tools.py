"""The agent's tools: what each one reads or writes, and how it runs in the sandbox.

Each tool declares its access (``read`` or ``write``); the approval policy only looks
at that declaration. Reads run at once. Writes run in two steps: :meth:`Toolbox.plan`
validates the call and computes the diff shown for approval (no file is touched),
and :meth:`Toolbox.apply` applies it later, only when the journal holds an approval
for that call and the file is still what the diff was computed from.

The file tools keep langchain-community's ``FileManagementToolkit`` names and argument
names (``read_file(file_path)``, ``list_directory(dir_path)``, ``move_file(source_path,
destination_path)``); ``write_file`` edits by search-and-replace (``old_text`` ->
``new_text``) instead of overwriting whole files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..triage import redact
from ..triage.redact import EMAIL, REDACTED
from ..visible import visible
from .edits import check_compiles, propose, replace_once
from .errors import ToolError
from .journal import Journal, new_proposal_id
from .sandbox import Entry, FileText, Sandbox, refuse_hidden, sha256

READ = "read"
WRITE = "write"
_HIT_CHARS = 700

SearchFn = Callable[[str, int], Sequence[Any]]
"""``search(query, k)`` over the index: hits with ``kind``, ``source``, ``lines``, ``text``
(attributes or mapping keys), best first."""


class JobsProvider:
    """What ``job_status`` and ``/log`` need from a run: its jobs as mappings.

    Each mapping has ``job_id`` and, when known, ``job_name``, ``state`` (``pending``,
    ``running``, ``failed``, ``done``), ``log`` (path of the job's output log) and any
    other keys worth showing. Any object with a ``jobs()`` method fits.
    """

    def jobs(self) -> Sequence[Mapping[str, Any]]:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass(frozen=True)
class ToolSpec:
    """A tool as offered to a model: name, access, description, JSON-schema parameters."""

    name: str
    access: str
    description: str
    parameters: dict[str, Any]
    for_model: bool = True

    def function(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _params(required: Sequence[str], **props: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: {"type": t, "description": d} for k, (t, d) in props.items()},
        "required": list(required),
    }


SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "read_file",
            READ,
            "Read a text file of the run folder, whole or a range of lines.",
            _params(
                ["file_path"],
                file_path=("string", "path inside the run folder"),
                start_line=(
                    "integer",
                    "first line (from 1); negative: that many lines from the end",
                ),
                end_line=("integer", "last line, inclusive"),
            ),
        ),
        ToolSpec(
            "list_directory",
            READ,
            "List files and folders in a folder of the run folder.",
            _params(
                [], dir_path=("string", "folder inside the run folder (default: the run folder)")
            ),
        ),
        ToolSpec(
            "write_file",
            WRITE,
            "Edit a file: replace old_text (which must occur exactly once) by new_text. "
            "To create a new file, leave old_text empty. Needs the user's approval.",
            _params(
                ["file_path", "new_text"],
                file_path=("string", "path inside the run folder"),
                old_text=("string", "exact text to replace, including spaces and tabs"),
                new_text=("string", "replacement text"),
            ),
        ),
        ToolSpec(
            "move_file",
            WRITE,
            "Move or rename a file inside the run folder (never overwrites). Needs approval.",
            _params(
                ["source_path", "destination_path"],
                source_path=("string", "file to move"),
                destination_path=("string", "new path"),
            ),
        ),
        ToolSpec(
            "search_index",
            READ,
            "Search past job failures and documentation for a query.",
            _params(["query"], query=("string", "what to look for")),
        ),
        ToolSpec(
            "job_status",
            READ,
            "Show the run's jobs and their states, or one job's details.",
            _params([], job_id=("string", "one job id or name (default: all jobs)")),
        ),
        ToolSpec(
            "undo_edit",
            WRITE,
            "Revert an earlier write of this thread from its backup.",
            _params(["backup_id"], backup_id=("integer", "backup to restore")),
            for_model=False,
        ),
    )
}


@dataclass(frozen=True)
class ToolResult:
    """What a tool call returned, as shown in the thread."""

    ok: bool
    content: str
    label: str
    meta: dict[str, Any] = field(default_factory=dict)


def _field(hit: Any, name: str, default: Any = None) -> Any:
    if isinstance(hit, Mapping):
        return hit.get(name, default)
    return getattr(hit, name, default)


def _int_arg(args: Mapping[str, Any], name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolError(f"{name} must be a whole number, got {value!r}") from None


def _str_arg(args: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if value is None:
        raise ToolError(f"missing argument {name!r}")
    if not isinstance(value, str):
        raise ToolError(f"argument {name!r} must be text")
    return value


def call_label(name: str, args: Mapping[str, Any]) -> str:
    """``read_file x.py``: a call named by its tool and main argument."""
    for key in ("file_path", "dir_path", "source_path", "query", "job_id"):
        if args.get(key):
            return f"{name} {visible(str(args[key])[:120], name=True)}"
    return name


def render_file(text: FileText) -> tuple[str, str]:
    """(content, label) of a read: a header line with the range, then the text."""
    if text.first_line < 0:
        where = f"last {-text.first_line} lines"
        label = f"{text.path} (last {-text.first_line} lines)"
    else:
        where = f"lines {text.first_line}-{text.last_line}"
        label = f"{text.path}:{text.first_line}-{text.last_line}"
    more = f"; {text.note}" if text.note else ", truncated" if text.truncated else ""
    return f"{text.path} ({where}{more}):\n{text.text}", label


def render_listing(rel: str, entries: Sequence[Entry], capped: bool) -> str:
    lines = [f"{rel}/ ({len(entries)} entries{', more not shown' if capped else ''}):"]
    for entry in entries:
        name = visible(entry.name, name=True)  # a name with a newline must not fake entries
        if entry.kind == "folder":
            lines.append(f"  {name}/")
        elif entry.kind == "file":
            lines.append(f"  {name}  ({entry.size} bytes)")
        else:
            lines.append(f"  {name}  ({entry.kind}, not opened)")
    return "\n".join(lines)


def refuse_placeholders(rel: str, current: str | None, old: str, new: str) -> None:
    """Refuse an edit that holds a redaction placeholder the file itself does not.

    The assistant reads files redacted: a secret in them shows as ``[REDACTED]``. An edit
    whose ``old_text`` holds one cannot match the real file, and one whose ``new_text``
    holds one would write the placeholder over the user's secret.
    """
    for placeholder in (REDACTED, EMAIL):
        if placeholder in old + new and (current is None or placeholder not in current):
            where = "old_text" if placeholder in old else "new_text"
            raise ToolError(
                f"{rel}: {where} holds {placeholder}, which stands for text hidden from the "
                "assistant (a secret or an e-mail address); nothing written. Leave that line "
                "out of the edit, or ask the user to change it."
            )


class Toolbox:
    """Runs tool calls against the sandbox, the index and the run's jobs.

    Parameters
    ----------
    sandbox
        File access confined to the run folder.
    journal
        Audit log and backups; writes need an approval recorded here.
    search
        ``search(query, k)`` over the index, or ``None`` (no ``search_index`` tool).
    jobs
        The run's jobs (``jobs()``), or ``None`` (no ``job_status`` tool).
    """

    def __init__(
        self,
        sandbox: Sandbox,
        journal: Journal,
        *,
        search: SearchFn | None = None,
        jobs: Any = None,
    ) -> None:
        self.sandbox = sandbox
        self.journal = journal
        self.search = search
        self.jobs = jobs

    # --- declarations ---------------------------------------------------------------

    def specs(self, *, for_model: bool = True) -> list[ToolSpec]:
        available = []
        for spec in SPECS.values():
            if for_model and not spec.for_model:
                continue
            if spec.name == "search_index" and self.search is None:
                continue
            if spec.name == "job_status" and self.jobs is None:
                continue
            available.append(spec)
        return available

    def access(self, name: str) -> str:
        spec = SPECS.get(name)
        if spec is None or spec not in self.specs(for_model=False):
            names = ", ".join(s.name for s in self.specs())
            raise ToolError(f"unknown tool {name!r}; the tools are {names}")
        return spec.access

    # --- reads ----------------------------------------------------------------------

    def run_read(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        """Run a read tool; a refusal or failure comes back as ``ok=False``."""
        try:
            return self._read(name, args)
        except (ToolError, OSError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return ToolResult(False, f"Error: {message}", f"{call_label(name, args)} (refused)")

    def _read(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        if name == "read_file":
            text = self.sandbox.read_text(
                _str_arg(args, "file_path"),
                _int_arg(args, "start_line"),
                _int_arg(args, "end_line"),
            )
            content, label = render_file(text)
            return ToolResult(True, content, label, {"path": text.path})
        if name == "list_directory":
            rel, entries, capped = self.sandbox.list_dir(_str_arg(args, "dir_path", "."))
            return ToolResult(True, render_listing(rel, entries, capped), f"{rel}/")
        if name == "search_index":
            return self._search(_str_arg(args, "query"))
        if name == "job_status":
            return self._job_status(args.get("job_id"))
        raise ToolError(f"{name} is not a read tool")

    def _search(self, query: str) -> ToolResult:
        if self.search is None:
            raise ToolError("no index is available in this chat")
        hits = list(self.search(query, 4))
        if not hits:
            return ToolResult(True, f"Nothing in the index matches {query!r}.", f"index: {query}")
        parts = []
        for i, hit in enumerate(hits, 1):
            where = _field(hit, "source", "?")
            if _field(hit, "lines"):
                where += f":{_field(hit, 'lines')}"
            text = str(_field(hit, "text", ""))[:_HIT_CHARS]
            parts.append(f"{i}. [{_field(hit, 'kind', 'hit')}] {where}\n{text}")
        return ToolResult(True, "\n\n".join(parts), f"index: {query}")

    def job_records(self) -> list[Mapping[str, Any]]:
        if self.jobs is None:
            raise ToolError("this chat is not attached to a run, so it has no jobs")
        return list(self.jobs.jobs())

    def find_job(self, job: str) -> Mapping[str, Any]:
        for record in self.job_records():
            if job in (str(record.get("job_id")), str(record.get("job_name"))):
                return record
        raise ToolError(f"no job {job!r} in this run; /jobs lists them")

    def _job_status(self, job: object) -> ToolResult:
        if job:
            refuse_hidden(str(job), "the job id")
            record = self.find_job(str(job))
            lines = [f"{key}: {value}" for key, value in record.items()]
            return ToolResult(True, "\n".join(lines), f"job {job}")
        records = self.job_records()
        if not records:
            return ToolResult(True, "The run has no jobs yet.", "jobs")
        lines = [f"{len(records)} jobs:"]
        for r in records:
            name = f" {r['job_name']}" if r.get("job_name") else ""
            lines.append(f"  {r.get('job_id')}{name}: {r.get('state', '?')}")
        return ToolResult(True, "\n".join(lines), "jobs")

    # --- writes ---------------------------------------------------------------------

    def plan(self, thread_id: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a write and compute what approval shows; touches no file.

        Returns a JSON-able plan: ``kind`` (``edit``, ``create``, ``move``, ``restore``,
        ``delete``), ``path``, ``dest``, ``before_sha``, ``diff``, ``hunks``, ``summary``
        and ``proposal_id``, this proposal's own id in the journal (an approval of it, and
        only of it, lets :meth:`apply` write).
        """
        return {**self._plan(thread_id, name, args), "proposal_id": new_proposal_id()}

    @property
    def root(self) -> str:
        """The sandbox root (resolved) as the journal names it."""
        return str(self.sandbox.root)

    def _plan(self, thread_id: str, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if name == "write_file":
            rel, current, after = self._edit(args)
            proposal = propose(rel, current, after)
            kind = "edit" if current is not None else "create"
            n = len(proposal.hunks)
            return {  # what is shown and kept of the change is redacted; apply() redoes it
                "kind": kind,
                "path": rel,
                "dest": None,
                "before_sha": sha256(current),
                "diff": redact(proposal.diff),
                "hunks": [redact(h.text) for h in proposal.hunks],
                "summary": f"{kind} {rel} ({n} hunk{'s' if n != 1 else ''})",
            }
        if name == "move_file":
            src, dst = self.sandbox.check_move(
                _str_arg(args, "source_path"), _str_arg(args, "destination_path")
            )
            return self._move_plan(src, dst)
        if name == "undo_edit":
            return self._undo_plan(thread_id, _int_arg(args, "backup_id"))
        raise ToolError(f"{name} is not a write tool")

    @staticmethod
    def _move_plan(src: str, dst: str, summary: str | None = None) -> dict[str, Any]:
        return {
            "kind": "move",
            "path": src,
            "dest": dst,
            "before_sha": None,
            "diff": f"rename {src} -> {dst}\n",
            "hunks": [],
            "summary": summary or f"move {src} -> {dst}",
        }

    def _edit(self, args: Mapping[str, Any]) -> tuple[str, str | None, str]:
        path = _str_arg(args, "file_path")
        old = _str_arg(args, "old_text", "")
        new = args.get("new_text", args.get("text"))
        if not isinstance(new, str):
            raise ToolError("write_file needs new_text (the replacement text)")
        rel, current = self.sandbox.read_for_edit(path)
        self.sandbox.refuse_notebook(rel)
        refuse_placeholders(rel, current, old, new)
        after = replace_once(rel, current, old, new)
        check_compiles(rel, after)
        return rel, current, after

    def _undo_plan(self, thread_id: str, backup_id: int | None) -> dict[str, Any]:
        backup = self.journal.backup(backup_id) if backup_id is not None else None
        if backup is None or backup.thread_id != thread_id or backup.root not in (None, self.root):
            raise ToolError("nothing to undo in this thread")
        if backup.kind == "move":
            return {
                **self._move_plan(
                    backup.dest or "", backup.path, f"undo: move back to {backup.path}"
                ),
                "backup_id": backup.id,
            }
        rel, current = self.sandbox.read_for_edit(backup.path)
        if sha256(current) != backup.after_sha:
            raise ToolError(
                f"{rel} changed after the edit; /undo would lose those changes, so it stops"
            )
        after = backup.before if backup.before is not None else ""
        proposal = propose(rel, current, after)
        kind = "restore" if backup.before is not None else "delete"
        what = "restore the previous version" if kind == "restore" else "delete the file it created"
        return {
            "kind": kind,
            "path": rel,
            "dest": None,
            "before_sha": backup.after_sha,
            "diff": redact(proposal.diff),
            "hunks": [redact(h.text) for h in proposal.hunks],
            "summary": f"undo: {what} of {rel}",
            "backup_id": backup.id,
        }

    def apply(
        self,
        thread_id: str,
        call: Mapping[str, Any],
        plan: Mapping[str, Any],
        hunks: Sequence[int] | None = None,
    ) -> ToolResult:
        """Apply an approved write; refuses any call without an approval record."""
        call_id, name = str(call["id"]), str(call["name"])
        proposal_id = str(plan.get("proposal_id") or "")
        authorized_by = self.journal.authorization(thread_id, call_id, proposal_id)
        if authorized_by is None:
            raise ToolError(f"{name} {plan.get('path')}: refused, no approval is recorded for it")
        kind = plan["kind"]
        if kind == "move":
            src, dst = self.sandbox.move(plan["path"], plan["dest"])
            if "backup_id" in plan:
                self.journal.mark_undone(int(plan["backup_id"]))
            else:
                self.journal.save_backup(
                    thread_id, call_id, "move", src, dest=dst, proposal=proposal_id, root=self.root
                )
            self._applied(thread_id, call_id, proposal_id, name, src, plan["diff"], authorized_by)
            return ToolResult(True, f"Moved {src} to {dst}.", f"move {src}")
        if kind in ("restore", "delete"):
            return self._apply_undo(thread_id, call_id, proposal_id, name, plan, authorized_by)
        rel, current, after = self._edit(call["args"])
        if sha256(current) != plan["before_sha"]:
            raise ToolError(
                f"{rel} changed since the diff was shown; nothing written, propose it again"
            )
        proposal = propose(rel, current, after)
        note = ""
        if hunks is not None and len(hunks) < len(proposal.hunks):
            after = proposal.select(hunks)
            check_compiles(rel, after)
            rejected = [h for h in proposal.hunks if h.number not in set(hunks)]
            note = (
                f" Applied hunk(s) {', '.join(map(str, sorted(hunks)))} of {len(proposal.hunks)};"
                " the user rejected:\n" + "".join(h.text for h in rejected)
            )
            proposal = propose(rel, current, after)
        self.sandbox.write_text(rel, after, expected_sha256=plan["before_sha"])
        self.journal.save_backup(
            thread_id,
            call_id,
            "edit",
            rel,
            before=current,
            after_sha=sha256(after),
            proposal=proposal_id,
            root=self.root,
        )
        self._applied(
            thread_id, call_id, proposal_id, name, rel, redact(proposal.diff), authorized_by
        )
        verb = "Created" if current is None else "Edited"
        return ToolResult(
            True, f"{verb} {rel} (/undo reverts it).{note}", f"edit {rel}", {"path": rel}
        )

    def _apply_undo(
        self,
        thread_id: str,
        call_id: str,
        proposal: str,
        name: str,
        plan: Mapping[str, Any],
        authorized_by: str,
    ) -> ToolResult:
        backup = self.journal.backup(int(plan["backup_id"]))
        if backup is None:
            raise ToolError("that edit was already undone")
        if plan["kind"] == "delete":
            rel = self.sandbox.remove(backup.path, expected_sha256=backup.after_sha)
            message = f"Undone: deleted {rel}, which the edit had created."
        else:
            rel = self.sandbox.write_text(
                backup.path, backup.before or "", expected_sha256=backup.after_sha
            )
            message = f"Undone: {rel} is back to its previous version."
        self.journal.mark_undone(backup.id)
        self._applied(thread_id, call_id, proposal, name, rel, plan["diff"], authorized_by)
        return ToolResult(True, message, f"undo {rel}", {"path": rel})

    def _applied(
        self,
        thread_id: str,
        call_id: str,
        proposal: str,
        tool: str,
        path: str,
        diff: str,
        authorized_by: str,
    ) -> None:
        self.journal.record(
            thread_id,
            call_id,
            "applied",
            proposal=proposal,
            tool=tool,
            path=path,
            diff=diff,
            actor=authorized_by,
            root=self.root,
        )
