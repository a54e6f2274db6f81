"""What happens to the tool calls of a turn: review, approval, then running them.

``review`` validates every pending call and decides who decides: nobody (reads),
the policy (YOLO, read at this moment, or an "allow always" rule), or a person; it
records ``proposed``/``automatic`` in the journal. ``approval`` is the only step that
pauses (langgraph's ``interrupt``): everything before the pause is a pure function of
the saved state, because the step runs again from its first line on resume. ``tools``
runs reads, approved and automatic writes, and reports every denial to the model.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from .errors import AgentError, ToolError
from .journal import new_proposal_id
from .results import PendingApproval
from .state import AgentState, Ask, Deps, Emit, next_n, tool_message, write_plan
from .tools import READ, ToolResult, call_label
from .types import (
    ActionData,
    ApprovalRequest,
    Decision,
    Plan,
    ReviewDecision,
    ReviewEntry,
    ToolCallData,
    ToolMessage,
)


def _rule_for(deps: Deps, thread_id: str, name: str, plan: Plan) -> int | None:
    """The rule of this root and thread covering exactly this call (tool, path, dest)."""
    for rule in deps.journal.rules(deps.toolbox.root, thread_id):
        if rule.covers(name, plan.get("path"), plan.get("dest")):
            return rule.id
    return None


def _record(
    deps: Deps,
    thread_id: str,
    call: ToolCallData,
    plan: Plan,
    event: str,
    *,
    actor: str = "agent",
    diff: str | None = None,
    detail: str | None = None,
) -> None:
    """One audit record of this call's proposal (its own id: repeated call ids never swallow)."""
    deps.journal.record(
        thread_id,
        call["id"],
        event,
        proposal=plan["proposal_id"],
        tool=call["name"],
        path=plan["path"],
        root=deps.toolbox.root,
        actor=actor,
        diff=diff,
        detail=detail,
    )


def _entry(
    call: ToolCallData,
    decision: ReviewDecision,
    plan: Plan | None = None,
    error: str | None = None,
) -> ReviewEntry:
    return {"call": call, "plan": plan, "error": error, "hunks": None, "decision": decision}


