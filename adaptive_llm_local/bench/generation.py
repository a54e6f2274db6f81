"""Generation throughput through our runtime vs raw llama-cpp-python; cold vs warm first token."""

from __future__ import annotations

import time

from ..config import Settings
from ..diagnose import DIAGNOSIS_SCHEMA, SYSTEM_PROMPT
from ..models import resolve_chat_model
from ..runtime import LocalModel, raw_llama
from . import Report, median

PROMPT = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {
        "role": "user",
        "content": "Triage category: missing_module.\nKey line 12: ModuleNotFoundError: No module "
        "named 'fancy_solver'\nLog excerpt:\n    10| Traceback (most recent call last):\n    11|   "
        'File "run.py", line 3, in <module>\n    12| ModuleNotFoundError: No module named '
        "'fancy_solver'\nReply with JSON: root_cause, suggested_fix, evidence, confidence.",
    },
]
MAX_TOKENS = 160
ROUNDS = 5


def _raw_once(llama: object) -> tuple[float, int, str]:
    """One diagnosis-shaped completion straight through llama-cpp-python."""
    start = time.perf_counter()
    out = llama.create_chat_completion(  # type: ignore[attr-defined]
        messages=PROMPT,
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        top_p=0.9,
        repeat_penalty=1.1,
        seed=0,
        response_format={"type": "json_object", "schema": DIAGNOSIS_SCHEMA},
    )
    seconds = time.perf_counter() - start
    return seconds, int(out["usage"]["completion_tokens"]), out["choices"][0]["message"]["content"]


def _ours_once(model: LocalModel) -> tuple[float, int, str]:
    start = time.perf_counter()
    out = model.chat(PROMPT, max_tokens=MAX_TOKENS, temperature=0.0, schema=DIAGNOSIS_SCHEMA)
    return time.perf_counter() - start, out.completion_tokens, out.text


def run(report: Report) -> None:
    settings = Settings.from_env()
    model_file = resolve_chat_model(settings)
    report("model", model_file.name)

    def first_token(model: LocalModel, messages: list[dict[str, str]]) -> float:
        start = time.perf_counter()
        for _piece in model.stream_chat(messages, max_tokens=1):
            break
        return time.perf_counter() - start

    def variant(i: int) -> list[dict[str, str]]:
        # a different job id changes the prompt, so llama.cpp cannot reuse its cached prefix
        return [
            PROMPT[0],
            {"role": "user", "content": f"Job {4711 + i} failed.\n" + PROMPT[1]["content"]},
        ]

    ours = LocalModel(model_file, n_ctx=2048, n_threads=settings.n_threads, settings=settings)
    cold = first_token(ours, variant(0))
    warm_new = median([first_token(ours, variant(i)) for i in range(1, ROUNDS + 1)])
    warm_same = median([first_token(ours, variant(1)) for _ in range(ROUNDS)])
    report("time to first token, cold (model load + prompt)", f"{cold * 1000:.0f} ms")
    report("time to first token, warm, new prompt (median)", f"{warm_new * 1000:.0f} ms")
    report(
        "time to first token, warm, repeated prompt (KV cache hit)", f"{warm_same * 1000:.1f} ms"
    )
    report("cold / warm (new prompt) first-token ratio", f"{cold / warm_new:.1f}x")

    threads = (
        {"n_threads": settings.n_threads, "n_threads_batch": settings.n_threads}
        if settings.n_threads
        else {}
    )
    raw = raw_llama(
        model_file, n_ctx=2048, plan=ours.plan, n_gpu_layers=ours.n_gpu_layers, seed=0, **threads
    )
    ours_tps, raw_tps, ratios = [], [], []
    for _ in range(ROUNDS):  # interleaved so machine noise hits both sides alike
        r_sec, r_tok, _ = _raw_once(raw)
        o_sec, o_tok, _ = _ours_once(ours)
        raw_tps.append(r_tok / r_sec)
        ours_tps.append(o_tok / o_sec)
        ratios.append((o_tok / o_sec) / (r_tok / r_sec))
    report("tokens per diagnosis (same prompt, schema, greedy)", f"{o_tok} ours / {r_tok} raw")
    report("raw llama-cpp-python throughput (median)", f"{median(raw_tps):.1f} tok/s")
    report("our runtime throughput (median)", f"{median(ours_tps):.1f} tok/s")
    report("ours / raw throughput ratio (median, goal >= 0.95)", f"{median(ratios):.3f}")
    ours.close()
    raw.close()
