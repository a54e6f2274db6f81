"""Every model object, real or scripted, meets the same declared protocol; the registry builds them.

The same conformance checks run against :class:`LocalModel` with the real GGUF (chat and
embeddings, built directly and through the registry) and against every scripted model of
:mod:`adaptive_llm_local.testing`, so a scripted model cannot drift from what the real
backends offer, and callers can rely on the declared capabilities instead of probing.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import ConfigError
from adaptive_llm_local.models import ModelFile
from adaptive_llm_local.runtime import (
    BACKENDS,
    Backend,
    ChatModel,
    Completion,
    EmbeddingModel,
    LocalModel,
    ModelCapabilities,
    ModelSpec,
    get_chat_model,
    get_embedding_model,
    registry,
)
from adaptive_llm_local.testing import ScriptedModel


def _keyword_parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def protocol_problems(model: object, protocol: type) -> list[str]:
    """What ``model`` lacks of ``protocol``: members, capability type, method signatures."""
    problems: list[str] = []
    if not isinstance(model, protocol):
        return [f"{type(model).__name__} does not implement {protocol.__name__}"]
    capabilities = model.capabilities  # type: ignore[attr-defined]
    if not isinstance(capabilities, ModelCapabilities):
        problems.append(f"capabilities is a {type(capabilities).__name__}")
    else:
        with pytest.raises(dataclasses.FrozenInstanceError):
            capabilities.embeds = not capabilities.embeds  # type: ignore[misc]
    for name, declared in vars(protocol).items():
        if name.startswith("_") or not inspect.isfunction(declared):
            continue
        method = getattr(type(model), name)
        expected = inspect.signature(declared).parameters
        actual = inspect.signature(method).parameters
        for pname, param in expected.items():
            if pname == "self":
                continue
            if param.kind is inspect.Parameter.KEYWORD_ONLY:
                got = _keyword_parameters(method).get(pname)
                if got is None:
                    problems.append(f"{name}() takes no {pname}=")
                elif got.default is inspect.Parameter.empty:
                    problems.append(f"{name}() needs {pname}= though the protocol defaults it")
            elif pname not in actual:
                problems.append(f"{name}() has no parameter {pname}")
    return problems


def scripted_models() -> list[ScriptedModel]:
    return [ScriptedModel(["an answer"]), ScriptedModel([{"a": 1}], tool_format="hermes")]


@pytest.mark.parametrize("model", scripted_models(), ids=["plain", "tool-calling"])
def test_every_scripted_model_is_a_chat_model(model: ScriptedModel) -> None:
    assert protocol_problems(model, ChatModel) == []
    assert model.capabilities.tool_format == model.tool_format
    assert model.capabilities.local_file is None and not model.capabilities.embeds
    assert model.load() is None and model.describe()["backend"] == "scripted"
    completion = model.chat([{"role": "user", "content": "hi"}], conversation="ignored")
    assert isinstance(completion, Completion) and completion.text


def test_the_real_model_is_a_chat_and_an_embedding_model(model_path: Path) -> None:
    settings = Settings.from_env()
    chat = LocalModel(ModelFile(model_path), n_ctx=512, settings=settings)
    embed = LocalModel(ModelFile(model_path), n_ctx=512, embedding=True, settings=settings)
    for model, protocol in ((chat, ChatModel), (embed, EmbeddingModel)):
        assert protocol_problems(model, protocol) == []
        assert model.capabilities.local_file == ModelFile(model_path)
        assert model.describe()["backend"] == "llama"
    assert chat.capabilities.keeps_conversations and not chat.capabilities.embeds
    assert chat.capabilities.chat_template  # SmolLM2's GGUF carries its template
    assert embed.capabilities.embeds and not embed.capabilities.keeps_conversations
    assert embed.model_id == f"{model_path.name}#{model_path.stat().st_size}"
    assert not chat.loaded and chat.count_tokens("Name one planet.") > 0 and chat.loaded
    completion = chat.chat([{"role": "user", "content": "Hi"}], max_tokens=2, conversation="c")
    assert isinstance(completion, Completion)
    assert len(embed.embed(["out of memory"])[0]) == embed.embedding_dim()


def test_the_registry_builds_the_llama_backend_by_default(home: Path) -> None:
    settings = Settings.from_env()
    assert settings.backend == settings.embed_backend == "llama"
    chat, embed = get_chat_model(settings), get_embedding_model(settings)
    assert protocol_problems(chat, ChatModel) == [] and isinstance(chat, LocalModel)
    assert protocol_problems(embed, EmbeddingModel) == [] and embed.capabilities.embeds
    assert get_chat_model(settings) is chat and not chat.capabilities.embeds


def test_a_new_backend_is_one_registry_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new backend module provides, registered with one line: the parts use it."""
    monkeypatch.setattr(registry, "_MODELS", {})
    built: list[str] = []

    def chat(settings: Settings) -> ModelSpec[ChatModel]:
        def build() -> ChatModel:
            built.append(settings.model or "")
            return ScriptedModel(
                ["Plain text."], name=f"remote:{settings.model}", tool_format="json"
            )

        return ModelSpec((settings.model,), build)

    monkeypatch.setitem(BACKENDS, "scripted", Backend(chat=chat))
    settings = Settings(home=tmp_path, backend="scripted", embed_backend="scripted", model="m1")
    assistant = Assistant.from_settings(settings, index="off")
    assert assistant.model.name == "remote:m1" and assistant.tool_format == "json"
    assert get_chat_model(settings) is assistant.model and built == ["m1"]
    with pytest.raises(ConfigError, match="ADAPTIVE_LLM_EMBED_BACKEND"):
        get_embedding_model(settings)


def test_an_unknown_backend_names_the_setting_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ADAPTIVE_LLM_BACKEND='nope'.*llama"):
        get_chat_model(Settings(home=tmp_path, backend="nope"))


class _Undeclared:
    """A model as callers used to probe for: it chats, but declares nothing."""

    name = "undeclared"
    n_ctx = 512

    def count_tokens(self, text: str) -> int:
        return len(text)

    def chat(self, messages: Any, *, max_tokens: int = 8) -> Completion:
        return Completion(text="")


class _NoConversation(ScriptedModel):
    def chat(  # type: ignore[override]
        self, messages: Any, *, max_tokens: int = 384, temperature: float = 0.0
    ) -> Completion:
        return Completion(text="")


def test_the_conformance_check_finds_what_a_model_lacks() -> None:
    assert protocol_problems(_Undeclared(), ChatModel) == [
        "_Undeclared does not implement ChatModel"
    ]
    problems = protocol_problems(_NoConversation(), ChatModel)
    assert "chat() takes no conversation=" in problems and "chat() takes no schema=" in problems
    assert protocol_problems(ScriptedModel(), EmbeddingModel) == [
        "ScriptedModel does not implement EmbeddingModel"
    ]
