"""Errors of the chat agent: each message says what was refused and why, in one line."""

from __future__ import annotations

from ..errors import AssistantError


class AgentError(AssistantError):
    """A chat request that cannot be done (bad thread, nothing to decide, bad setup)."""


class ToolError(AgentError):
    """A tool refused or failed; the message becomes the tool's result in the thread."""


class PendingDecisionError(AgentError):
    """A thread waits for an approve/deny decision before it can take a new message."""


class StaleDecisionError(AgentError):
    """A decision names a proposal the thread no longer waits on (refused, not applied)."""
