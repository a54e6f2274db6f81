"""The child of the start-up check: load one model with one plan, embed, decode a batch.

Run as ``python -m adaptive_llm_local.runtime.preflight_child '<json request>'`` by
:mod:`adaptive_llm_local.runtime.preflight`. If llama.cpp cannot run on this CPU with the plan,
this process dies from a signal and the parent tries a safer plan. On success it prints
one JSON line: the CPU variant llama.cpp loaded and its system info.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path

from ..models import ModelFile
from .build import loaded_cpu_variant
from .llama import LocalModel, system_info
from .preflight_plan import LoadPlan

# Dozens of tokens: llama.cpp's AMX kernels, the ones that faulted, only run on batched decodes.
PROMPT = (
    "Traceback (most recent call last): File run.py, line 3, in <module> import fancy_solver "
    "ModuleNotFoundError: No module named fancy_solver. The job 4711 failed on node cn042 "
    "after 12 minutes; explain the root cause and suggest a fix in two sentences."
)
N_CTX = 512


def main(argv: list[str]) -> int:
    # a crash here is expected and handled by the parent: no core dump for it
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    request = json.loads(argv[0])
    plan = LoadPlan.from_json(request["plan"])
    common = {
        "n_ctx": N_CTX,
        "n_gpu_layers": request.get("n_gpu_layers"),
        "n_threads": request.get("n_threads"),
        "plan": plan,
    }
    embedder = LocalModel(ModelFile(Path(request["model"])), embedding=True, **common)
    embedder.load()
    if plan.step in (request.get("fault") or "").split(","):
        os.kill(os.getpid(), signal.SIGILL)  # test hook: die as an AMX fault would
    embedder.embed([PROMPT, "out of memory on node cn042"])
    if not request.get("embedding"):
        chat = LocalModel(ModelFile(Path(request["model"])), **common)
        chat.chat([{"role": "user", "content": PROMPT}], max_tokens=2)
    report = {"cpu_variant": loaded_cpu_variant(), "system_info": system_info().strip()}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    # skip interpreter teardown: llama.cpp's finalizers have nothing to add here
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
