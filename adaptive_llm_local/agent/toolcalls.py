"""Tool calls in a model's text: how tools are offered, parsed back and answered.

A backend that can call tools declares one of :data:`TOOL_FORMATS`:

``hermes``
    Hermes / Qwen chat templates: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.
``llama3``
    Llama 3.1 JSON tool calling: ``{"name": ..., "parameters": {...}}``, optionally after
    ``<|python_tag|>``, or ``<function=NAME>{...}</function>``.
``json``
    Any model told to answer with a JSON function-call object: ``{"name", "arguments"}``,
    OpenAI's ``{"function_call": ...}`` or ``{"tool_calls": [...]}``.

Parsing is lenient across formats (a model declared ``hermes`` that answers in bare
JSON still gets its call); every call still goes through the approval policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .types import ToolArgs, ToolCallData

TOOL_FORMATS = ("hermes", "llama3", "json")
_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FUNCTION_TAG = re.compile(r"<function=(?P<name>[\w.-]+)>\s*(?P<args>.*?)\s*</function>", re.S)
_PYTHON_TAG = "<|python_tag|>"
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
CALL_MARKERS = ("<tool_call>", _PYTHON_TAG, "<function=")


@dataclass(frozen=True)
class ToolCall:
    """One call a model (or a slash command) asks for."""

    id: str
    name: str
    args: ToolArgs = field(default_factory=dict)

    def to_dict(self) -> ToolCallData:
        return {"id": self.id, "name": self.name, "args": self.args}


def tools_prompt(fmt: str, functions: Sequence[Mapping[str, object]]) -> str:
    """System-prompt text offering ``functions`` (OpenAI-style schemas) in ``fmt``."""
    listing = "\n".join(json.dumps(f, ensure_ascii=False) for f in functions)
    if fmt == "hermes":
        return (
            "You may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            f"<tools>\n{listing}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments "
            "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
        )
    if fmt == "llama3":
        return (
            "You have access to the following functions. To call a function, respond with "
            'only a JSON object in the format {"name": function name, "parameters": '
            "dictionary of argument name and its value}. Do not use variables.\n\n"
            f"{listing}"
        )
    if fmt == "json":
        return (
            "You can call these functions. To call one, reply with only a JSON object "
            '{"name": <function-name>, "arguments": {<argument>: <value>}} and nothing else.\n\n'
            f"{listing}"
        )
    raise ValueError(f"unknown tool-call format {fmt!r}; use one of {', '.join(TOOL_FORMATS)}")


def _json_objects(text: str) -> list[tuple[int, int, object]]:
    """Every top-level JSON object in ``text`` with its span (raw newlines in strings allowed)."""
    decoder = json.JSONDecoder(strict=False)
    found = []
    pos = 0
    while (start := text.find("{", pos)) >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        except RecursionError:  # nested past the decoder's stack: no call in there
            break
        found.append((start, end, value))
        pos = end
    return found


def _arguments(raw: object) -> ToolArgs | None:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw, strict=False) if raw.strip() else {}
        except (json.JSONDecodeError, RecursionError):
            return None
    return raw if isinstance(raw, dict) else None


def _as_calls(value: object) -> list[tuple[str, ToolArgs]]:
    """(name, arguments) of a decoded function-call object in any of the known shapes."""
    if isinstance(value, list):
        return [call for item in value for call in _as_calls(item)]
    if not isinstance(value, dict):
        return []
    if "tool_calls" in value:
        return _as_calls(value["tool_calls"])
    if "function_call" in value:
        return _as_calls(value["function_call"])
    if isinstance(value.get("function"), dict):
        return _as_calls(value["function"])
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return []
    for key in ("arguments", "parameters", "args"):
        if key in value:
            args = _arguments(value[key])
            return [] if args is None else [(name, args)]
    return [(name, {})]


def parse_tool_calls(text: str, fmt: str, id_prefix: str = "call") -> tuple[str, list[ToolCall]]:
    """Split a model's answer into its visible text and the tool calls it makes.

    Only text that is clearly a call is taken: ``<tool_call>`` blocks, ``<function=...>``
    tags, a ``<|python_tag|>`` payload, or (for ``llama3``/``json`` and as a fallback)
    an answer that is nothing but JSON function-call objects.
    """
    found: list[tuple[str, ToolArgs]] = []
    visible = text
    if "<tool_call>" in text:
        for block in _HERMES.findall(text):
            for _, _, value in _json_objects(block):
                found += _as_calls(value)
        visible = _HERMES.sub("", text)
    if _FUNCTION_TAG.search(visible):
        for match in _FUNCTION_TAG.finditer(visible):
            args = _arguments(match["args"])
            if args is not None:
                found.append((match["name"], args))
        visible = _FUNCTION_TAG.sub("", visible)
    if _PYTHON_TAG in visible:
        head, _, payload = visible.partition(_PYTHON_TAG)
        payload = payload.replace("<|eom_id|>", "").replace("<|eot_id|>", "")
        for _, _, value in _json_objects(payload):
            found += _as_calls(value)
        visible = head
    if not found:
        found, visible = _bare_json_calls(visible)
    calls = [ToolCall(f"{id_prefix}-{i}", name, args) for i, (name, args) in enumerate(found)]
    return visible.strip(), calls


def _bare_json_calls(text: str) -> tuple[list[tuple[str, ToolArgs]], str]:
    """Calls when the whole answer is JSON call objects (optionally fenced, ``;``-separated)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    body = fenced.group(1) if fenced else stripped
    if not body.startswith(("{", "[")):
        return [], text
    objects = _json_objects(body) if body.startswith("{") else []
    if body.startswith("["):
        try:
            objects = [(0, len(body), json.loads(body, strict=False))]
        except (json.JSONDecodeError, RecursionError):
            return [], text
    leftover = body
    for start, end, _ in reversed(objects):
        leftover = leftover[:start] + leftover[end:]
    if leftover.strip(" \n\t;,"):
        return [], text
    calls = [call for _, _, value in objects for call in _as_calls(value)]
    return (calls, "") if calls else ([], text)


def starts_call(text: str) -> bool:
    """Whether streamed text has begun a tool call (front ends should not show it as prose)."""
    head = text.lstrip()
    return head.startswith(("{", "[{", "```json")) or any(m in text for m in CALL_MARKERS)


def detect_tool_format(chat_template: str | None) -> str | None:
    """The tool-call format a GGUF chat template supports natively, if any."""
    if not chat_template:
        return None
    if "<tool_call>" in chat_template:
        return "hermes"
    if "<|python_tag|>" in chat_template or "ipython" in chat_template:
        return "llama3"
    return None
