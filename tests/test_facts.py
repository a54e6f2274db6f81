"""Facts a log states, read from the real fixture logs: names, paths, frames, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptive_llm_local.triage import triage_file, triage_text
from adaptive_llm_local.triage.fact_lines import line_facts
from adaptive_llm_local.triage.facts import Facts, extract_facts, is_library_file

LOGS = Path(__file__).resolve().parent / "fixtures" / "logs"
EXPECTED = json.loads((LOGS / "expected.json").read_text())
DERIVED = {"python_major"}  # the only fact that may not be a substring of its line


def facts_of(name: str) -> Facts:
    return extract_facts(triage_file(LOGS / name))


def lines_of(name: str) -> dict[int, str]:
    result = triage_file(LOGS / name)
    return {ev.line: ev.text for ev in [*result.context, *result.evidence]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fact_is_read_from_the_line_it_cites(name: str) -> None:
    lines = lines_of(name)
    for fact in facts_of(name).items:
        assert fact.line is not None, fact
        if fact.name in DERIVED:
            continue
        assert fact.value in lines[fact.line] or fact.value in lines[fact.line].replace("│", " "), (
            fact,
            lines[fact.line],
        )


def test_a_log_without_failure_has_no_facts() -> None:
    assert facts_of("none/empty.log").items == ()
    assert extract_facts(triage_text("")).items == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # missing modules, names, programs, libraries, the interpreter
        ("missing_module/numpyx.log", {"module": "numpyx", "python_version": "3.11.7"}),
        ("missing_module/nested_package.log", {"module": "mylab", "top_module": "mylab"}),
        (
            "missing_module/cannot_import_name.log",
            {
                "import_name": "loadz",
                "module": "json",
                "module_file": "/root/.pyenv/versions/3.11.7/lib/python3.11/json/__init__.py",
                "python_prefix": "/root/.pyenv/versions/3.11.7",
            },
        ),
        (
            "missing_module/python2_pathlib.log",
            {"module": "pathlib", "python_major": "2", "frame_file": "train.py"},
        ),
        (
            "missing_module/python_dash_m.log",
            {"interpreter": "/work/main/.venv/bin/python", "run_module": "mylab.run"},
        ),
        (
            "missing_module/command_not_found.log",
            {"missing_command": "python3.99", "script": "./run.sh", "script_line": "3"},
        ),
        ("missing_module/shared_library.log", {"library": "libsolver.so", "program": "./solver"}),
        ("missing_module/slurm_srun_missing.log", {"module": "torchx", "frame_file": "<string>"}),
        # exceptions
        ("python_exception/keyerror_a.log", {"key": "'learning_rate'", "frame_line": "10"}),
        (
            "python_exception/attribute_error.log",
            {"attribute": "group", "object_type": "NoneType", "frame_function": "run_id"},
        ),
        ("python_exception/name_error.log", {"name": "k", "frame_source": "return 0.5 * k * x**2"}),
        ("python_exception/unbound_local.log", {"name": "best", "frame_function": "best_fit"}),
        (
            "python_exception/index_error.log",
            {
                "frame_line": "2",
                "caller_line": "7",
                "caller_source": 'print("excited state", pick(energies, 3))',
            },
        ),
        (
            "python_exception/numpy_reshape_a.log",
            {"array_size": "12", "shape": "(5,)", "frame_source": "return values.reshape(n)"},
        ),
        (
            "python_exception/warnings_then_error.log",
            {"operator": "+", "left_type": "int", "right_type": "str"},
        ),
        (
            "python_exception/chained_during_handling.log",
            {"frame_line": "3", "chain_exception": "NameError", "chain_line": "5"},
        ),
        (
            "python_exception/multiprocessing_remote.log",
            {"frame_file": "/tmp/adaptive-llm-fixtures/run-55901/pool.py", "frame_line": "8"},
        ),
        (
            "python_exception/rich_traceback.log",
            {
                "frame_line": "8",
                "frame_source": "return [v / total for v in values]",
                "caller_line": "12",
            },
        ),
        ("python_exception/recursion.log", {"frame_function": "depth", "caller_line": "6"}),
        # files
        (
            "file_error/input_not_found_a.log",
            {"path": "data/run_9302/input.h5", "errno": "2", "frame_line": "5"},
        ),
        (
            "file_error/read_only_fs.log",
            {"path": "ro/plot.png", "strerror": "Read-only file system"},
        ),
        (
            "file_error/no_space_left.log",
            {"errno": "28", "frame_file": "/tmp/adaptive-llm-fixtures/run-26783/dump.py"},
        ),
        (
            "file_error/numpy_load.log",
            {
                "frame_file": "/tmp/adaptive-llm-fixtures/run-99787/predict.py",
                "library_function": "load",
            },
        ),
        (
            "file_error/cannot_open_script.log",
            {
                "interpreter": "/work/main/.venv/bin/python",
                "path": "/tmp/adaptive-llm-fixtures/run-23975/simulate_v2.py",
            },
        ),
        (
            "file_error/script_not_executable.log",
            {"path": "./analyse.sh", "strerror": "Permission denied"},
        ),
        # syntax
        ("syntax_error/missing_colon_b.log", {"frame_line": "4", "frame_source": "class Run"}),
        ("syntax_error/slurm_srun_syntax.log", {"frame_source": "print('start'"}),
        ("syntax_error/bash_unexpected_eof.log", {"script": "./run.sh", "script_line": "7"}),
        # SLURM, memory, GPUs, MPI, native crashes
        (
            "time_limit/srun_step.log",
            {"job_id": "54", "cancel_reason": "TIME LIMIT", "step_id": "54.0"},
        ),
        ("cancelled/preemption.log", {"job_id": "4471203", "node": "nid001234"}),
        ("node_failure/srun_step.log", {"node": "localhost", "cancel_reason": "NODE FAILURE"}),
        (
            "out_of_memory/slurm_batch_oom.log",
            {
                "job_id": "58",
                "step_id": "58.batch",
                "command": "/work/main/.venv/bin/python alloc.py",
            },
        ),
        (
            "out_of_memory/slurm_exceeded_memory.log",
            {"mem_used": "8594128896", "mem_limit": "8589934592", "job_id": "812345"},
        ),
        (
            "out_of_memory/cuda_out_of_memory.log",
            {"cuda_requested": "2.00 GiB", "gpu_total": "79.15 GiB", "gpu_free": "1.12 GiB"},
        ),
        (
            "out_of_memory/numpy_unable_to_allocate.log",
            {"alloc_size": "298. GiB", "array_shape": "(200000, 200000)", "dtype": "float64"},
        ),
        ("out_of_memory/kernel_oom_killed.log", {"signal_name": "Killed", "exit_code": "137"}),
        (
            "out_of_memory/cpp_bad_alloc.log",
            {"native_exception": "std::bad_alloc", "program": "./nl"},
        ),
        ("gpu_error/driver_insufficient.log", {"cuda_module": "cuda/12.4"}),
        ("gpu_error/nccl_error.log", {"rank": "1", "nccl_version": "2.20.5", "node": "gpu003"}),
        (
            "mpi_error/mpi_abort_a.log",
            {
                "rank": "1",
                "mpi_errorcode": "3",
                "rank_message": "rank 1: solver diverged at iteration 120, aborting",
            },
        ),
        (
            "mpi_error/mpi_err_rank.log",
            {"mpi_call": "MPI_Send", "mpi_error": "MPI_ERR_RANK: invalid rank"},
        ),
        ("mpi_error/rank_nonzero_exit.log", {"rank": "1", "exit_code": "2"}),
        ("mpi_error/launch_failure.log", {"executable": "./solver_v3", "node": "vm"}),
        (
            "segfault/c_assert_abort.log",
            {"assert_file": "mesh.c", "assert_line": "8", "assertion": "cells > 0"},
        ),
        (
            "segfault/mpirun_rank_segfault.log",
            {
                "crash_binary": "./halo",
                "crash_offset": "0x1201",
                "fault_address": "0x28",
                "rank": "1",
            },
        ),
        (
            "segfault/python_faulthandler.log",
            {
                "frame_file": "/tmp/adaptive-llm-fixtures/run-57837/ext.py",
                "frame_line": "4",
                "library_function": "string_at",
            },
        ),
        ("segfault/slurm_srun_segfault.log", {"last_output": "solver: initialising grid"}),
        ("unknown/error_line_exit_1.log", {"see_file": "calib.log"}),
        ("unknown/srun_exit_code.log", {"exit_code": "3", "task": "0"}),
        (
            "unknown/truncated_traceback.log",
            {"frame_line": "10", "frame_function": "build_learner"},
        ),
    ],
)
def test_facts_of_fixture(name: str, expected: dict[str, str]) -> None:
    facts = facts_of(name)
    assert {k: facts.get(k) for k in expected} == expected


def test_the_user_frame_skips_library_and_stdlib_frames() -> None:
    facts = facts_of("gpu_error/torch_no_gpu.log")
    assert facts.get("frame_file") == "/scratch/u1234/runs/job_81723/train.py"
    assert facts.get("frame_line") == "61"
    assert (
        facts.get(
            "library_file",
        )
        == "/opt/conda/lib/python3.11/site-packages/torch/cuda/__init__.py"
    )
    for path in (
        "/opt/conda/lib/python3.11/site-packages/torch/x.py",
        "/usr/lib/python3/dist-packages/numpy/x.py",
        "/usr/lib/python2.7/json/decoder.py",
        "<frozen importlib._bootstrap>",
        "/root/.pyenv/versions/3.11.7/lib/python3.11/multiprocessing/pool.py",
    ):
        assert is_library_file(path), path
    for path in ("/home/ada/proj/train.py", "train.py", "<string>", "/work/lib/analysis.py"):
        assert not is_library_file(path), path


def test_python2_is_recognised_by_its_paths_and_its_wording() -> None:
    log = (
        "Traceback (most recent call last):\n"
        '  File "run.py", line 3, in <module>\n'
        "    import json\n"
        '  File "/usr/lib/python2.7/json/__init__.py", line 108, in <module>\n'
        "    from .decoder import JSONDecoder\n"
        "ImportError: No module named decoder\n"
    )
    facts = extract_facts(triage_text(log))
    assert facts.get("python_version") == "2.7"
    assert facts.get("python_major") == "2"
    assert facts.get("python_prefix") == "/usr"
    # Python 3's own unquoted wording of `python3 -m x` is not mistaken for Python 2
    py3 = extract_facts(triage_text("/usr/bin/python3: No module named mylab\n"))
    assert py3.get("python_major") != "2"
    assert py3.get("module") == "mylab"
    assert py3.get("top_module") == "mylab"


@pytest.mark.timeout(60)
def test_long_hostile_lines_do_not_make_the_patterns_backtrack() -> None:
    bait = [
        "'" + "a': " * 500,
        "[Errno 2] No such file or directory: '" + "x" * 1900,
        "./run.sh: line 1: " + ": " * 900,
        "*** JOB " + "1 " * 900 + "CANCELLED AT",
        "MPI_ABORT was invoked on rank 1 in communicator " + "x" * 1900,
        "Tried to allocate " + "1." * 900,
        "see " + "a/" * 900 + ".log",
        '  File "' + "/" * 1900,
        "│ " + "x:1 in " * 250,
    ]
    for line in bait:  # every pattern on every line, whatever triage picks as key
        assert all(len(value) <= len(line) for _, value, _ in line_facts([line] * 3))
    facts = extract_facts(triage_text("\n".join(bait * 4)))
    assert all(len(f.value) <= 2000 for f in facts.items)
