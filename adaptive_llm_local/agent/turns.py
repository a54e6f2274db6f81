"""The steps a turn starts with: seeding a thread, a slash command, or the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..triage import triage_text
from ..triage.facts import Facts, extract_facts
from .autofix import Fix, deterministic_fix
from .commands import HELP, parse_command, read_args
from .errors import ToolError
from .grounding import answer_sentences, ground_reply, thread_corpus
from .prompt import build_messages, citations, numbered
from .state import AgentState, Deps, Emit, next_n, note, tool_message
from .toolcalls import ToolCall, parse_tool_calls, starts_call
from .tools import Toolbox, ToolResult
from .types import AssistantMessage, JobData, Message, ToolArgs, ToolCallData, ToolMessage

_LOG_CONTEXT_BEFORE, _LOG_CONTEXT_AFTER, _LOG_TAIL = 12, 6, 40
_FRAME_CONTEXT = 8
_FRAME_SCAN_LINES = 4000


# --- seed ----------------------------------------------------------------------------


def _diagnosis_text(job: JobData) -> str:
    lines = [f"Job {job.get('job_id')} failed."]
    for key, title in (
        ("category", "category"),
        ("exception", "exception"),
        ("key_line", "key log line"),
        ("root_cause", "root cause"),
        ("suggested_fix", "suggested fix"),
    ):
        value = job.get(key)
        if value:
            if key == "key_line" and job.get("key_line_number") is not None:
                value = f"{value} (log line {job['key_line_number']})"
            lines.append(f"{title}: {value}")
    return "\n".join(lines)


def _log_excerpt_args(job: JobData) -> ToolArgs:
    number = job.get("key_line_number")
    if number is None:
        return {"file_path": job["log_path"], "start_line": -_LOG_TAIL}
    line = int(number)
    if line < 0:  # counted from the end of a log read in a window
        return {
            "file_path": job["log_path"],
            "start_line": min(line - _LOG_CONTEXT_BEFORE, -_LOG_TAIL),
        }
    return {
        "file_path": job["log_path"],
        "start_line": max(line - _LOG_CONTEXT_BEFORE, 1),
        "end_line": line + _LOG_CONTEXT_AFTER,
    }


def _facts(job: Mapping[str, Any], toolbox: Toolbox) -> Facts:
    """The facts the seed carries (the diagnosis's); without them (a diagnosis stored
    before they were kept, a seed made by hand) triage reads them from the log's tail,
    through the sandbox."""
    if job.get("facts") is not None:
        return Facts.from_json(job["facts"])
    if not job.get("log_path"):
        return Facts()
    try:
        tail = toolbox.sandbox.read_text(job["log_path"], -_FRAME_SCAN_LINES)
    except ToolError:
        return Facts()
    return extract_facts(triage_text(tail.text))


def find_frame(job: Mapping[str, Any], toolbox: Toolbox) -> list[Any] | None:
    """The user-code frame the job failed in: the seed's own, else the first of the
    facts' user frames (the user's frame, its caller) inside the sandbox."""
    if job.get("frame"):
        return list(job["frame"])
    for path, line in _facts(job, toolbox).user_frames():
        rel = toolbox.sandbox.locate(path)
        if rel is not None:
            return [rel, line]
    return None


def seed(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Start a thread from a failed job: its diagnosis, log excerpt and failing code."""
    job = state["request"]["job"].copy()
    job["frame"] = find_frame(job, deps.toolbox)
    messages = state.get("messages", [])
    diagnosis = tool_message(
        {
            "id": f"s{len(messages)}-diagnosis",
            "name": "diagnosis",
            "args": {"job_id": job.get("job_id")},
        },
        ToolResult(True, _diagnosis_text(job), f"diagnosis of job {job.get('job_id')}"),
        next_n(messages),
        "seed",
    )
    emit({"type": "tool", "message": diagnosis})
    calls = []
    if job.get("log_path"):
        calls.append(ToolCall(f"s{len(messages)}-log", "read_file", _log_excerpt_args(job)))
    if job["frame"]:
        path, line = job["frame"]
        args = {
            "file_path": path,
            "start_line": max(int(line) - _FRAME_CONTEXT, 1),
            "end_line": int(line) + _FRAME_CONTEXT,
        }
        calls.append(ToolCall(f"s{len(messages)}-code", "read_file", args))
    return {
        "messages": [diagnosis],
        "pending": [c.to_dict() for c in calls],
        "origin": "seed",
        "job": job,
    }


