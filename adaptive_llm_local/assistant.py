"""The composition root: one place that builds the model, the index and the diagnoser.

Every front end (the CLI, the manager, the demo, the benchmarks) gets its parts from
:meth:`Assistant.from_settings`, so a setting such as ``max_tokens`` reaches every
model call the same way, and a new backend or front end is wired in here once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .answer import Answer, answer_question
from .config import Settings
from .diagnose import Diagnoser, Diagnosis
from .errors import AssistantError
from .retrieval import Index, open_retriever
from .retrieval.source import Source
from .runtime import ChatModel, TokenCallback, get_chat_model
from .triage import TriageResult

if TYPE_CHECKING:  # the agent (langgraph) loads only when a chat starts
    from .agent import Agent
    from .agent.tools import JobsProvider
    from .agent.tools.langchain_tools import ExtraTool

IndexMode = Literal["open", "create", "off"]
AGENT_DIR = "agent"
"""Folder under the index folder with chat threads, the audit log and undo backups."""


def agent_dir(settings: Settings) -> Path:
    """Where chat threads (checkpoints), the audit log and undo backups are kept."""
    return settings.index_path / AGENT_DIR


class Assistant:
    """A chat model, the retrieval index (if any) and a :class:`Diagnoser` over both.

    Parameters
    ----------
    settings
        What everything was built from (``max_tokens`` bounds every answer; ``checks`` and
        ``check_timeout`` govern the diagnoser's machine checks).
    model
        The chat model.
    retriever
        The index, or ``None`` to work without one.
    """

    def __init__(self, settings: Settings, model: ChatModel, retriever: Index | None) -> None:
        self.settings = settings
        self.model = model
        self.retriever = retriever
        self.diagnoser = Diagnoser(
            model,
            retriever,
            max_tokens=settings.max_tokens,
            machine_checks=settings.checks,
            check_timeout=settings.check_timeout,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        index: IndexMode = "open",
        model: ChatModel | None = None,
        on_index_error: Callable[[AssistantError], None] | None = None,
    ) -> Assistant:
        """Build the parts ``settings`` describe; the model loads on first use.

        Parameters
        ----------
        settings
            Usually ``Settings.from_env()``, made by the front end.
        index
            ``"open"``: use the index if one exists; ``"create"``: create it when
            missing (the manager records every diagnosed failure in it); ``"off"``: none.
        model
            Another chat model instead of the one the registry builds for ``settings``
            (a scripted model in tests); a new backend goes into ``runtime.registry``.
        on_index_error
            Gets a locked, read-only or mismatched index's error, and the assistant works
            without the index; without it, the error is raised.
        """
        chat = model if model is not None else get_chat_model(settings)
        retriever = None
        if index != "off":
            try:
                retriever = open_retriever(settings, create=index == "create")
            except AssistantError as exc:
                if on_index_error is None:
                    raise
                on_index_error(exc)
        return cls(settings, chat, retriever)

    def load(self) -> None:
        """Load the model now instead of at the first call (a scripted model has nothing to load)."""
        self.model.load()

    def diagnose(self, result: TriageResult, *, on_token: TokenCallback | None = None) -> Diagnosis:
        """Explain a triaged log (see :meth:`Diagnoser.diagnose`)."""
        return self.diagnoser.diagnose(result, on_token=on_token)

    def diagnose_file(
        self, path: str | os.PathLike[str], *, on_token: TokenCallback | None = None
    ) -> Diagnosis:
        return self.diagnoser.diagnose_file(path, on_token=on_token)

    @property
    def agent_dir(self) -> Path:
        """Where chat threads (checkpoints), the audit log and undo backups are kept."""
        return agent_dir(self.settings)

    @property
    def tool_format(self) -> str | None:
        """How the model calls tools (``None``: it cannot).

        The format its backend declares (scripted models, servers), else the one its chat
        template (a GGUF's) supports.
        """
        from .agent import detect_tool_format

        capabilities = self.model.capabilities
        if capabilities.tool_format is not None:
            return capabilities.tool_format
        return detect_tool_format(capabilities.chat_template)

    def search(self, query: str, k: int = 4) -> Sequence[Source]:
        """Index hits for the agent's ``search_index`` tool (``[]`` without an index)."""
        return self.retriever.search(query, k=k) if self.retriever is not None else []

    def agent(
        self,
        root: str | os.PathLike[str],
        *,
        jobs: JobsProvider | None = None,
        yolo: bool = False,
        extra_tools: Sequence[ExtraTool] = (),
    ) -> Agent:
        """The chat agent over the run folder ``root``, with this model, index and settings.

        Parameters
        ----------
        root
            The sandbox: the only folder the file tools may read or write.
        jobs
            The run's jobs (an object with ``jobs()``), for ``/jobs``, ``/log`` and ``job_status``.
        yolo
            Apply changes without asking (changeable at any time as ``agent.yolo``).
        extra_tools
            More tools for the model (see ``Agent(extra_tools=)``).
        """
        from .agent import Agent
        from .triage import redact

        return Agent(
            self.model,
            root=Path(root),
            state_dir=self.agent_dir,
            search=self.search if self.retriever is not None else None,
            jobs=jobs,
            tool_format=self.tool_format,
            redact=redact,
            yolo=yolo,
            max_tokens=self.settings.max_tokens,
            extra_tools=extra_tools,
        )

    def ask(self, question: str, *, on_token: TokenCallback | None = None) -> Answer:
        """Answer from the index with citations (from the model alone without an index)."""
        return answer_question(
            question,
            self.model,
            self.retriever,
            max_tokens=self.settings.max_tokens,
            on_token=on_token,
        )
