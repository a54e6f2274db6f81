"""What a chat front end uses of the manager: :class:`ChatAPI` (the notebook widget is typed
against it; :class:`~adaptive_llm_local.manager.LLMManager` implements it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..diagnose import Diagnosis

if TYPE_CHECKING:
    from ..agent import Event, HistoryItem, PendingApproval


@dataclass(frozen=True)
class FailureGroup:
    """Failed jobs that failed the same way (one failure signature)."""

    signature: str
    category: str
    count: int
    job_ids: tuple[str, ...]
    summary: str
    diagnosis: Diagnosis


class ChatAPI(Protocol):
    """The chat about a run as a front end drives it (``thread_id=None``: the run's thread).

    Every member is described on :class:`~adaptive_llm_local.manager.chat.ChatMembers`.
    """

    yolo: bool
    """Apply the chat's changes without asking; read at every decision."""
    on_thread_update: Callable[[str], None] | None
    """Called with a thread id when a block lands outside a turn (a fix's next attempt)."""

    @property
    def diagnoses(self) -> Mapping[str, Diagnosis]: ...

    def failure_groups(self) -> list[FailureGroup]: ...

    async def history(self, thread_id: str | None = None) -> list[HistoryItem]: ...

    async def pending(self, thread_id: str | None = None) -> PendingApproval | None: ...

    def stream(self, message: str, thread_id: str | None = None) -> AsyncIterator[Event]: ...

    def stream_decide(
        self,
        thread_id: str | None,
        approve: bool = True,
        hunks: Sequence[int] | None = None,
        always: str | None = None,
        proposal: str | None = None,
    ) -> AsyncIterator[Event]: ...
