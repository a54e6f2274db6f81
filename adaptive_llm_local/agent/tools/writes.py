"""The write tools over the sandbox: ``write_file`` and ``move_file``.

``write_file`` edits by search-and-replace (``old_text`` -> ``new_text``; langchain's
``text`` is taken for ``new_text``) instead of overwriting whole files. What approval
shows and the journal keeps of a change is redacted; :meth:`WriteFile.apply` recomputes
the change from the call and writes only while the file is what the diff was made from.
Every applied write leaves a backup (for ``/undo``) and an ``applied`` audit record.
"""

from __future__ import annotations

from ...triage import redact
from ...triage.redact import EMAIL, REDACTED
from ..edits import check_compiles, propose, replace_once
from ..errors import ToolError
from ..journal import Journal
from ..sandbox import Sandbox, sha256
from ..types import Plan, PlanKind, ToolArgs
from .base import Approved, ToolResult, ToolSpec, WriteTool, params, str_arg


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


def move_plan(src: str, dst: str, summary: str | None = None) -> Plan:
    return {
        "kind": "move",
        "path": src,
        "dest": dst,
        "before_sha": None,
        "diff": f"rename {src} -> {dst}\n",
        "hunks": [],
        "summary": summary or f"move {src} -> {dst}",
    }


def refuse_kind(approved: Approved, *kinds: str) -> None:
    """A plan this tool never makes (a forged thread state) is not applied."""
    if approved.plan["kind"] not in kinds:
        raise ToolError(f"{approved.name}: a {approved.plan['kind']} plan is not one of its own")


class FileWrite(WriteTool):
    """A write tool over the sandbox, journaled in the agent's journal."""

    def __init__(self, sandbox: Sandbox, journal: Journal) -> None:
        self.sandbox = sandbox
        self.journal = journal

    @property
    def root(self) -> str:
        """The sandbox root (resolved) as the journal names it."""
        return str(self.sandbox.root)

    def apply_move(self, approved: Approved) -> ToolResult:
        """Do an approved move (a ``move_file``, or the undo of one)."""
        plan = approved.plan
        src, dst = self.sandbox.move(plan["path"], plan["dest"] or "")
        if "backup_id" in plan:
            self.journal.mark_undone(int(plan["backup_id"]))
        else:
            self.journal.save_backup(
                approved.thread_id,
                approved.call_id,
                "move",
                src,
                dest=dst,
                proposal=approved.proposal_id,
                root=self.root,
            )
        approved.applied(src, plan["diff"])
        return ToolResult(True, f"Moved {src} to {dst}.", f"move {src}")


class WriteFile(FileWrite):
    spec = ToolSpec(
        "write_file",
        "Edit a file: replace old_text (which must occur exactly once) by new_text. "
        "To create a new file, leave old_text empty. Needs the user's approval.",
        params(
            ["file_path", "new_text"],
            file_path=("string", "path inside the run folder"),
            old_text=("string", "exact text to replace, including spaces and tabs"),
            new_text=("string", "replacement text"),
        ),
    )

    def edit(self, args: ToolArgs) -> tuple[str, str | None, str]:
        """The checked path, the file's text now (``None``: new) and after the edit."""
        path = str_arg(args, "file_path")
        old = str_arg(args, "old_text", "")
        new = args.get("new_text", args.get("text"))
        if not isinstance(new, str):
            raise ToolError("write_file needs new_text (the replacement text)")
        rel, current = self.sandbox.read_for_edit(path)
        self.sandbox.refuse_notebook(rel)
        refuse_placeholders(rel, current, old, new)
        after = replace_once(rel, current, old, new)
        check_compiles(rel, after)
        return rel, current, after

    def plan(self, thread_id: str, args: ToolArgs) -> Plan:
        rel, current, after = self.edit(args)
        proposal = propose(rel, current, after)
        kind: PlanKind = "edit" if current is not None else "create"
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

    def apply(self, approved: Approved) -> ToolResult:
        refuse_kind(approved, "edit", "create")
        plan, hunks = approved.plan, approved.hunks
        rel, current, after = self.edit(approved.call["args"])
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
            approved.thread_id,
            approved.call_id,
            "edit",
            rel,
            before=current,
            after_sha=sha256(after),
            proposal=approved.proposal_id,
            root=self.root,
        )
        approved.applied(rel, redact(proposal.diff))
        verb = "Created" if current is None else "Edited"
        return ToolResult(True, f"{verb} {rel} (/undo reverts it).{note}", f"edit {rel}")


class MoveFile(FileWrite):
    spec = ToolSpec(
        "move_file",
        "Move or rename a file inside the run folder (never overwrites). Needs approval.",
        params(
            ["source_path", "destination_path"],
            source_path=("string", "file to move"),
            destination_path=("string", "new path"),
        ),
    )

    def plan(self, thread_id: str, args: ToolArgs) -> Plan:
        src, dst = self.sandbox.check_move(
            str_arg(args, "source_path"), str_arg(args, "destination_path")
        )
        return move_plan(src, dst)

    def apply(self, approved: Approved) -> ToolResult:
        refuse_kind(approved, "move")
        return self.apply_move(approved)
