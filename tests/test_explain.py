"""Explanations without a model: specific, grounded, for every category and common exception.

Content checks use the ``tune`` logs of ``truth.json`` and logs written here in the formats
real programs print (with other names and numbers); the ``holdout`` logs are only counted
(the specific-fix share) and checked for grounding, never used to shape the wording.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from adaptive_llm_local.bench import trust
from adaptive_llm_local.diagnose.checks import CheckResult
from adaptive_llm_local.diagnose.explain import explain
from adaptive_llm_local.diagnose.sentences import Explanation
from adaptive_llm_local.retrieval.builtin import guide_text
from adaptive_llm_local.triage import triage_file, triage_text
from adaptive_llm_local.triage.facts import extract_facts

LOGS = Path(__file__).resolve().parent / "fixtures" / "logs"
TRUTH = trust.load_truth()
TUNE = sorted(n for n, label in TRUTH.items() if label["split"] == "tune")
GUIDE = guide_text()


def explained(name: str, checks: tuple[CheckResult, ...] = ()) -> Explanation:
    result = triage_file(LOGS / name)
    return explain(result, extract_facts(result), checks)


def explained_text(log: str, checks: tuple[CheckResult, ...] = ()) -> Explanation:
    result = triage_text(textwrap.dedent(log).lstrip("\n"))
    return explain(result, extract_facts(result), checks)


# -- the measure ----------------------------------------------------------------------------


def test_labels_cover_every_fixture_and_the_split_was_fixed_by_the_hash() -> None:
    expected = json.loads((LOGS / "expected.json").read_text())
    assert set(TRUTH) == set(expected)
    for name, label in TRUTH.items():
        assert label["split"] == trust.split_of(name), name
        assert label["category"] == expected[name]["category"], name
        assert label["what_happened"] and label["fix"] and label["must_mention"], name
    holdout = [n for n, label in TRUTH.items() if label["split"] == "holdout"]
    assert len(holdout) >= len(TRUTH) / 3


def test_the_specific_fix_share_reaches_the_goal() -> None:
    report = trust.measure()
    for line in trust.lines(report):
        print(line)
    assert report.share("tune") >= trust.GOAL, [
        (m.name, m.missing, m.forbidden) for m in report.misses("tune")
    ]
    assert report.successes_kept() == (5, 5)


def test_the_measure_tells_a_generic_fix_from_a_specific_one() -> None:
    label = TRUTH["python_exception/keyerror_a.log"]
    generic = "Reproduce the failing call locally with the same parameters and fix the code."
    assert not trust.judge("k", label, generic).specific
    specific = "Line 10 of fit.py reads key 'learning_rate': add it to the config."
    assert trust.judge("k", label, specific).specific
    assert trust.mentions("the call at fit.py, line 10", "fit.py:10")
    assert not trust.mentions("fit.py line 100", "fit.py:10 ")


# -- grounding: every sentence, every log ---------------------------------------------------

_PATHLIKE = re.compile(
    r"(?<![\w`])(?:[\w.~-]*/[\w./<>-]*[\w<>-]|[\w-]+\.(?:py|sh|so|c|h5|npy|log|csv)\b)"
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*\b")


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_every_sentence_is_grounded(name: str) -> None:
    result = triage_file(LOGS / name)
    facts = extract_facts(result)
    explanation = explain(result, facts)
    log = (LOGS / name).read_text(errors="replace")
    assert explanation.cause and explanation.fix
    for sentence in (*explanation.cause, *explanation.fix):
        assert sentence.text and sentence.origin in ("rule", "fact")
        for line in sentence.grounds.lines:
            assert result.has_line(line), (sentence, line)
        if sentence.origin == "rule":
            assert sentence.grounds.guide == result.category
        else:
            assert sentence.grounds.lines or sentence.grounds.checks, sentence
        for token in _PATHLIKE.findall(sentence.text):
            assert token in log or token in GUIDE, (token, sentence.text)
        for number in _NUMBER.findall(sentence.text):
            assert number in log or number in GUIDE, (number, sentence.text)


def test_a_job_that_succeeded_is_not_called_a_failure() -> None:
    for name in ("none/empty.log", "none/warnings_only.log"):
        text = explained(name).fix_text + explained(name).cause_text
        assert "Nothing to fix" in text
        assert "failed because" not in text and "crashed" not in text


# -- categories and exceptions (tune logs) -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fix_has"),
    [
        ("python_exception/keyerror_a.log", ["Line 10 of fit.py", "'learning_rate'", ".get("]),
        ("python_exception/index_error.log", ["line 2 of levels.py", "line 7 of levels.py"]),
        ("python_exception/attribute_error.log", ["`.group`", "line 6 of runs.py", "None"]),
        ("python_exception/name_error.log", ["Define `k`", "line 2 of spring.py"]),
        ("python_exception/unbound_local.log", ["`best`", "best = None", "line 5 of best.py"]),
        ("python_exception/chained_during_handling.log", ["line 3 of means.py"]),
        ("python_exception/cleanup_after_error.log", ["line 15 of integrate.py"]),
        ("python_exception/numpy_reshape_b.log", ["30 elements", "line 10 of grid.py"]),
        ("python_exception/recursion.log", ["base case of `depth`", "line 2 of tree.py"]),
        ("python_exception/multiprocessing_remote.log", ["line 8 of pool.py"]),
        ("missing_module/numpyx.log", ["`numpyx`", "pip install numpyx", "line 6 of train.py"]),
        ("missing_module/python2_pathlib.log", ["with Python 3", "train.py"]),
        ("missing_module/cannot_import_name.log", ["`loadz`", "line 1 of reader.py"]),
        ("missing_module/command_not_found.log", ["`python3.99`", "line 3 of ./run.sh"]),
        ("missing_module/shared_library.log", ["`libsolver.so`", "LD_LIBRARY_PATH"]),
        ("file_error/input_not_found_b.log", ["`data/run_5502/input.h5`", "line 5 of load.py"]),
        ("file_error/permission_denied.log", ["`results/summary.csv`", "chmod"]),
        ("file_error/no_space_left.log", ["df -h", "line 3 of dump.py"]),
        ("file_error/is_a_directory.log", ["`results` is a directory", "line 2 of read.py"]),
        ("file_error/script_not_executable.log", ["chmod +x ./analyse.sh", "line 3 of ./run.sh"]),
        (
            "file_error/cannot_open_script.log",
            ["/tmp/adaptive-llm-fixtures/run-23975/simulate_v2.py"],
        ),
        ("out_of_memory/slurm_batch_oom.log", ["#SBATCH --mem=", "job 58", "alloc.py"]),
        (
            "out_of_memory/cuda_out_of_memory.log",
            ["batch size", "line 64 of train.py", "79.15 GiB"],
        ),
        ("out_of_memory/numpy_unable_to_allocate.log", ["298. GiB", "(200000, 200000)", "cov.py"]),
        ("out_of_memory/memoryerror_ulimit.log", ["line 3 of rows.py", "--mem"]),
        ("out_of_memory/cpp_bad_alloc.log", ["`./nl`", "--mem"]),
        ("time_limit/batch_sleep_loop.log", ["#SBATCH --time=", "job 52", "sacct -j 52"]),
        ("cancelled/batch_scancel.log", ["sacct -j 55 -o JobID,State,Reason"]),
        ("node_failure/batch_loop.log", ["job 28", "--requeue", "--exclude=localhost"]),
        ("segfault/c_assert_abort.log", ["`cells > 0`", "mesh.c:8"]),
        ("segfault/c_null_pointer.log", ["`./solver`", "gdb"]),
        ("segfault/python_faulthandler.log", ["line 4 of ext.py", "`string_at`"]),
        ("segfault/python_sigbus.log", ["python -X faulthandler ckpt.py"]),
        (
            "syntax_error/expected_indented_block.log",
            ["Indent line 3 of loop.py", "py_compile loop.py"],
        ),
        ("syntax_error/slurm_srun_syntax.log", ["line 1 of bad.py", "forgot a comma"]),
        ("gpu_error/torch_no_gpu.log", ["--gres=gpu:1"]),
        (
            "mpi_error/mpi_abort_a.log",
            ["rank 1", "solver diverged at iteration 120", "error code 3"],
        ),
        ("unknown/srun_bad_request.log", ["--mem", "sinfo -o '%n %m'"]),
        ("unknown/srun_exit_code.log", ["code 3", "sys.exit(3)"]),
        ("unknown/terminated.log", ["SIGTERM"]),
    ],
)
def test_fix_of_tune_log(name: str, fix_has: list[str]) -> None:
    assert TRUTH[name]["split"] == "tune"
    fix = explained(name).fix_text
    for part in fix_has:
        assert part in fix, (part, fix)


def test_the_cause_states_the_users_frame_and_the_library_frame_as_facts() -> None:
    explanation = explained("file_error/numpy_load.log")
    facts = [s for s in explanation.cause if s.origin == "fact"]
    assert any("line 4 of /tmp/adaptive-llm-fixtures/run-99787/predict.py" in s.text for s in facts)
    assert any("numpy/lib/_npyio_impl.py" in s.text and s.grounds.lines == (6,) for s in facts)


# -- logs written here, in the formats real programs print ---------------------------------


def test_python2_running_python3_code_is_told_to_use_python3() -> None:
    explanation = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/sim/run_sweep.py", line 4, in <module>
            from dataclasses import dataclass
        ImportError: No module named dataclasses
    """)
    assert "with Python 3 (at least 3.7)" in explanation.fix_text
    assert "pip install dataclasses" not in explanation.fix_text
    assert "Python 2" in explanation.cause_text


