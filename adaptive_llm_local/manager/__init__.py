"""The manager: diagnoses every failed job of a running ``RunManager`` in the background.

:mod:`.llm_manager` holds the event-loop side (:class:`LLMManager`, :func:`attach`);
:mod:`.jobs` the pure failed-job helpers; :mod:`.persistence` the SQLite store of
diagnoses; :mod:`.html` the notebook view.
"""

from __future__ import annotations

from .chat_api import ChatAPI, FailureGroup
from .jobs import LOGS_MISSING_SIGNATURE, FailedJob, group_by_signature
from .llm_manager import FailureRecorder, LLMManager, attach
from .persistence import DiagnosisStore, JobRecord

__all__ = [
    "LOGS_MISSING_SIGNATURE",
    "ChatAPI",
    "DiagnosisStore",
    "FailedJob",
    "FailureGroup",
    "FailureRecorder",
    "JobRecord",
    "LLMManager",
    "attach",
    "group_by_signature",
]
