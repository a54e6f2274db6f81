"""What each step of a chat turn does, as plain functions of the thread's state.

``graph.py`` wires these into a langgraph ``StateGraph``; nothing here imports
langgraph, so every step is testable on its own. The flow of a turn:

    request -> seed | command | model -> review -> [approval] -> tools -> model | end

``review`` validates every pending call and decides what needs a person (reads never
do; writes do unless YOLO is on or an "allow always" rule covers them) and records
``proposed``/``automatic`` in the journal. ``approval`` is the only step that pauses:
everything it does before pausing is a pure function of the saved state, so the
re-run that langgraph makes on resume repeats nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from .autofix import Fix, deterministic_fix
from .commands import HELP, parse_command, read_args
from .errors import ToolError
from .fixes import frames_in, user_frame
from .journal import Journal
from .prompt import ChatModel, build_messages, citations, numbered
from .toolcalls import ToolCall, parse_tool_calls, starts_call
from .tools import READ, Toolbox, ToolResult, call_label

Emit = Callable[[dict[str, Any]], None]
Ask = Callable[[dict[str, Any]], Any]
END = "__end__"
_LOG_CONTEXT_BEFORE, _LOG_CONTEXT_AFTER, _LOG_TAIL = 12, 6, 40
_FRAME_CONTEXT = 8
_FRAME_SCAN_LINES = 4000


class AgentState(TypedDict, total=False):
    """A thread as langgraph checkpoints it (JSON-able values only)."""

    thread_id: str
    messages: Annotated[list[dict[str, Any]], operator.add]
    request: dict[str, Any]  # this turn's input: {"kind": "message" | "seed", ...}
    origin: str  # who asked for the pending calls: "model", "command" or "seed"
    pending: list[dict[str, Any]]  # tool calls waiting for review
    review: list[dict[str, Any]]  # reviewed calls with their plan and decision
    steps: int  # model calls in this turn
    job: dict[str, Any]  # the failed job the thread is about (for /fix and /log)


@dataclass
class Deps:
    """What the steps use: tools, journal, model and the live settings."""

    toolbox: Toolbox
    journal: Journal
    model: ChatModel | None
    tool_format: str | None
    yolo: Callable[[], bool]
    redact: Callable[[str], str]
    max_tokens: int = 320
    max_steps: int = 6
    auto_search: bool = True
    temperature: float = 0.0


def _next_n(messages: Sequence[Mapping[str, Any]]) -> int:
    return 1 + max((int(m["n"]) for m in messages if "n" in m), default=0)


def _note(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text, "visible": text, "note": True}


def tool_message(
    call: Mapping[str, Any], result: ToolResult, n: int, origin: str
) -> dict[str, Any]:
    return {
        "role": "tool",
        "name": call["name"],
        "call_id": call["id"],
        "args": dict(call.get("args", {})),
        "content": result.content,
        "ok": result.ok,
        "label": result.label,
        "n": n,
        "origin": origin,
    }


# --- routing -------------------------------------------------------------------------


def route_request(state: AgentState) -> str:
    request = state.get("request") or {}
    if request.get("kind") == "seed":
        return "seed"
    if parse_command(str(request.get("text", ""))) is not None:
        return "command"
    return "model"


def after_command(state: AgentState) -> str:
    if state.get("pending"):
        return "review"
    if (state.get("request") or {}).get("to_model"):
        return "model"
    return END


def after_model(state: AgentState) -> str:
    return "review" if state.get("pending") else END


def after_review(state: AgentState) -> str:
    return "approval" if any(e["decision"] == "ask" for e in state.get("review", [])) else "tools"


def after_tools(state: AgentState) -> str:
    return "model" if state.get("origin") == "model" else END


# --- seed ----------------------------------------------------------------------------


def _diagnosis_text(job: Mapping[str, Any]) -> str:
    lines = [f"Job {job.get('job_id')} failed."]
    for key, title in (
        ("category", "category"),
        ("exception", "exception"),
        ("key_line", "key log line"),
        ("root_cause", "root cause"),
        ("suggested_fix", "suggested fix"),
    ):
        if job.get(key):
            value = job[key]
            if key == "key_line" and job.get("key_line_number") is not None:
                value = f"{value} (log line {job['key_line_number']})"
            lines.append(f"{title}: {value}")
    return "\n".join(lines)


def _log_excerpt_args(job: Mapping[str, Any]) -> dict[str, Any]:
    line = job.get("key_line_number")
    if line is None:
        return {"file_path": job["log_path"], "start_line": -_LOG_TAIL}
    line = int(line)
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


def find_frame(job: Mapping[str, Any], toolbox: Toolbox) -> list[Any] | None:
    """The user-code frame of the job's traceback, read from its log through the sandbox."""
    if job.get("frame"):
        return list(job["frame"])
    if not job.get("log_path"):
        return None
    try:
        tail = toolbox.sandbox.read_text(job["log_path"], -_FRAME_SCAN_LINES)
    except ToolError:
        return None
    frame = user_frame(frames_in(tail.text), toolbox.sandbox.locate)
    return list(frame) if frame else None