def test_a_module_removed_from_the_standard_library() -> None:
    explanation = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/setup_ext.py", line 1, in <module>
            from distutils.core import setup
        ModuleNotFoundError: No module named 'distutils'
    """)
    assert "removed from Python's standard library in Python 3.12" in explanation.cause_text
    assert "install `setuptools`" in explanation.fix_text


def test_a_python2_module_name_and_a_package_with_another_name() -> None:
    py2_name = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/cfg.py", line 2, in <module>
            import ConfigParser
        ModuleNotFoundError: No module named 'ConfigParser'
    """)
    assert (
        "Import `configparser` instead of `ConfigParser` at line 2 of cfg.py" in py2_name.fix_text
    )
    other = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/fit.py", line 3, in <module>
            import sklearn
          File "/opt/conda/envs/lab/lib/python3.10/site-packages/foo.py", line 1, in <module>
        ModuleNotFoundError: No module named 'sklearn'
    """)
    assert "Install `scikit-learn` (it provides the module `sklearn`)" in other.fix_text
    assert "/opt/conda/envs/lab (Python 3.10)" in other.fix_text


def test_a_missing_module_names_the_interpreter_the_log_shows() -> None:
    explanation = explained_text("""
        ./job.sh: line 5: 4242 Killed    /opt/envs/x/bin/python other.py
        /opt/envs/x/bin/python: No module named numpyz
    """)
    if explanation.fix_text.startswith("Give the job more memory"):
        pytest.skip("triage picked the kill")
    assert "/opt/envs/x/bin/python -m pip install numpyz" in explanation.fix_text


def test_keyboard_interrupt_and_preemption_and_cancellation() -> None:
    interrupted = explained_text("""
        epoch 3
        Traceback (most recent call last):
          File "/home/kim/train.py", line 30, in <module>
            loss = step(batch)
        KeyboardInterrupt
    """)
    assert (
        "SIGINT" in interrupted.cause_text
        and "line 30 of /home/kim/train.py" in interrupted.cause_text
    )
    assert interrupted.fix_text.startswith("Nothing to change in the code")
    preempted = explained_text(
        "slurmstepd: error: *** JOB 777 ON cn12 CANCELLED AT 2025-01-01T01:02:03 DUE TO PREEMPTION ***\n"
    )
    assert "preempted" in preempted.cause_text and "--requeue" in preempted.fix_text
    assert "job 777" in preempted.fix_text


def test_file_errors_read_only_and_absolute_paths() -> None:
    read_only = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/plot.py", line 9, in <module>
            fig.savefig("/cvmfs/lab/out.png")
        OSError: [Errno 30] Read-only file system: '/cvmfs/lab/out.png'
    """)
    assert "read-only" in read_only.cause_text
    assert "`/cvmfs/lab/out.png` to a writable location" in read_only.fix_text
    assert "line 9 of plot.py" in read_only.fix_text
    missing = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/load.py", line 2, in <module>
            open("/scratch/kim/run3/data.h5")
        FileNotFoundError: [Errno 2] No such file or directory: '/scratch/kim/run3/data.h5'
    """)
    assert (
        "Create `/scratch/kim/run3/data.h5` or correct the path at line 2 of load.py"
        in missing.fix_text
    )


def test_syntax_errors_python_and_bash() -> None:
    tab = explained_text("""
          File "/home/kim/model.py", line 12
            return x
        TabError: inconsistent use of tabs and spaces in indentation
    """)
    assert "Replace the tabs in the indentation of line 12 of model.py" in tab.fix_text
    unclosed = explained_text("""
          File "/home/kim/fit.py", line 7
            y = f(x
                 ^
        SyntaxError: '(' was never closed
    """)
    assert "Close the `(` opened at line 7 of fit.py" in unclosed.fix_text
    bash = explained_text(
        "/var/spool/slurmd/job00042/slurm_script: line 31: syntax error: unexpected end of file\n"
    )
    assert "bash -n /var/spool/slurmd/job00042/slurm_script" in bash.fix_text
    assert "`fi`" in bash.fix_text
    token = explained_text("./submit.sh: line 12: syntax error near unexpected token `done'\n")
    assert "Line 12 of ./submit.sh has `done`" in token.fix_text


def test_python_exceptions_written_here() -> None:
    assertion = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/check.py", line 8, in <module>
            assert n_points > 0, "empty grid"
        AssertionError: empty grid
    """)
    assert "`n_points > 0`" in assertion.fix_text and "line 8 of check.py" in assertion.fix_text
    zero = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/stats.py", line 3, in ratio
            return hits / total
        ZeroDivisionError: division by zero
    """)
    assert "Guard the division at line 3 of stats.py" in zero.fix_text
    module_attr = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/grid.py", line 5, in <module>
            x = np.float(3)
        AttributeError: module 'numpy' has no attribute 'float'
    """)
    assert "Replace `numpy.float` at line 5 of grid.py" in module_attr.fix_text


