"""The chat in the notebook: ``chat_widget(llm)`` and ``info(run_manager)`` with a chat button.

Everything is rendered in Python (Markdown, highlighted code, sanitised HTML) and shown
with ipywidgets only: no JavaScript bundle, nothing fetched from the internet.
"""

from __future__ import annotations

from .chat import ChatWidget, chat_widget
from .info import info

__all__ = ["ChatWidget", "chat_widget", "info"]