def review(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Validate each pending call and decide who decides: nobody (reads), policy, or a person."""
    thread_id = state["thread_id"]
    origin = state.get("origin", "model")
    entries = []
    for call in state.get("pending", []):
        try:
            if deps.toolbox.access(call["name"]) == READ:
                entries.append(_entry(call, "read"))
                continue
            plan = deps.toolbox.plan(thread_id, call["name"], call.get("args", {}))
        except ToolError as exc:
            entries.append(_entry(call, "invalid", error=str(exc)))
            continue
        diff = plan["diff"]
        _record(
            deps, thread_id, call, plan, "proposed", actor=origin, detail=plan["summary"], diff=diff
        )
        rule = _rule_for(deps, thread_id, call["name"], plan)
        if deps.yolo():
            entries.append(_entry(call, "automatic", plan))
            _record(deps, thread_id, call, plan, "automatic", actor="yolo", diff=diff)
        elif rule is not None:
            entries.append(_entry(call, "automatic", plan))
            _record(
                deps, thread_id, call, plan, "automatic", actor=f"allow rule #{rule}", diff=diff
            )
        else:
            entries.append(_entry(call, "ask", plan))
    # a fresh id per proposal: a decision names the one it answers (see Agent.decide)
    return {"review": entries, "proposal": uuid.uuid4().hex[:16]}


def approval_request(state: AgentState) -> ApprovalRequest:
    """What the person is asked: each write waiting for them, with its diff and hunks."""
    actions: list[ActionData] = []
    for entry in state.get("review", []):
        if entry["decision"] != "ask":
            continue
        plan = write_plan(entry)
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
    return {"thread_id": state["thread_id"], "actions": actions, "proposal": state.get("proposal")}


def _with_proposal_id(deps: Deps, thread_id: str, entry: ReviewEntry) -> Plan:
    """The entry's plan with its own proposal id.

    A plan that waited for approval in a thread saved before proposals had ids gets a
    fresh id here and its ``proposed`` record again, so that no earlier record with the
    same call id can authorize it.
    """
    plan = write_plan(entry).copy()
    if not plan.get("proposal_id"):
        plan["proposal_id"] = new_proposal_id()
        _record(
            deps,
            thread_id,
            entry["call"],
            plan,
            "proposed",
            actor="model",
            detail=f"{plan['summary']} (waiting since before an upgrade)",
            diff=plan["diff"],
        )
    return plan


def _decide(deps: Deps, thread_id: str, entry: ReviewEntry, decision: Decision) -> ReviewEntry:
    """A waiting entry with a person's decision, recorded (and any "allow always" rule)."""
    call, plan = entry["call"], _with_proposal_id(deps, thread_id, entry)
    hunks = decision.get("hunks")
    approve = bool(decision.get("approve")) and hunks != []
    if not approve:
        _record(deps, thread_id, call, plan, "denied", actor="user", diff=plan["diff"])
        return {**entry, "plan": plan, "decision": "denied"}
    detail = None
    if hunks is not None:
        detail = f"hunks {', '.join(map(str, hunks))} of {len(plan['hunks'])}"
    _record(deps, thread_id, call, plan, "approved", actor="user", diff=plan["diff"], detail=detail)
    always = decision.get("always")
    if always == "tool":
        deps.journal.allow(deps.toolbox.root, thread_id, call["name"])
    elif always == "path":  # exactly what the prompt showed: path (and destination)
        deps.journal.allow(
            deps.toolbox.root, thread_id, call["name"], plan["path"], plan.get("dest")
        )
    return {**entry, "plan": plan, "decision": "approved", "hunks": hunks}


def approval(state: AgentState, deps: Deps, ask: Ask) -> AgentState:
    """Pause for a person's decision on every write that needs one, then record it."""
    answer = ask(approval_request(state))  # everything above this line is pure
    decisions = answer.get("decisions", {}) if answer else {}
    thread_id = state["thread_id"]
    entries = []
    for entry in state.get("review", []):
        if entry["decision"] == "ask":
            decision = decisions.get(entry["call"]["id"], {"approve": False})
            entry = _decide(deps, thread_id, entry, decision)
        entries.append(entry)
    return {"review": entries}


def _run_entry(thread_id: str, entry: ReviewEntry, deps: Deps) -> ToolResult:
    call, decision = entry["call"], entry["decision"]
    args = call.get("args", {})
    if decision == "invalid":
        return ToolResult(
            False, f"Error: {entry['error']}", f"{call_label(call['name'], args)} (refused)"
        )
    if decision == "read":
        return deps.toolbox.run_read(call["name"], args)
    plan = write_plan(entry)
    if decision == "denied":
        return ToolResult(
            False,
            f"Denied by the user: {plan['summary']} was not applied.",
            f"{call_label(call['name'], args)} (denied)",
        )
    try:
        return deps.toolbox.apply(thread_id, call, plan, entry.get("hunks"))
    except (ToolError, OSError) as exc:  # disk full, permissions: reported, not raised
        if plan.get("proposal_id"):
            _record(deps, thread_id, call, plan, "failed", detail=str(exc))
        else:  # a plan that never was proposed (forged state): the failure is still kept
            deps.journal.record(
                thread_id,
                call["id"],
                "failed",
                proposal=f"unproposed:{new_proposal_id()}",
                tool=call["name"],
                path=plan.get("path"),
                detail=str(exc),
                root=deps.toolbox.root,
            )
        return ToolResult(False, f"Error: {exc}", f"{call_label(call['name'], args)} (failed)")


def tools(state: AgentState, deps: Deps, emit: Emit) -> AgentState:
    """Run the reviewed calls: reads, approved or automatic writes; denials are reported."""
    thread_id = state["thread_id"]
    n = next_n(state.get("messages", []))
    messages: list[ToolMessage] = []
    for entry in state.get("review", []):
        result = _run_entry(thread_id, entry, deps)
        message = tool_message(entry["call"], result, n, state.get("origin", "model"))
        n += 1
        emit({"type": "tool", "message": message})
        messages.append(message)
    return {"messages": [*messages], "pending": [], "review": []}


ALWAYS = ("tool", "path")
"""What an "allow always" rule may cover."""


def validated_decisions(
    pending: PendingApproval,
    approve: bool,
    hunks: Sequence[int] | None,
    always: str | None,
    decisions: Mapping[str, bool | Mapping[str, object]] | None,
) -> dict[str, Decision]:
    """Validated per-call decisions for the resume value (bad input never resumes)."""
    actions = {a.call_id: a for a in pending.actions}
    if decisions is None:
        given: dict[str, bool | Mapping[str, object]] = {
            call_id: {"approve": approve, "always": always} for call_id in actions
        }
        if hunks is not None:
            edits = [a for a in pending.actions if a.hunks]
            if len(edits) != 1:
                raise AgentError(
                    "several changes wait; give hunks per change with decisions={call_id: ...}"
                )
            given[edits[0].call_id] = {"approve": approve, "always": always, "hunks": list(hunks)}
        decisions = given
    out = {}
    for call_id, raw in decisions.items():
        if call_id not in actions:
            raise AgentError(f"no change {call_id!r} waits in thread {pending.thread_id!r}")
        fields: Mapping[str, object] = {"approve": raw} if isinstance(raw, bool) else raw
        chosen_always = fields.get("always")
        if chosen_always is not None and chosen_always not in ALWAYS:
            raise AgentError(f"always= must be 'tool' or 'path', not {chosen_always!r}")
        if chosen_always and not fields.get("approve"):
            raise AgentError("always= only goes with an approval")
        decision: Decision = {
            "approve": bool(fields.get("approve")),
            "always": str(chosen_always) if chosen_always else None,
        }
        chosen = fields.get("hunks")
        if chosen is not None:
            n = len(actions[call_id].hunks)
            numbers = list(chosen) if isinstance(chosen, list | tuple) else [chosen]
            bad = [h for h in numbers if not isinstance(h, int) or not 1 <= h <= n]
            if bad:
                raise AgentError(f"{actions[call_id].path} has hunks 1-{n}; got {bad}")
            decision["hunks"] = sorted({h for h in numbers if isinstance(h, int)})
        out[call_id] = decision
    return out