def seed(state: AgentState, deps: Deps, emit: Emit) -> dict[str, Any]:
    """Start a thread from a failed job: its diagnosis, log excerpt and failing code."""
    job = dict(state["request"]["job"])
    job["frame"] = find_frame(job, deps.toolbox)
    messages = state.get("messages", [])
    diagnosis = tool_message(
        {
            "id": f"s{len(messages)}-diagnosis",
            "name": "diagnosis",
            "args": {"job_id": job.get("job_id")},
        },
        ToolResult(True, _diagnosis_text(job), f"diagnosis of job {job.get('job_id')}"),
        _next_n(messages),
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


# --- commands ------------------------------------------------------------------------


def _call(state: AgentState, name: str, args: dict[str, Any], k: int = 0) -> dict[str, Any]:
    return ToolCall(f"c{len(state.get('messages', []))}-{k}", name, args).to_dict()


def _log_path(state: AgentState, deps: Deps, job_ref: str) -> str:
    job = state.get("job") or {}
    if not job_ref or job_ref == str(job.get("job_id")):
        if job.get("log_path"):
            return str(job["log_path"])
        if not job_ref:
            raise ToolError("this thread has no job; give one: /log JOB")
    record = deps.toolbox.find_job(job_ref)
    log = record.get("log") or next(iter(record.get("output_logs") or []), None)
    if not log:
        raise ToolError(f"job {job_ref} has no log yet")
    return str(log)


def command(state: AgentState, deps: Deps, emit: Emit) -> dict[str, Any]:
    """Run a slash command: tool calls without the model choosing them."""
    cmd = parse_command(str(state["request"]["text"]))
    assert cmd is not None
    try:
        if cmd.name == "read":
            return {"pending": [_call(state, "read_file", read_args(cmd.arg))], "origin": "command"}
        if cmd.name == "ls":
            return {
                "pending": [_call(state, "list_directory", {"dir_path": cmd.arg or "."})],
                "origin": "command",
            }
        if cmd.name == "search":
            if not cmd.arg:
                raise ToolError("/search needs a query")
            return {
                "pending": [_call(state, "search_index", {"query": cmd.arg})],
                "origin": "command",
            }
        if cmd.name == "jobs":
            return {"pending": [_call(state, "job_status", {})], "origin": "command"}
        if cmd.name == "log":
            args = {"file_path": _log_path(state, deps, cmd.arg), "start_line": -_LOG_TAIL}
            return {"pending": [_call(state, "read_file", args)], "origin": "command"}
        if cmd.name == "fix":
            return _fix(state, deps)
        if cmd.name == "undo":
            backup = deps.journal.last_backup(state["thread_id"])
            if backup is None:
                raise ToolError("nothing to undo in this thread")
            return {
                "pending": [_call(state, "undo_edit", {"backup_id": backup.id})],
                "origin": "command",
            }
    except ToolError as exc:
        return {"messages": [_note(f"/{cmd.name}: {exc}")], "pending": []}
    return {"messages": [_note(f"Unknown command /{cmd.name}.\n\n{HELP}")], "pending": []}


def _fix(state: AgentState, deps: Deps) -> dict[str, Any]:
    job = state.get("job")
    fix = deterministic_fix(job, deps.toolbox.sandbox)
    if isinstance(fix, Fix):
        call = _call(state, "write_file", fix.args)
        return {
            "pending": [call],
            "origin": "command",
            "messages": [_note(f"Proposed fix: {fix.reason}.")],
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
    return {"messages": [_note(f"No automatic fix: {fix}.{advice}")], "pending": []}


# --- model ---------------------------------------------------------------------------


def _search_step(state: AgentState, deps: Deps, emit: Emit) -> list[dict[str, Any]]:
    """Search the index for a free question and put the hits in the thread as a step."""
    if not (deps.auto_search and deps.toolbox.search is not None and state.get("steps", 0) == 0):
        return []
    question = str((state.get("request") or {}).get("text", "")).strip()
    if not question:
        return []
    call = ToolCall(f"a{len(state.get('messages', []))}", "search_index", {"query": question})
    result = deps.toolbox.run_read("search_index", call.args)
    if not result.ok or result.content.startswith("Nothing in the index"):
        return []
    message = tool_message(call.to_dict(), result, _next_n(state.get("messages", [])), "auto")
    emit({"type": "tool", "message": message})
    return [message]


def model(state: AgentState, deps: Deps, emit: Emit) -> dict[str, Any]:
    """Ask the model: an answer from the thread's blocks, or (when capable) tool calls."""
    if deps.model is None:
        return {
            "messages": [_note("No chat model is configured; the /commands still work (/help).")],
            "pending": [],
        }
    steps = state.get("steps", 0)
    if steps >= deps.max_steps:
        return {
            "messages": [_note(f"Stopped after {steps} model steps in one turn.")],
            "pending": [],
        }
    searched = [] if deps.tool_format else _search_step(state, deps, emit)
    thread = [*state.get("messages", []), *searched]
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

    def on_token(piece: str) -> None:
        streamed.append(piece)
        if deps.tool_format is None or not starts_call("".join(streamed)):
            emit({"type": "token", "text": piece})

    completion = deps.model.chat(
        prompt, max_tokens=deps.max_tokens, temperature=deps.temperature, on_token=on_token
    )
    text = str(getattr(completion, "text", completion)).strip()
    calls: list[ToolCall] = []
    visible = text
    if deps.tool_format is not None:
        visible, calls = parse_tool_calls(text, deps.tool_format, f"m{len(thread)}")
    if not visible and not calls:
        visible = "(The model gave no answer; try rephrasing, or use /help for commands.)"
    blocks = numbered(thread)
    reply = {
        "role": "assistant",
        "content": text,
        "visible": visible,
        "calls": [c.to_dict() for c in calls],
        "sources": blocks,
        "cited": citations(visible, [b["n"] for b in blocks]),
    }
    return {
        "messages": [*searched, reply],
        "pending": [c.to_dict() for c in calls],
        "origin": "model",
        "steps": steps + 1,
    }


# --- review, approval, tools ---------------------------------------------------------


def _rule_for(deps: Deps, thread_id: str, name: str, plan: Mapping[str, Any]) -> int | None:
    paths = {plan.get("path"), plan.get("dest")} - {None}
    for rule in deps.journal.rules(thread_id):
        if (rule.kind == "tool" and rule.value == name) or (
            rule.kind == "path" and rule.value in paths
        ):
            return rule.id
    return None


def review(state: AgentState, deps: Deps, emit: Emit) -> dict[str, Any]:
    """Validate each pending call and decide who decides: nobody (reads), policy, or a person."""
    thread_id = state["thread_id"]
    origin = state.get("origin", "model")
    entries = []
    for call in state.get("pending", []):
        entry: dict[str, Any] = {"call": call, "plan": None, "error": None, "hunks": None}
        try:
            if deps.toolbox.access(call["name"]) == READ:
                entry["decision"] = "read"
                entries.append(entry)
                continue
            plan = deps.toolbox.plan(thread_id, call["name"], call.get("args", {}))
        except ToolError as exc:
            entry.update(decision="invalid", error=str(exc))
            entries.append(entry)
            continue
        entry["plan"] = plan
        record = {"tool": call["name"], "path": plan["path"], "diff": plan["diff"]}
        deps.journal.record(
            thread_id, call["id"], "proposed", actor=origin, detail=plan["summary"], **record
        )
        rule = _rule_for(deps, thread_id, call["name"], plan)
        if deps.yolo():
            entry["decision"] = "automatic"
            deps.journal.record(thread_id, call["id"], "automatic", actor="yolo", **record)
        elif rule is not None:
            entry["decision"] = "automatic"
            deps.journal.record(
                thread_id, call["id"], "automatic", actor=f"allow rule #{rule}", **record
            )
        else:
            entry["decision"] = "ask"
        entries.append(entry)
    return {"review": entries}


def approval_request(state: AgentState) -> dict[str, Any]:
    """What the person is asked: each write waiting for them, with its diff and hunks."""
    actions = []
    for entry in state.get("review", []):
        if entry["decision"] != "ask":
            continue
        plan = entry["plan"]
        actions.append(
            {
                "call_id": entry["call"]["id"],
                "tool": entry["call"]["name"],
                "kind": plan["kind"],
                "path": plan["path"],
                "dest": plan.get("dest"),
                "summary": plan["summary"],
                "diff": plan["diff"],
                "hunks": plan["hunks"],
            }
        )
    return {"thread_id": state["thread_id"], "actions": actions}


def approval(state: AgentState, deps: Deps, ask: Ask) -> dict[str, Any]:
    """Pause for a person's decision on every write that needs one, then record it."""
    answer = ask(approval_request(state))  # everything above this line is pure
    decisions: Mapping[str, Mapping[str, Any]] = (answer or {}).get("decisions", {})
    thread_id = state["thread_id"]
    entries = []
    for entry in state.get("review", []):
        entry = dict(entry)
        if entry["decision"] == "ask":
            call, plan = entry["call"], entry["plan"]
            decision = decisions.get(call["id"], {"approve": False})
            hunks = decision.get("hunks")
            approve = bool(decision.get("approve")) and hunks != []
            record = {"tool": call["name"], "path": plan["path"], "actor": "user"}
            if approve:
                entry.update(decision="approved", hunks=hunks)
                detail = None
                if hunks is not None:
                    detail = f"hunks {', '.join(map(str, hunks))} of {len(plan['hunks'])}"
                deps.journal.record(
                    thread_id, call["id"], "approved", diff=plan["diff"], detail=detail, **record
                )
                always = decision.get("always")
                if always == "tool":
                    deps.journal.allow(thread_id, "tool", call["name"])
                elif always == "path":
                    deps.journal.allow(thread_id, "path", plan["path"])
            else:
                entry["decision"] = "denied"
                deps.journal.record(thread_id, call["id"], "denied", diff=plan["diff"], **record)
        entries.append(entry)
    return {"review": entries}


def _run_entry(thread_id: str, entry: Mapping[str, Any], deps: Deps) -> ToolResult:
    call, decision = entry["call"], entry["decision"]
    args = call.get("args", {})
    if decision == "invalid":
        return ToolResult(
            False, f"Error: {entry['error']}", f"{call_label(call['name'], args)} (refused)"
        )
    if decision == "read":
        return deps.toolbox.run_read(call["name"], args)
    plan = entry["plan"]
    if decision == "denied":
        return ToolResult(
            False,
            f"Denied by the user: {plan['summary']} was not applied.",
            f"{call_label(call['name'], args)} (denied)",
        )
    try:
        return deps.toolbox.apply(thread_id, call, plan, entry.get("hunks"))
    except ToolError as exc:
        deps.journal.record(
            thread_id, call["id"], "failed", tool=call["name"], path=plan["path"], detail=str(exc)
        )
        return ToolResult(False, f"Error: {exc}", f"{call_label(call['name'], args)} (failed)")


def tools(state: AgentState, deps: Deps, emit: Emit) -> dict[str, Any]:
    """Run the reviewed calls: reads, approved or automatic writes; denials are reported."""
    thread_id = state["thread_id"]
    n = _next_n(state.get("messages", []))
    messages = []
    for entry in state.get("review", []):
        result = _run_entry(thread_id, entry, deps)
        message = tool_message(entry["call"], result, n, state.get("origin", "model"))
        n += 1
        emit({"type": "tool", "message": message})
        messages.append(message)
    return {"messages": messages, "pending": [], "review": []}
