"""The only module that imports langgraph: the chat's graph and its SQLite checkpoints.

``model -> review -> (approval interrupt) -> tools -> model``, with slash commands
and thread seeding as other ways in. Threads are checkpointed in SQLite by
langgraph-checkpoint-sqlite, so a pending approval survives a restart: a new process
(or a new graph over the same file) resumes it with ``Command(resume=...)``. Long texts
are kept once in a side table and old checkpoints pruned (:mod:`.thread_store`), so the
file grows with what the threads hold, not with its square.
langgraph is imported on first use (about a second), never at package import.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import approvals, turns
from .databases import open_database
from .state import (
    FINISH,
    AgentState,
    Deps,
    after_command,
    after_model,
    after_review,
    after_tools,
    route_request,
)
from .thread_store import BodyStore, prune_thread
from .types import ApprovalRequest, GraphEvent, Resume

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.types import Command

RECURSION_LIMIT = 100
BODIES = "+bodies"
"""Suffix of the serialized type of a value whose long texts are references."""


def _serializer(bodies: BodyStore) -> JsonPlusSerializer:
    """langgraph's serializer, with long texts kept in ``bodies`` (see :mod:`.thread_store`)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    class BodySerializer(JsonPlusSerializer):
        def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
            value, changed = bodies.externalize(obj)
            kind, data = super().dumps_typed(value)
            return (kind + BODIES, data) if changed else (kind, data)

        def loads_typed(self, data: tuple[str, bytes]) -> Any:
            kind, raw = data
            if not kind.endswith(BODIES):  # saved without references (or by earlier versions)
                return super().loads_typed(data)
            return bodies.resolve(super().loads_typed((kind[: -len(BODIES)], raw)))

    return BodySerializer()


class AgentGraph:
    """A compiled chat graph over one checkpoint file.

    Parameters
    ----------
    deps
        Tools, journal, model and live settings the steps use.
    path
        SQLite file for the thread checkpoints (created when missing).
    """

    def __init__(self, deps: Deps, path: Path) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.config import get_stream_writer
        from langgraph.graph import END, START, StateGraph
        from langgraph.types import Command, interrupt

        def emit(event: GraphEvent) -> None:
            get_stream_writer()(event)

        self._path = path

        def setup(conn: sqlite3.Connection) -> None:
            self._bodies = BodyStore(path)
            self._saver = SqliteSaver(conn, serde=_serializer(self._bodies))
            self._saver.setup()

        self._conn = open_database(path, setup)
        self._lock = threading.Lock()

        builder = StateGraph(AgentState)
        builder.add_node("seed", lambda s: turns.seed(s, deps, emit))
        builder.add_node("observe", lambda s: turns.observe(s, deps, emit))
        builder.add_node("command", lambda s: turns.command(s, deps, emit))
        builder.add_node("model", lambda s: turns.model(s, deps, emit))
        builder.add_node("review", lambda s: approvals.review(s, deps, emit))
        builder.add_node("approval", lambda s: approvals.approval(s, deps, interrupt))
        builder.add_node("tools", lambda s: approvals.tools(s, deps, emit))
        ends: dict[Hashable, str] = {FINISH: END}
        builder.add_conditional_edges(
            START,
            route_request,
            {"seed": "seed", "observe": "observe", "command": "command", "model": "model"},
        )
        builder.add_edge("seed", "review")
        builder.add_edge("observe", END)
        builder.add_conditional_edges(
            "command", after_command, {"review": "review", "model": "model", **ends}
        )
        builder.add_conditional_edges("model", after_model, {"review": "review", **ends})
        builder.add_conditional_edges(
            "review", after_review, {"approval": "approval", "tools": "tools"}
        )
        builder.add_edge("approval", "tools")
        builder.add_conditional_edges("tools", after_tools, {"model": "model", **ends})
        self._graph = builder.compile(checkpointer=self._saver)
        self._command = Command

    @staticmethod
    def _config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}

    def run(
        self,
        thread_id: str,
        on_event: Callable[[GraphEvent], None],
        *,
        update: AgentState | None = None,
        resume: Resume | None = None,
    ) -> None:
        """Run a turn: start one with ``update`` (new state values), or resume a pause.

        The caller holds the thread's lock; afterwards only the latest checkpoint stays.
        """
        graph_input: AgentState | Command[str] = (
            self._command(resume=resume) if update is None else update
        )
        try:
            for event in self._graph.stream(
                graph_input, self._config(thread_id), stream_mode="custom"
            ):
                on_event(cast(GraphEvent, event))  # what the steps' emit() wrote
        finally:
            with self._saver.lock:
                prune_thread(self._conn, self._path, thread_id)

    def snapshot(self, thread_id: str) -> tuple[AgentState, list[ApprovalRequest]]:
        """The thread's values and the payloads of the interrupts still waiting for an answer."""
        state = self._graph.get_state(self._config(thread_id))
        values = cast(AgentState, dict(state.values or {}))  # as the steps wrote them
        return values, [cast(ApprovalRequest, i.value) for i in state.interrupts]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._bodies.close()