def test_memory_limits_slurm_prints() -> None:
    explanation = explained_text(
        "slurmstepd: error: Job 4242 exceeded memory limit (2100000 > 2048000), being killed\n"
        "slurmstepd: error: Exceeded job memory limit\n"
    )
    assert "2100000" in explanation.cause_text and "2048000" in explanation.fix_text
    assert "`--mem`" in explanation.fix_text and "job 4242" in explanation.fix_text


def test_gpu_and_mpi_written_here() -> None:
    driver = explained_text("""
        module load cuda/12.6
        CUDA driver version is insufficient for CUDA runtime version
    """)
    assert "instead of cuda/12.6" in driver.fix_text
    illegal = explained_text("""
        Traceback (most recent call last):
          File "/home/kim/gnn.py", line 77, in <module>
            out.sum().backward()
        RuntimeError: CUDA error: an illegal memory access was encountered
    """)
    assert "CUDA_LAUNCH_BLOCKING=1" in illegal.fix_text and "line 77 of gnn.py" in illegal.fix_text
    rank = explained_text("""
        [n1:04242] *** An error occurred in MPI_Recv
        [n1:04242] *** reported by process [1234,3]
        [n1:04242] *** on communicator MPI_COMM_WORLD
        [n1:04242] *** MPI_ERR_RANK: invalid rank
    """)
    assert "MPI_Recv" in rank.fix_text and "rank 3" in rank.fix_text
    launch = explained_text("""
        mpirun was unable to launch the specified application as it could not access
        or execute an executable:

        Executable: ./heat_v2
        Node: n17
    """)
    assert "chmod +x ./heat_v2" in launch.fix_text


