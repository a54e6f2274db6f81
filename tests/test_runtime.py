"""The llama.cpp runtime with the real default model: lazy, serialized, off-loop, streaming."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from pathlib import Path

import pytest

from adaptive_llm_local.config import Settings
from adaptive_llm_local.errors import ModelCorruptError, ModelNotFoundError
from adaptive_llm_local.models import ModelFile
from adaptive_llm_local.runtime import LocalModel, get_chat_model, get_embedding_model

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Name one planet of the solar system."},
]


@pytest.fixture(scope="module")
def chat_model(model_path: Path) -> LocalModel:
    return LocalModel(ModelFile(model_path), n_ctx=1024, settings=Settings.from_env())


def test_construction_does_not_load(model_path: Path) -> None:
    model = LocalModel(ModelFile(model_path))
    assert not model.loaded
    assert model.describe()["loaded"] is False


def test_get_chat_model_is_shared_and_lazy(home: Path) -> None:
    settings = Settings.from_env()
    first, second = get_chat_model(settings), get_chat_model(settings)
    assert first is second
    assert first.n_ctx == settings.n_ctx


def test_chat_streams_pieces_that_make_the_text(chat_model: LocalModel) -> None:
    pieces: list[str] = []
    completion = chat_model.chat(MESSAGES, max_tokens=24, on_token=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == completion.text
    assert 0 < completion.completion_tokens <= 24
    assert completion.prompt_tokens > 10
    assert completion.first_token_seconds is not None


def test_greedy_generation_is_reproducible(chat_model: LocalModel) -> None:
    first = chat_model.chat(MESSAGES, max_tokens=16).text
    second = chat_model.chat(MESSAGES, max_tokens=16).text
    assert first == second


def test_schema_constrains_output_to_json(chat_model: LocalModel) -> None:
    schema = {
        "type": "object",
        "properties": {"planet": {"type": "string", "maxLength": 20}, "moons": {"type": "integer"}},
        "required": ["planet", "moons"],
    }
    completion = chat_model.chat(MESSAGES, max_tokens=60, schema=schema)
    data = json.loads(completion.text)
    assert set(data) == {"planet", "moons"}
    assert isinstance(data["moons"], int)
    assert len(data["planet"]) <= 20


def test_concurrent_calls_are_serialized(chat_model: LocalModel) -> None:
    spans: list[tuple[float, float]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start = time.perf_counter()
            out = chat_model.chat(MESSAGES, max_tokens=12)
            assert out.text
            spans.append((start, time.perf_counter()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(spans) == 3


def test_async_chat_keeps_the_event_loop_running(chat_model: LocalModel) -> None:
    async def main() -> tuple[int, str]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        completion = await chat_model.achat(MESSAGES, max_tokens=48)
        done.set()
        await task
        return ticks, completion.text

    ticks, text = asyncio.run(main())
    assert text
    assert ticks >= 5, "the event loop was blocked while the model generated"


def test_async_stream_matches_sync_text(chat_model: LocalModel) -> None:
    async def collect() -> list[str]:
        return [piece async for piece in chat_model.astream_chat(MESSAGES, max_tokens=16)]

    pieces = asyncio.run(collect())
    assert "".join(pieces) == chat_model.chat(MESSAGES, max_tokens=16).text


def test_embeddings_are_unit_length_and_batched_equals_single(home: Path) -> None:
    embedder = get_embedding_model(Settings.from_env())
    texts = ["ModuleNotFoundError: No module named 'foo'", "DUE TO TIME LIMIT"]
    batch = embedder.embed(texts)
    assert len(batch) == 2 and len(batch[0]) == embedder.embedding_dim()
    assert math.isclose(sum(x * x for x in batch[0]), 1.0, rel_tol=1e-3)
    single = embedder.embed(texts[:1])[0]
    assert max(abs(a - b) for a, b in zip(single, batch[0], strict=True)) < 1e-3


def test_missing_model_names_path_and_fix(tmp_path: Path) -> None:
    model = LocalModel(ModelFile(tmp_path / "nope.gguf"))
    with pytest.raises(ModelNotFoundError, match=r"nope\.gguf.*make models"):
        model.load()


def test_not_a_gguf_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>proxy error</html>")
    with pytest.raises(ModelCorruptError, match=r"not a GGUF file"):
        LocalModel(ModelFile(bad)).load()


def test_truncated_gguf_is_reported(tmp_path: Path, model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with model_path.open("rb") as src:
        cut.write_bytes(src.read(2_000_000))
    with pytest.raises(ModelCorruptError, match=r"cut\.gguf"):
        LocalModel(ModelFile(cut)).load()


def test_wrong_size_against_manifest(tmp_path: Path, model_path: Path) -> None:
    cut = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with model_path.open("rb") as src:
        cut.write_bytes(src.read(1_000_000))
    with pytest.raises(ModelCorruptError, match=r"interrupted copy"):
        LocalModel(ModelFile(cut, expected_size=98362432)).load()