def observe(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Add something that happened outside the chat (a job's next attempt) as a block."""
    request = state["request"]
    messages = state.get("messages", [])
    call: ToolCallData = {"id": f"o{len(messages)}", "name": "observation", "args": {}}
    result = ToolResult(True, str(request.get("content")), str(request.get("label")))
    message = tool_message(call, result, next_n(messages), "observe")
    emit({"type": "tool", "message": message})
    return {"messages": [message], "pending": []}


# --- commands ------------------------------------------------------------------------


def _call(state: AgentState, name: str, args: ToolArgs, k: int = 0) -> ToolCallData:
    return ToolCall(f"c{len(state.get('messages', []))}-{k}", name, args).to_dict()


def _log_path(state: AgentState, deps: Deps, job_ref: str) -> str:
    job = state.get("job", {})
    if not job_ref or job_ref == str(job.get("job_id")):
        log_path = job.get("log_path")
        if log_path:
            return str(log_path)
        if not job_ref:
            raise ToolError("this thread has no job; give one: /log JOB")
    record = deps.toolbox.find_job(job_ref)
    logs = record.get("output_logs")
    log = record.get("log") or next(iter(logs if isinstance(logs, list | tuple) else []), None)
    if not log:
        raise ToolError(f"job {job_ref} has no log yet")
    return str(log)


def _command_call(state: AgentState, deps: Deps, name: str, arg: str) -> tuple[str, ToolArgs]:
    """The tool call a slash command stands for."""
    if name == "read":
        return "read_file", read_args(arg)
    if name == "ls":
        return "list_directory", {"dir_path": arg or "."}
    if name == "search":
        if not arg:
            raise ToolError("/search needs a query")
        return "search_index", {"query": arg}
    if name == "jobs":
        return "job_status", {}
    if name == "log":
        return "read_file", {"file_path": _log_path(state, deps, arg), "start_line": -_LOG_TAIL}
    if name == "undo":
        backup = deps.journal.last_backup(state["thread_id"], deps.toolbox.root)
        if backup is None:
            raise ToolError("nothing to undo in this thread")
        return "undo_edit", {"backup_id": backup.id}
    raise KeyError(name)


def command(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Run a slash command: tool calls without the model choosing them."""
    cmd = parse_command(state["request"].get("text", ""))
    assert cmd is not None
    try:
        if cmd.name == "fix":
            return _fix(state, deps)
        tool, args = _command_call(state, deps, cmd.name, cmd.arg)
    except ToolError as exc:
        return {"messages": [note(f"/{cmd.name}: {exc}")], "pending": []}
    except KeyError:
        return {"messages": [note(f"Unknown command /{cmd.name}.\n\n{HELP}")], "pending": []}
    return {"pending": [_call(state, tool, args)], "origin": "command"}


def _fix(state: AgentState, deps: Deps) -> AgentState:
    job = state.get("job")
    fix = deterministic_fix(job, deps.toolbox.sandbox)
    if isinstance(fix, Fix):
        call = _call(state, "write_file", fix.args)
        return {
            "pending": [call],
            "origin": "command",
            "messages": [note(f"Proposed fix: {fix.reason}.")],
        }
    if deps.model is not None and deps.tool_format is not None and job:
        ask = (
            f"Fix the failure of job {job.get('job_id')} shown above: propose the change "
            "with write_file (old_text must match the file exactly)."
        )
        return {
            "messages": [{"role": "user", "content": ask, "generated": True}],
            "request": {**state["request"], "to_model": True},
            "pending": [],
        }
    advice = f" Suggested fix: {job['suggested_fix']}" if job and job.get("suggested_fix") else ""
    return {"messages": [note(f"No automatic fix: {fix}.{advice}")], "pending": []}


# --- model ---------------------------------------------------------------------------


def _search_step(state: AgentState, deps: Deps, emit: Emit) -> list[ToolMessage]:
    """Search the index for a free question and put the hits in the thread as a step."""
    if not (deps.auto_search and deps.toolbox.search is not None and state.get("steps", 0) == 0):
        return []
    question = state.get("request", {}).get("text", "").strip()
    if not question:
        return []
    call = ToolCall(f"a{len(state.get('messages', []))}", "search_index", {"query": question})
    result = deps.toolbox.run_read("search_index", call.args)
    if not result.ok or result.content.startswith("Nothing in the index"):
        return []
    message = tool_message(call.to_dict(), result, next_n(state.get("messages", [])), "auto")
    emit({"type": "tool", "message": message})
    return [message]


class RedactedStream:
    """The streamed answer as it may be shown: redacted, up to its last white space.

    A secret is recognised once it is whole, so the text after the last space or newline
    waits for the next piece; :meth:`rest` gives it at the end. Should redaction hide text
    already shown (a quoted value with spaces), nothing more streams: the checked answer
    replaces the draft anyway.
    """

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.text = ""
        self.shown = ""
        self.held = False

    def feed(self, piece: str) -> str:
        """What to show of the answer so far beyond what is shown (may be empty)."""
        self.text += piece
        clean = self.redact(self.text)
        return self._show(clean[: max(clean.rfind(" "), clean.rfind("\n")) + 1])

    def rest(self) -> str:
        return self._show(self.redact(self.text))

    def _show(self, safe: str) -> str:
        if self.held or not safe.startswith(self.shown):
            self.held = True
            return ""
        new, self.shown = safe[len(self.shown) :], safe
        return new


class _Stopped(Exception):
    """Raised from the token callback when the turn was stopped (ends the model's loop)."""


def _stopped_reply(visible: str) -> AssistantMessage:
    text = visible.strip()
    shown = f"{text} …(stopped)" if text else "(stopped)"
    return {"role": "assistant", "content": text, "visible": shown, "stopped": True}


def model(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Ask the model: an answer from the thread's blocks, or (when capable) tool calls."""
    if deps.model is None:
        return {
            "messages": [note("No chat model is configured; the /commands still work (/help).")],
            "pending": [],
        }
    thread_id = state["thread_id"]
    if deps.stopped(thread_id):
        return {"messages": [_stopped_reply("")], "pending": []}
    steps = state.get("steps", 0)
    if steps >= deps.max_steps:
        return {
            "messages": [note(f"Stopped after {steps} model steps in one turn.")],
            "pending": [],
        }
    searched = [] if deps.tool_format else _search_step(state, deps, emit)
    thread: list[Message] = [*state.get("messages", []), *searched]
    functions = [s.function() for s in deps.toolbox.specs()]
    prompt = build_messages(
        thread,
        deps.model,
        max_tokens=deps.max_tokens,
        redact=deps.redact,
        tool_format=deps.tool_format,
        functions=functions,
    )
    streamed: list[str] = []
    shown = RedactedStream(deps.redact)

    def show(text: str) -> None:
        if text:
            emit({"type": "token", "text": text})

    def on_token(piece: str) -> None:
        if deps.stopped(thread_id):
            raise _Stopped
        streamed.append(piece)
        if deps.tool_format is None or not starts_call("".join(streamed)):
            show(shown.feed(piece))

    # a model that can keep a conversation's evaluated prompt gets the thread as the key,
    # so a diagnosis between two turns does not cost the next turn its prompt cache
    keep: dict[str, Any] = {}
    if deps.model.capabilities.keeps_conversations:
        keep["conversation"] = f"{deps.toolbox.sandbox.root}:{thread_id}"
    try:
        completion = deps.model.chat(
            prompt,
            max_tokens=deps.max_tokens,
            temperature=deps.temperature,
            on_token=on_token,
            **keep,
        )
    except _Stopped:
        return {"messages": [*searched, _stopped_reply(shown.redact(shown.text))], "pending": []}
    show(shown.rest())
    text = completion.text.strip()
    calls: list[ToolCall] = []
    visible = text
    if deps.tool_format is not None:
        visible, calls = parse_tool_calls(text, deps.tool_format, f"m{len(thread)}")
    cut = completion.completion_tokens >= deps.max_tokens
    checked = ground_reply(deps.redact(visible), thread_corpus(thread), cut=cut)
    visible = checked.shown
    if not visible and not calls:
        visible = "(The model gave no answer; try rephrasing, or use /help for commands.)"
    blocks = numbered(thread)
    reply: AssistantMessage = {
        "role": "assistant",
        "content": deps.redact(text),
        "visible": visible,
        "calls": [c.to_dict() for c in calls],
        "sources": blocks,
        "cited": citations(checked.text, [b["n"] for b in blocks]),
        "sentences": answer_sentences(checked.text, blocks),
        "withheld": list(checked.withheld),
    }
    return {
        "messages": [*searched, reply],
        "pending": [c.to_dict() for c in calls],
        "origin": "model",
        "steps": steps + 1,
    }
