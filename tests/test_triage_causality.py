"""Precedence by causality: a cause beats the batch system's verdict on how the job ended.

The logs follow the order in which SLURM, srun, Python and torchrun print their lines
(srun reports a task's end before it kills the step; slurmstepd writes the
``CANCELLED ... DUE TO TIME LIMIT`` line before it sends ``SIGTERM``).
"""

from __future__ import annotations

import textwrap

from adaptive_llm_local.triage import triage_text
from adaptive_llm_local.triage.core import KEPT_RUNNING_LINES

TIME_LIMIT = (
    "slurmstepd: error: *** JOB 5512 ON gn3 CANCELLED AT 2025-02-03T11:22:33 DUE TO TIME LIMIT ***"
)
STEP_CANCELLED = "slurmstepd: error: *** STEP 7781.0 ON cn112 CANCELLED AT 2025-02-03T11:22:33 ***"


def log(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_step_oom_before_the_step_cancellation_is_out_of_memory() -> None:
    result = triage_text(
        log(f"""
        loading 120 shards
        slurmstepd: error: Detected 2 oom_kill events in StepId=7781.0. Some of the step tasks have been OOM Killed.
        srun: error: cn112: tasks 1-3: Out Of Memory
        srun: Terminating StepId=7781.0
        {STEP_CANCELLED}
        """)
    )
    assert result.category == "out_of_memory"
    assert result.key_line is not None and result.key_line.startswith("slurmstepd: error: Detected")
    assert "the job step was then cancelled (line 5)" in result.notes
    assert any(ev.text == STEP_CANCELLED for ev in result.evidence)


def test_bus_error_of_an_srun_task_before_the_cancellation_is_a_crash() -> None:
    result = triage_text(
        log(f"""
        srun: error: gpu07: task 2: Bus error (core dumped)
        srun: Terminating StepId=7781.0
        {STEP_CANCELLED}
        """)
    )
    assert result.category == "segfault"
    assert result.key_line == "srun: error: gpu07: task 2: Bus error (core dumped)"


def test_a_failed_task_before_a_step_cancellation_is_not_a_user_cancel() -> None:
    result = triage_text(
        log(f"""
        srun: error: n4: task 0: Exited with exit code 2
        {STEP_CANCELLED}
        """)
    )
    assert result.category == "unknown"
    assert result.key_line == "srun: error: n4: task 0: Exited with exit code 2"


def test_a_failed_task_before_a_job_cancellation_leaves_the_cancellation() -> None:
    cancelled = "slurmstepd: error: *** JOB 12 ON n4 CANCELLED AT 2025-02-03T11:22:33 ***"
    result = triage_text(
        log(f"""
        srun: error: n4: task 0: Exited with exit code 2
        {cancelled}
        """)
    )
    assert result.category == "cancelled" and result.key_line == cancelled


def test_an_exception_that_hung_the_job_until_its_time_limit_is_the_cause() -> None:
    result = triage_text(
        log(f"""
        epoch 1 step 400
        [rank1]: Traceback (most recent call last):
        [rank1]:   File "/home/u/train.py", line 40, in <module>
        [rank1]:     batch = next(loader)
        [rank1]: ValueError: shard 3 has no rows
        [rank0]: W1203 12:00:00 ProcessGroupNCCL.cpp:1000] waiting for rank 1
        {TIME_LIMIT}
        """)
    )
    assert result.category == "python_exception"
    assert result.exception == "ValueError"
    assert result.key_line == "[rank1]: ValueError: shard 3 has no rows"
    assert any("time limit (line 7)" in note for note in result.notes), result.notes
    assert any(ev.text == TIME_LIMIT for ev in result.evidence)


def test_the_exception_before_the_limit_wins_over_the_sigterm_handlers_exception() -> None:
    result = triage_text(
        log(f"""
        Traceback (most recent call last):
          File "/home/u/worker.py", line 12, in run
            raise RuntimeError("lost connection to the parameter server")
        RuntimeError: lost connection to the parameter server
        {TIME_LIMIT}
        Traceback (most recent call last):
          File "/home/u/main.py", line 30, in <module>
            time.sleep(10)
        KeyboardInterrupt
        """)
    )
    assert result.category == "python_exception" and result.exception == "RuntimeError"
    assert result.key_line == "RuntimeError: lost connection to the parameter server"


def test_a_job_that_kept_running_after_an_exception_ended_by_its_time_limit() -> None:
    progress = "\n".join(f"step {i} loss 0.{i:03d}" for i in range(KEPT_RUNNING_LINES + 1))
    result = triage_text(
        "Traceback (most recent call last):\n"
        '  File "/home/u/train.py", line 40, in <module>\n'
        "ValueError: retrying the batch\n" + progress + "\n" + TIME_LIMIT + "\n"
    )
    assert result.category == "time_limit" and result.key_line == TIME_LIMIT
    assert any("ValueError" in note for note in result.notes)


def test_the_sigterm_handlers_exception_after_the_limit_stays_a_time_limit() -> None:
    result = triage_text(
        log(f"""
        step 68: loss 0.0145
        {TIME_LIMIT}
        Traceback (most recent call last):
          File "/home/u/train.py", line 14, in <module>
            time.sleep(1)
        KeyboardInterrupt
        ./run.sh: line 3:  4242 Killed                  python train.py
        """)
    )
    assert result.category == "time_limit" and result.key_line == TIME_LIMIT


def test_a_cause_in_the_head_and_the_verdict_in_the_tail_of_a_long_log() -> None:
    head = (
        "Traceback (most recent call last):\n"
        '  File "/home/u/train.py", line 40, in <module>\n'
        "ValueError: skipped a bad sample\n"
    )
    middle = "".join(f"step {i} loss 0.5\n" for i in range(20000))
    result = triage_text(head + middle + TIME_LIMIT + "\n", head_bytes=4096, tail_bytes=4096)
    assert result.truncated
    assert result.category == "time_limit"


def test_an_oom_kill_before_a_time_limit_is_out_of_memory() -> None:
    result = triage_text(
        log(f"""
        /var/spool/slurmd/job5512/slurm_script: line 9: 31337 Killed                  ./assemble
        {TIME_LIMIT}
        """)
    )
    assert result.category == "out_of_memory"


def test_lsf_memory_limit_is_out_of_memory_and_run_limit_time_limit() -> None:
    memory = triage_text(
        "Exited with exit code 130.\n\nTERM_MEMLIMIT: job killed after reaching LSF memory "
        "usage limit.\n"
    )
    assert memory.category == "out_of_memory"
    assert memory.key_line is not None and memory.key_line.startswith("TERM_MEMLIMIT")
    run = triage_text(
        "TERM_RUNLIMIT: job killed after reaching LSF run time limit.\nExited with exit code 140.\n"
    )
    assert run.category == "time_limit"


def test_a_failed_module_load_explains_the_missing_module_after_it() -> None:
    result = triage_text(
        log("""
        Lmod has detected the following error:  The following module(s) are unknown:
        "pytorch/2.9"

        Please check the spelling or version number. Also try "module spider ..."
        Traceback (most recent call last):
          File "/home/u/train.py", line 1, in <module>
            import torch
        ModuleNotFoundError: No module named 'torch'
        """)
    )
    assert result.category == "missing_module"
    assert result.key_line is not None and result.key_line.startswith("Lmod has detected")
    assert any("environment could not be set up" in note for note in result.notes)


def test_conda_not_found_explains_the_missing_module_after_it() -> None:
    result = triage_text(
        log("""
        /var/spool/slurmd/job77/slurm_script: line 4: conda: command not found
        Traceback (most recent call last):
          File "/home/u/fit.py", line 2, in <module>
            import xarray
        ModuleNotFoundError: No module named 'xarray'
        """)
    )
    assert (
        result.key_line == "/var/spool/slurmd/job77/slurm_script: line 4: conda: command not found"
    )


def test_a_failed_set_up_does_not_explain_an_unrelated_exception() -> None:
    result = triage_text(
        log("""
        Lmod has detected the following error:  The following module(s) are unknown: "vim/9"
        Traceback (most recent call last):
          File "/home/u/fit.py", line 20, in <module>
            x = 1 / n
        ZeroDivisionError: division by zero
        """)
    )
    assert result.category == "python_exception" and result.exception == "ZeroDivisionError"


def test_torchrun_child_failed_reports_the_workers_exception() -> None:
    result = triage_text(
        log("""
        [rank1]: Traceback (most recent call last):
        [rank1]:   File "/w/train.py", line 9, in <module>
        [rank1]:     raise RuntimeError("bad batch 17")
        [rank1]: RuntimeError: bad batch 17
        Traceback (most recent call last):
          File "/usr/bin/torchrun", line 8, in <module>
            sys.exit(main())
        torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
        ============================================================
        train.py FAILED
        """)
    )
    assert result.exception == "RuntimeError"
    assert result.key_line == "[rank1]: RuntimeError: bad batch 17"


def test_torchrun_child_killed_by_sigkill_without_its_own_error() -> None:
    result = triage_text(
        log("""
        Traceback (most recent call last):
          File "/usr/bin/torchrun", line 8, in <module>
            sys.exit(main())
        torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
        ============================================================
        Root Cause (first observed failure):
        [0]:
          time      : 2025-01-02_03:04:05
          host      : gpu12
          rank      : 3 (local_rank: 3)
          exitcode  : -9 (pid: 4242)
          error_file: <N/A>
          traceback : Signal 9 (SIGKILL) received by PID 4242
        ============================================================
        """)
    )
    assert result.category == "out_of_memory"
    assert result.key_line == "  traceback : Signal 9 (SIGKILL) received by PID 4242"
