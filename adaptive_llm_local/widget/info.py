"""``info(run_manager)``: adaptive-scheduler's info panel with a "show chat" button added.

adaptive-scheduler is not modified: its ``widgets.info`` builds the panel (without
displaying it), and the chat button and the chat's place are added to the boxes it
returns.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .chat import ChatWidget, chat_widget

SHOW = "show chat"
HIDE = "hide chat"


class _ChatToggle:
    """Opens the chat (attaching the assistant first if the run has none) and hides it."""

    def __init__(self, run_manager: Any, llm: Any, button: w.Button, place: w.VBox) -> None:
        self.run_manager = run_manager
        self.llm = llm
        self.button = button
        self.place = place
        self.chat: ChatWidget | None = None

    def __call__(self, _: Any = None) -> None:
        if self.button.description == SHOW:
            if self.chat is None:
                self.chat = chat_widget(self._manager())
            self.place.children = (self.chat.box,)
            self.button.description = HIDE
            self.button.button_style = "warning"
        else:
            self.place.children = ()
            self.button.description = SHOW
            self.button.button_style = "info"

    def _manager(self) -> Any:
        if self.llm is not None:
            return self.llm
        existing = getattr(self.run_manager, "llm_manager", None)
        if existing is not None:
            return existing
        from ..manager import attach

        return attach(self.run_manager)


def info(
    run_manager: Any,
    *,
    llm: Any = None,
    disable_widgets_output_scrollbar: bool = True,
) -> w.VBox:
    """adaptive-scheduler's ``info`` panel for ``run_manager`` plus a "show chat" button.

    Parameters
    ----------
    run_manager
        The ``RunManager``.
    llm
        The chat's manager; by default ``run_manager.llm_manager`` (set by ``attach``),
        attached when the chat is first opened if the run has none.
    disable_widgets_output_scrollbar
        Passed to adaptive-scheduler's ``info``.

    Returns
    -------
    ipywidgets.VBox
        The panel (shown when it is a cell's last expression). ``panel.chat_button``
        toggles the chat; ``panel.chat_toggle.chat`` is the ``ChatWidget`` once opened.
    """
    from adaptive_scheduler import widgets

    panel = widgets.info(
        run_manager,
        display_widget=False,
        disable_widgets_output_scrollbar=disable_widgets_output_scrollbar,
    )
    top, *outputs = panel.children
    _status, buttons = top.children
    button = w.Button(description=SHOW, button_style="info", layout=w.Layout(width="200px"))
    place = w.VBox([])
    toggle = _ChatToggle(run_manager, llm, button, place)
    button.on_click(toggle)
    buttons.children = (*buttons.children, button)
    panel.children = (top, *outputs, place)
    panel.chat_button = button
    panel.chat_toggle = toggle
    return panel
