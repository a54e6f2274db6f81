"""Chat about a run: a langgraph agent with sandboxed file tools and approvals.

``Agent`` is the API front ends use; see :mod:`adaptive_llm_local.agent.agent`.
Importing this package is cheap: langgraph loads when the first turn runs.
"""

from __future__ import annotations

from .agent import Agent, last_result, list_threads
from .errors import AgentError, PendingDecisionError, StaleDecisionError, ToolError
from .journal import AllowRule, AuditRecord
from .results import (
    ApprovalEvent,
    ChatResult,
    DoneEvent,
    Event,
    HistoryItem,
    PendingApproval,
    ProposedAction,
    SeedContext,
    SourceRef,
    TokenEvent,
    ToolEvent,
    ToolStep,
)
from .sandbox import Limits, Sandbox
from .thread_lock import ThreadBusyError
from .toolcalls import TOOL_FORMATS, detect_tool_format

__all__ = [
    "TOOL_FORMATS",
    "Agent",
    "AgentError",
    "AllowRule",
    "ApprovalEvent",
    "AuditRecord",
    "ChatResult",
    "DoneEvent",
    "Event",
    "HistoryItem",
    "Limits",
    "PendingApproval",
    "PendingDecisionError",
    "ProposedAction",
    "Sandbox",
    "SeedContext",
    "SourceRef",
    "StaleDecisionError",
    "ThreadBusyError",
    "TokenEvent",
    "ToolError",
    "ToolEvent",
    "ToolStep",
    "detect_tool_format",
    "last_result",
    "list_threads",
]
