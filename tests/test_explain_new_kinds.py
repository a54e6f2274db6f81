"""Fixes and checks for the kinds the catalogue rules added, on logs written here.

Each log follows the format the tool prints (see the rules' citations) with names and
numbers of its own; every sentence must stay grounded like those of the fixtures.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from adaptive_llm_local.diagnose.explain import explain
from adaptive_llm_local.diagnose.sentences import Explanation
from adaptive_llm_local.retrieval.builtin import guide_text
from adaptive_llm_local.triage import triage_text
from adaptive_llm_local.triage.facts import extract_facts

GUIDE = guide_text()
_PATHLIKE = re.compile(
    r"(?<![\w`])(?:[\w.~-]*/[\w./<>-]*[\w<>-]|[\w-]+\.(?:py|sh|so|c|h5|npy|log|csv)\b)"
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*\b")

LOGS = {
    "step_oom": """
        srun: job 7781 has been allocated resources
        slurmstepd: error: Detected 2 oom_kill events in StepId=7781.0. Some of the step tasks have been OOM Killed.
        srun: error: cn112: tasks 1-3: Out Of Memory
        srun: Terminating StepId=7781.0
        slurmstepd: error: *** STEP 7781.0 ON cn112 CANCELLED AT 2025-02-03T11:22:33 ***
    """,
    "extension_library": """
        Traceback (most recent call last):
          File "/home/ana/md/analyse.py", line 3, in <module>
            import h5py
          File "/opt/venv/lib/python3.11/site-packages/h5py/__init__.py", line 25, in <module>
            from . import _errors
        ImportError: libhdf5_serial.so.103: cannot open shared object file: No such file or directory
    """,
    "module_load": """
        Lmod has detected the following error:  The following module(s) are unknown:
        "pytorch/2.9"

        Please check the spelling or version number. Also try "module spider ..."
        Traceback (most recent call last):
          File "/home/ana/train.py", line 1, in <module>
            import torch
        ModuleNotFoundError: No module named 'torch'
    """,
    "conda_env": """
        EnvironmentNameNotFound: Could not find conda environment: cryo-2
        You can list all discoverable environments with `conda info --envs`.
    """,
    "mpi_startup": """
        The application appears to have been direct launched using "srun",
        but OMPI was not built with SLURM's PMI support and therefore cannot
        execute.
        srun: error: cn5: task 0: Exited with exit code 1
    """,
    "intel_pmi": """
        MPI startup(): PMI server not found. Please set I_MPI_PMI_LIBRARY variable if it is not a singleton case.
        Abort(1090575) on node 0 (rank 0 in comm 0): Fatal error in PMPI_Init: Other MPI error
    """,
    "gpu_memory_held": """
        2024-05-05 10:00:01.4 W tensorflow/tsl/framework/bfc_allocator.cc:296] failed to allocate 3.2G (3435973836 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory
        Aborted (core dumped)
    """,
    "slurm_procid": """
        Traceback (most recent call last):
          File "/home/ana/sim.py", line 7, in <module>
            rank = int(os.environ["SLURM_PROCID"])
        KeyError: 'SLURM_PROCID'
    """,
    "pbs_memory": "=>> PBS: job killed: mem 33554944kb exceeded limit 33554432kb\n",
    "sge_time": (
        'job 6021 exceeds job hard limit "h_rt" of queue "long.q@n044" (86405.00000 > '
        "limit:86400.00000) - sending SIGKILL\n"
    ),
    "prolog": "salloc: Prolog failure on node rome-113\n",
    "no_gpu_visible": """
        Traceback (most recent call last):
          File "/home/ana/fit.py", line 9, in <module>
            x = torch.zeros(3, device="cuda")
        RuntimeError: No CUDA GPUs are available
    """,
}


def explained(name: str) -> Explanation:
    result = triage_text(textwrap.dedent(LOGS[name]).lstrip("\n"))
    return explain(result, extract_facts(result))


@pytest.mark.parametrize("name", sorted(LOGS))
def test_every_sentence_is_grounded(name: str) -> None:
    log = textwrap.dedent(LOGS[name]).lstrip("\n")
    result = triage_text(log)
    explanation = explain(result, extract_facts(result))
    assert explanation.cause and explanation.fix
    for sentence in (*explanation.cause, *explanation.fix):
        for line in sentence.grounds.lines:
            assert result.has_line(line), (sentence, line)
        for token in _PATHLIKE.findall(sentence.text):
            assert token in log or token in GUIDE, (token, sentence.text)
        for number in _NUMBER.findall(sentence.text):
            assert number in log or number in GUIDE, (number, sentence.text)


def test_oom_of_an_srun_step_names_the_step_and_the_tasks() -> None:
    explanation = explained("step_oom")
    assert "step 7781.0" in explanation.cause_text
    assert "tasks 1-3" in explanation.cause_text and "cn112" in explanation.cause_text
    assert "--mem-per-cpu" in explanation.fix_text and "--ntasks-per-node" in explanation.fix_text


def test_a_missing_library_names_the_package_ldd_and_the_loader_path() -> None:
    explanation = explained("extension_library")
    assert "`h5py`" in explanation.cause_text
    assert "libhdf5_serial.so.103" in explanation.cause_text
    assert "`ldd`" in explanation.fix_text and "LD_LIBRARY_PATH" in explanation.fix_text


def test_a_failed_module_load_names_the_module() -> None:
    explanation = explained("module_load")
    assert "`module load pytorch/2.9` failed" in explanation.cause_text
    assert "module spider pytorch" in explanation.fix_text
    assert "follows from that" in explanation.cause_text


def test_a_conda_environment_that_is_not_there() -> None:
    explanation = explained("conda_env")
    assert "`cryo-2`" in explanation.cause_text and "conda env list" in explanation.fix_text


def test_an_mpi_start_up_failure_names_the_launcher_and_the_pmi_mismatch() -> None:
    explanation = explained("mpi_startup")
    assert "under `srun`" in explanation.cause_text
    assert "srun --mpi=pmix" in explanation.fix_text and "`mpirun`" in explanation.fix_text
    intel = explained("intel_pmi")
    assert "I_MPI_PMI_LIBRARY" in intel.fix_text


def test_gpu_memory_held_by_other_processes_is_not_host_ram() -> None:
    explanation = explained("gpu_memory_held")
    assert "does not help" in explanation.cause_text and "`--mem`" in explanation.cause_text
    assert "nvidia-smi" in explanation.fix_text
    assert "#SBATCH --mem=" not in explanation.fix_text


def test_a_launcher_variable_the_program_reads() -> None:
    explanation = explained("slurm_procid")
    assert "SLURM_PROCID" in explanation.cause_text and "`srun`" in explanation.fix_text
    assert "line 7 of sim.py" in explanation.fix_text


def test_other_batch_systems_name_their_own_options() -> None:
    assert "#PBS -l mem=" in explained("pbs_memory").fix_text
    assert "-l h_rt=" in explained("sge_time").fix_text


def test_a_prolog_failure_names_the_node() -> None:
    explanation = explained("prolog")
    assert "--exclude=rome-113" in explanation.fix_text and "sinfo -R" in explanation.fix_text


def test_no_gpu_visible_on_a_node_that_has_one() -> None:
    explanation = explained("no_gpu_visible")
    assert "--gres=gpu:1" in explanation.fix_text
    assert "CUDA_VISIBLE_DEVICES" in explanation.fix_text