# -- checks in the explanation ---------------------------------------------------------------


def test_check_results_become_fact_sentences_and_shape_the_fix() -> None:
    close = CheckResult(
        "module_close_match",
        "problem",
        "/x/bin/python (Python 3.11.7) has `numpy`, the closest installed name to `numpyx`.",
        {"close": "numpy", "interpreter": "/x/bin/python"},
    )
    skipped = CheckResult("slurm_job", "skipped", "sacct is not installed.")
    explanation = explained("missing_module/numpyx.log", (close, skipped))
    facts = [s for s in explanation.cause if s.grounds.checks]
    assert [s.text for s in facts] == [close.text]
    assert facts[0].origin == "fact"
    assert "typo of `numpy`" in explanation.fix_text
    assert "sacct is not installed" not in explanation.cause_text + explanation.fix_text
    record = CheckResult(
        "slurm_job",
        "problem",
        "SLURM's records for job 52 (sacct): state TIMEOUT, time limit 00:01:00, ran 00:01:04.",
        {"time_limit": "00:01:00", "elapsed": "00:01:04", "state": "TIMEOUT"},
    )
    timed = explained("time_limit/batch_sleep_loop.log", (record,))
    assert "Raise the time limit of job 52 above 00:01:00" in timed.fix_text
    assert any("slurm_job" in s.grounds.checks for s in timed.fix)
