"""Finding and checking GGUF files on disk (no network, no llama.cpp)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import ConfigError, ModelCorruptError, ModelNotFoundError
from adaptive_llm_local.models import (
    ModelFile,
    resolve_chat_model,
    resolve_embed_model,
    sha256_of,
    verify_checksum,
)

REAL_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_explicit_model_path_wins(home: Path, model_path: Path) -> None:
    assert resolve_chat_model(Settings.from_env()).path == model_path


def test_model_by_file_name_in_models_dir(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "models" / "qwen-7b-q4.gguf").write_bytes(b"GGUF....")
    monkeypatch.setenv("ADAPTIVE_LLM_MODEL", "qwen-7b-q4.gguf")
    assert resolve_chat_model(Settings.from_env()).path == home / "models" / "qwen-7b-q4.gguf"


def test_a_single_copied_gguf_is_used_when_default_is_absent(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADAPTIVE_LLM_MODEL")
    (home / "models" / "my-model.gguf").write_bytes(b"GGUF")
    (home / "models" / "nomic-embed.gguf").write_bytes(b"GGUF")
    settings = Settings.from_env()
    assert resolve_chat_model(settings).name == "my-model.gguf"
    embed = resolve_embed_model(settings)
    assert embed is not None and embed.name == "nomic-embed.gguf"


def test_missing_default_model_message(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPTIVE_LLM_MODEL")
    with pytest.raises(ModelNotFoundError) as info:
        resolve_chat_model(Settings.from_env())
    message = str(info.value)
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in message
    assert "make models" in message and "ADAPTIVE_LLM_MODEL" in message


def test_missing_explicit_model_message(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_MODEL", "/nowhere/model.gguf")
    with pytest.raises(ModelNotFoundError, match=r"/nowhere/model\.gguf"):
        resolve_chat_model(Settings.from_env())


def test_checksum_verified_and_cached(tmp_path: Path, model_path: Path) -> None:
    copy = tmp_path / model_path.name
    shutil.copy(model_path, copy)
    assert verify_checksum(ModelFile(copy, expected_sha256=REAL_SHA)) == REAL_SHA
    assert (tmp_path / ".sha256-cache.json").is_file()
    assert sha256_of(copy) == REAL_SHA


def test_checksum_mismatch_is_corruption(tmp_path: Path) -> None:
    bad = tmp_path / "m.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelCorruptError, match="make models"):
        verify_checksum(ModelFile(bad, expected_sha256=REAL_SHA))


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ADAPTIVE_LLM_HOME", str(tmp_path))
    monkeypatch.setenv("ADAPTIVE_LLM_N_GPU_LAYERS", "0")
    monkeypatch.setenv("ADAPTIVE_LLM_N_CTX", "2048")
    settings = Settings.from_env(n_ctx=1024)
    assert settings.n_gpu_layers == 0 and settings.n_ctx == 1024
    assert settings.models_dir == tmp_path / "models"
    assert settings.chroma_path == tmp_path / "index" / "chroma"
    monkeypatch.setenv("ADAPTIVE_LLM_N_CTX", "lots")
    with pytest.raises(ConfigError, match="ADAPTIVE_LLM_N_CTX"):
        Settings.from_env()
