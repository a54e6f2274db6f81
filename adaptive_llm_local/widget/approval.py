"""The approval panel: the proposed diff, one tick box per hunk, Approve and Deny.

A decision can be taken once per request: the first click disables both buttons before
anything else happens, so a double click (or Approve then Deny) cannot decide twice.
"""

from __future__ import annotations

import ipywidgets as w

from ..agent import PendingApproval
from .messages import approval_html


class ApprovalPanel:
    """Shows a pending approval (``llm.pending``) and hands out one decision for it."""

    def __init__(self) -> None:
        self.pending: PendingApproval | None = None
        self.used = True
        self.html = w.HTML("")
        self.hunks = w.VBox([])
        self.approve_button = w.Button(description="Approve", button_style="success", disabled=True)
        self.deny_button = w.Button(description="Deny", button_style="danger", disabled=True)
        self.box = w.VBox([])

    def show(self, pending: PendingApproval | None, *, enabled: bool) -> None:
        """Show ``pending`` (``None`` hides the panel); buttons clickable when ``enabled``."""
        self.pending = pending
        if pending is None:
            self.box.children = ()
            self.used = True
            return
        self.used = False
        self.html.value = approval_html(pending)
        edits = [a for a in pending.actions if len(a.hunks) > 1]
        self.hunks.children = (
            tuple(
                w.Checkbox(value=True, description=f"hunk {i}", indent=False)
                for i in range(1, len(edits[0].hunks) + 1)
            )
            if len(edits) == 1
            else ()
        )
        self.enable(enabled)
        self.box.children = (self.html, self.hunks, w.HBox([self.approve_button, self.deny_button]))

    def enable(self, enabled: bool = True) -> None:
        """Make the buttons clickable again (after a turn) unless the decision was taken."""
        clickable = enabled and self.pending is not None and not self.used
        self.approve_button.disabled = not clickable
        self.deny_button.disabled = not clickable

    def take(self, approve: bool) -> tuple[bool, list[int] | None] | None:
        """The decision ``(approve, hunks)``, once; ``None`` if there is nothing to decide."""
        if self.used or self.pending is None:
            return None
        self.used = True
        self.enable(False)
        boxes = list(self.hunks.children)
        chosen = [i for i, box in enumerate(boxes, 1) if box.value]
        hunks = chosen if boxes and len(chosen) < len(boxes) else None
        if approve and hunks == []:
            return False, None  # every hunk unticked: nothing to apply
        return approve, hunks
