"""Helpers shared by the notebook chat tests (widget, notebook, browser)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE = REPO / "adaptive_llm_local" / "examples" / "chat.ipynb"


async def until(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.25) -> Any:
    """Wait on the running loop until ``condition()`` is truthy; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def bubbles(chat: Any, kind: str) -> list[str]:
    """The HTML of the open thread's bubbles of one kind (``assistant``, ``tool``, …)."""
    return [c.value for c in chat.items if f"alm-{kind}" in c.value]
