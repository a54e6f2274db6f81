"""Tool calls in every format a capable model may use, parsed from scripted output."""

from __future__ import annotations

import json

import pytest

from adaptive_llm_local.agent import detect_tool_format
from adaptive_llm_local.agent.toolcalls import parse_tool_calls, starts_call, tools_prompt

READ = {"file_path": "train.py"}


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (
            "hermes",
            '<tool_call>\n{"name": "read_file", "arguments": {"file_path": "train.py"}}\n</tool_call>',
        ),
        (
            "hermes",
            'Let me look.\n<tool_call>{"name": "read_file", "arguments": "{\\"file_path\\": \\"train.py\\"}"}</tool_call>',
        ),
        (
            "llama3",
            '<|python_tag|>{"name": "read_file", "parameters": {"file_path": "train.py"}}<|eom_id|>',
        ),
        ("llama3", '{"name": "read_file", "parameters": {"file_path": "train.py"}}'),
        ("llama3", '<function=read_file>{"file_path": "train.py"}</function>'),
        ("json", '{"name": "read_file", "arguments": {"file_path": "train.py"}}'),
        ("json", '```json\n{"name": "read_file", "arguments": {"file_path": "train.py"}}\n```'),
        (
            "json",
            '{"function_call": {"name": "read_file", "arguments": "{\\"file_path\\": \\"train.py\\"}"}}',
        ),
        (
            "json",
            '{"tool_calls": [{"type": "function", "function": {"name": "read_file", "arguments": {"file_path": "train.py"}}}]}',
        ),
    ],
)
def test_one_call_in_each_format(fmt: str, text: str) -> None:
    visible, calls = parse_tool_calls(text, fmt, "m3")
    assert [(c.id, c.name, c.args) for c in calls] == [("m3-0", "read_file", READ)]
    assert "read_file" not in visible
    assert starts_call(text) or text.startswith("Let me")


def test_several_calls_and_surrounding_text() -> None:
    text = (
        "I will read both files.\n"
        '<tool_call>{"name": "read_file", "arguments": {"file_path": "a.py"}}</tool_call>\n'
        '<tool_call>{"name": "list_directory", "arguments": {}}</tool_call>'
    )
    visible, calls = parse_tool_calls(text, "hermes")
    assert visible == "I will read both files."
    assert [c.name for c in calls] == ["read_file", "list_directory"]
    two = '{"name": "read_file", "parameters": {"file_path": "a"}}; {"name": "read_file", "parameters": {"file_path": "b"}}'
    assert [c.args["file_path"] for c in parse_tool_calls(two, "llama3")[1]] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "The job ran out of memory; raise --mem.",
        'The config was {"lr": 0.1} and it diverged.',
        '{"lr": 0.1}',
        "<tool_call>not json</tool_call>",
        '{"name": "read_file", "arguments": "not json"}',
    ],
)
def test_prose_and_broken_calls_are_not_calls(text: str) -> None:
    _, calls = parse_tool_calls(text, "hermes")
    assert calls == []


def test_tools_prompt_offers_the_schemas() -> None:
    function = {"type": "function", "function": {"name": "read_file", "parameters": {}}}
    for fmt, marker in (("hermes", "<tools>"), ("llama3", '"parameters"'), ("json", '"arguments"')):
        prompt = tools_prompt(fmt, [function])
        assert marker in prompt and json.dumps(function) in prompt
    with pytest.raises(ValueError, match="unknown tool-call format"):
        tools_prompt("xml", [function])


def test_detect_tool_format_from_chat_templates() -> None:
    assert detect_tool_format("{% if tools %}<tool_call>{{ x }}</tool_call>{% endif %}") == "hermes"
    assert detect_tool_format("<|start_header_id|>ipython<|end_header_id|>") == "llama3"
    assert detect_tool_format("<|im_start|>{{ message.content }}") is None
    assert detect_tool_format(None) is None


@pytest.mark.hostile("model output")
@pytest.mark.parametrize("fmt", ["json", "hermes"])
def test_json_nested_past_the_stack_is_no_call_and_no_crash(fmt: str) -> None:
    deep = '{"name": "read_file", "arguments": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _text, calls = parse_tool_calls(f"<tool_call>{deep}</tool_call> " + "{" * 50_000, fmt)
    assert calls == []


@pytest.mark.hostile("model output")
def test_a_diagnosis_answer_nested_past_the_stack_is_no_answer() -> None:
    from adaptive_llm_local.diagnose.parse import parse_answer

    assert parse_answer("[" * 100_000 + "]" * 100_000) is None
    assert parse_answer("x {" + '"a":' * 50_000 + "1" + "}" * 50_000) is None
