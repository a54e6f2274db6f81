"""``undo_edit``: revert an earlier write of the thread from its backup (``/undo``).

Only the agent calls it (the model is not offered it); it takes the same approval path
as every write. An edit is restored (or the file it created deleted) only while the
file is still what the edit left; a move is moved back.
"""

from __future__ import annotations

from ...triage import redact
from ..edits import propose
from ..errors import ToolError
from ..sandbox import sha256
from ..types import Plan, PlanKind, ToolArgs
from .base import Approved, ToolResult, ToolSpec, int_arg, params
from .writes import FileWrite, move_plan, refuse_kind


class UndoEdit(FileWrite):
    spec = ToolSpec(
        "undo_edit",
        "Revert an earlier write of this thread from its backup.",
        params(["backup_id"], backup_id=("integer", "backup to restore")),
        for_model=False,
    )

    def plan(self, thread_id: str, args: ToolArgs) -> Plan:
        backup_id = int_arg(args, "backup_id")
        backup = self.journal.backup(backup_id) if backup_id is not None else None
        if backup is None or backup.thread_id != thread_id or backup.root not in (None, self.root):
            raise ToolError("nothing to undo in this thread")
        if backup.kind == "move":
            summary = f"undo: move back to {backup.path}"
            return {**move_plan(backup.dest or "", backup.path, summary), "backup_id": backup.id}
        rel, current = self.sandbox.read_for_edit(backup.path)
        if sha256(current) != backup.after_sha:
            raise ToolError(
                f"{rel} changed after the edit; /undo would lose those changes, so it stops"
            )
        after = backup.before if backup.before is not None else ""
        proposal = propose(rel, current, after)
        kind: PlanKind = "restore" if backup.before is not None else "delete"
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

    def apply(self, approved: Approved) -> ToolResult:
        refuse_kind(approved, "move", "restore", "delete")
        plan = approved.plan
        if plan["kind"] == "move":
            return self.apply_move(approved)
        backup = self.journal.backup(int(plan.get("backup_id", -1)))
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
        approved.applied(rel, plan["diff"])
        return ToolResult(True, message, f"undo {rel}")
