"""Run every benchmark section: ``python -m adaptive_llm_local.bench [section ...]``."""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from . import Recorder

SECTIONS = ("triage", "generation", "builds", "retrieval", "manager", "grounding", "chat")


def main(argv: list[str] | None = None) -> int:
    wanted = (argv if argv is not None else sys.argv[1:]) or list(SECTIONS)
    recorder = Recorder()
    failed = 0
    print("adaptive-llm-local benchmarks (medians and ratios measured side by side in this run)")
    for name in wanted:
        recorder.section = name
        print(f"\n[{name}]", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(f".{name}", __package__).run(recorder)
        except Exception:
            failed += 1
            traceback.print_exc()
        print(f"  ({time.perf_counter() - start:.0f} s)")
    print(f"\nresults saved to {recorder.save()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
