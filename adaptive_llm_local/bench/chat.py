"""Chat: a follow-up turn on a long thread reuses the evaluated prompt (KV cache).

Side by side, each round on a fresh thread of the real agent with the real model:

- *follow-up*: the time to first token of a thread's second question, right after its first;
- *cold*: the same prompt again on an empty context (nothing to reuse);
- *after a diagnosis*: the follow-up when a diagnosis-sized prompt ran on the model
  between the two turns (the manager diagnosing a new failure while the user chats),
  with the conversation's prompt kept (``LocalModel.kept_conversations``) and without.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..agent import Agent, SeedContext
from ..config import Settings
from ..diagnose import SYSTEM_PROMPT
from ..models import resolve_chat_model
from ..runtime import LocalModel, ModelCapabilities, ModelDescription
from . import Report, median

ROUNDS = 3
GOAL = 0.25
FILES = 3  # files read into the thread, ~450 tokens each in the prompt


class FirstToken:
    """The real model, timing the first token of every call and keeping its prompt."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.name, self.n_ctx = model.name, model.n_ctx
        self.last: tuple[list[dict[str, str]], float] | None = None

    @property
    def capabilities(self) -> ModelCapabilities:
        return self.model.capabilities

    def load(self) -> object:
        return self.model.load()

    def describe(self) -> ModelDescription:
        return self.model.describe()

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def chat(self, messages: Sequence[dict[str, str]], **kwargs: Any) -> Any:
        start = time.perf_counter()
        first: list[float] = []
        forward = kwargs.pop("on_token", None)

        def on_token(piece: str) -> None:
            if not first:
                first.append(time.perf_counter() - start)
            if forward is not None:
                forward(piece)

        out = self.model.chat(messages, on_token=on_token, **kwargs)
        self.last = (list(messages), first[0] if first else out.seconds)
        return out


def _run_folder(root: Path) -> SeedContext:
    for i in range(FILES):
        body = "".join(
            f"    result_{i}_{j} = solve(grid[{j}], tolerance=1e-{j % 9 + 1})  # step {j}\n"
            for j in range(40)
        )
        (root / f"stage_{i}.py").write_text(f"def stage_{i}(grid, solve):\n{body}    return grid\n")
    log = "".join(
        f"[{i:04d}] learner update: loss={1 / (i + 1):.5f} points={i * 7}\n" for i in range(300)
    )
    log += 'Traceback (most recent call last):\n  File "stage_0.py", line 12, in stage_0\n'
    log += "KeyError: 'pressure'\n"
    (root / "job-1.out").write_text(log)
    return SeedContext(
        job_id="1",
        category="python_exception",
        exception="KeyError",
        key_line="KeyError: 'pressure'",
        key_line_number=303,
        root_cause="The job read a 'pressure' column that its input does not have.",
        log_path=str(root / "job-1.out"),
    )


async def _thread(agent: Agent, thread: str, seed: SeedContext) -> None:
    await agent.seed_thread(thread, seed)
    for i in range(FILES):
        await agent.chat(f"/read stage_{i}.py", thread)
    await agent.chat("Which stage failed, and on which line?", thread)


def _cold(model: LocalModel, messages: list[dict[str, str]]) -> float:
    model.kept.clear()
    model.load().reset()
    start = time.perf_counter()
    for _piece in model.stream_chat(messages, max_tokens=1):
        break
    return time.perf_counter() - start


def _diagnosis(model: LocalModel, i: int) -> None:
    prompt = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Job {9000 + i} failed.\n" + "MemoryError\n" * 80},
    ]
    model.chat(prompt, max_tokens=8)


def run(report: Report) -> None:
    settings = Settings.from_env()
    model = LocalModel(
        resolve_chat_model(settings), n_ctx=4096, n_threads=settings.n_threads, settings=settings
    )
    timed = FirstToken(model)
    follow: list[float] = []
    cold: list[float] = []
    kept: list[float] = []
    lost: list[float] = []
    tokens: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "run"
        root.mkdir()
        seed = _run_folder(root)
        agent = Agent(timed, root=root, state_dir=Path(tmp) / "state", max_tokens=24)
        question = "What does the diagnosis suggest to check first?"

        async def rounds() -> None:
            for i in range(ROUNDS):
                await _thread(agent, f"warm-{i}", seed)
                await agent.chat(question, f"warm-{i}")
                assert timed.last is not None
                messages, first = timed.last
                follow.append(first)
                tokens.append(sum(model.count_tokens(m["content"]) for m in messages))
                cold.append(_cold(model, messages))

                for store, key in ((kept, 4), (lost, 0)):
                    model.kept.capacity = key
                    thread = f"{'kept' if key else 'lost'}-{i}"
                    await _thread(agent, thread, seed)
                    _diagnosis(model, i)
                    await agent.chat(question, thread)
                    assert timed.last is not None
                    store.append(timed.last[1])
                model.kept.capacity = 4

        asyncio.run(rounds())
        agent.close()
    model.close()
    report("thread length (prompt tokens, median)", f"{median(tokens):.0f}")
    report("first token, follow-up turn (median)", f"{median(follow) * 1000:.0f} ms")
    report("first token, same prompt cold (median)", f"{median(cold) * 1000:.0f} ms")
    ratio = median(follow) / median(cold)
    report(
        f"follow-up / cold (goal <= {GOAL})", f"{ratio:.3f}x {'ok' if ratio <= GOAL else 'MISSED'}"
    )
    after = median(kept) / median(cold)
    report(
        f"follow-up after a diagnosis, prompt kept / cold (goal <= {GOAL})",
        f"{after:.3f}x {'ok' if after <= GOAL else 'MISSED'}",
    )
    report("follow-up after a diagnosis, not kept / cold", f"{median(lost) / median(cold):.2f}x")
