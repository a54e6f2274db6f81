"""One measurement of the llama.cpp build on ``PYTHONPATH`` (run by :mod:`.builds`).

Prints one JSON line: prompt processing and generation throughput (medians of a few
calls, each with a new prompt so no cached prefix is reused) and the CPU variant used.
"""

from __future__ import annotations

import json
import sys

from ..config import Settings
from ..models import resolve_chat_model
from ..runtime import LocalModel
from ..runtime.build import loaded_cpu_variant
from . import median

CALLS = 2
TEXT = (
    "Traceback (most recent call last):\n  File run.py, line 3, in <module>\n"
    "    import fancy_solver\nModuleNotFoundError: No module named 'fancy_solver'\n"
) * 4


def main() -> int:
    settings = Settings.from_env()
    model = LocalModel(
        resolve_chat_model(settings), n_ctx=2048, n_threads=settings.n_threads, settings=settings
    )
    model.load()
    model.chat([{"role": "user", "content": "warm up"}], max_tokens=4)
    prompt, generation = [], []
    for i in range(CALLS):
        messages = [{"role": "user", "content": f"Job {4711 + i} failed:\n{TEXT}Explain."}]
        out = model.chat(messages, max_tokens=32, temperature=0.0)
        first = out.first_token_seconds or out.seconds
        prompt.append(out.prompt_tokens / first)
        if out.completion_tokens > 1 and out.seconds > first:
            generation.append((out.completion_tokens - 1) / (out.seconds - first))
    report = {
        "prompt_tps": median(prompt),
        "generation_tps": median(generation) if generation else 0.0,
        "cpu_variant": loaded_cpu_variant(),
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
