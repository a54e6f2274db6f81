"""LocalScheduler: pure helpers, process handling, and a real RunManager run."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil
import pytest

from adaptive_llm_local.demo.learners import FAILURES, build_demo_run, killed, segfault
from adaptive_llm_local.scheduler import (
    EPILOGUE_PREFIX,
    LocalScheduler,
    broadcast_per_job,
    describe_returncode,
    expand_job_id,
    format_epilogue,
    loopback_url,
    returncode_from_waitid,
)
from adaptive_llm_local.scheduler import local as sched_mod

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- helpers


def _sessions_alive(sids: Iterable[int]) -> list[psutil.Process]:
    """Processes (zombies included) that still belong to one of the job sessions."""
    wanted = set(sids)
    alive = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) in wanted:
                alive.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return alive


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _script_scheduler(tmp_path: Path, body: str, **kwargs: object) -> LocalScheduler:
    """A scheduler whose (single) job script is ``body`` instead of the launcher."""
    scheduler = LocalScheduler(
        log_folder=tmp_path / "logs", batch_folder=tmp_path / "batch", **kwargs
    )
    scheduler.batch_fname("job").write_text(textwrap.dedent(body))
    return scheduler


def _out_text(scheduler: LocalScheduler, job_id: str) -> str:
    (record,) = [r for r in scheduler.history() if r["job_id"] == job_id]
    return Path(record["output"]).read_text()


def _only_job_id(scheduler: LocalScheduler) -> str:
    (job_id,) = scheduler.queue()
    return job_id


# ----------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [
        (0, "EXITED WITH CODE 0"),
        (1, "EXITED WITH CODE 1"),
        (-9, "KILLED BY SIGNAL 9 (SIGKILL)"),
        (-11, "KILLED BY SIGNAL 11 (SIGSEGV)"),
        (137, "EXITED WITH CODE 137 (128+SIGKILL)"),
        (139, "EXITED WITH CODE 139 (128+SIGSEGV)"),
        (255, "EXITED WITH CODE 255"),
        (None, "ENDED WITH UNKNOWN STATUS"),
    ],
)
def test_describe_returncode(returncode: int | None, expected: str) -> None:
    assert describe_returncode(returncode) == expected


def test_format_epilogue() -> None:
    when = dt.datetime(2025, 1, 2, 3, 4, 5)
    assert format_epilogue("7", "run-1", 0, cancelled=False, when=when) is None
    assert (
        format_epilogue("7", "run-1", -9, cancelled=False, when=when)
        == f"{EPILOGUE_PREFIX} *** JOB 7 (run-1) KILLED BY SIGNAL 9 (SIGKILL) AT 2025-01-02T03:04:05 ***"
    )
    cancelled = format_epilogue("8", "run-2", -15, cancelled=True, when=when)
    assert cancelled == f"{EPILOGUE_PREFIX} *** JOB 8 (run-2) CANCELLED AT 2025-01-02T03:04:05 ***"
    # A job cancelled after it already succeeded is still reported as cancelled.
    assert "CANCELLED" in str(format_epilogue("9", "x", 0, cancelled=True, when=when))


def test_returncode_from_waitid() -> None:
    assert returncode_from_waitid(os.CLD_EXITED, 3) == 3
    assert returncode_from_waitid(os.CLD_KILLED, signal.SIGKILL) == -9
    assert returncode_from_waitid(os.CLD_DUMPED, signal.SIGSEGV) == -11


def test_expand_job_id() -> None:
    path = expand_job_id("/logs/run-3-${JOB_ID}.out", "${JOB_ID}", "42")
    assert path == Path("/logs/run-3-42.out")
    # Only the file name is expanded, like adaptive-scheduler's DatabaseManager does.
    assert expand_job_id("/a${JOB_ID}/b", "${JOB_ID}", "1") == Path("/a${JOB_ID}/b")


def test_broadcast_per_job() -> None:
    single = {"cores": 2, "extra_env_vars": ["A=1"]}
    assert broadcast_per_job(single) == single
    out = broadcast_per_job({"cores": (1, 2), "extra_env_vars": ["A=1"], "num_threads": 1})
    assert out == {"cores": (1, 2), "extra_env_vars": (["A=1"], ["A=1"]), "num_threads": (1, 1)}
    assert out["extra_env_vars"][0] is not out["extra_env_vars"][1]  # independent copies
    with pytest.raises(ValueError, match="same length"):
        broadcast_per_job({"cores": (1, 2), "num_threads": (1, 1, 1)})


def test_loopback_url_is_free_and_local() -> None:
    url = loopback_url()
    match = re.fullmatch(r"tcp://127\.0\.0\.1:(\d+)", url)
    assert match is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(match.group(1))))


def test_file_names_follow_adaptive_scheduler(tmp_path: Path) -> None:
    scheduler = LocalScheduler(log_folder=tmp_path / "deep" / "logs", batch_folder=tmp_path / "b")
    assert scheduler.log_fname("run-0") == tmp_path / "deep" / "logs" / "run-0-${JOB_ID}.log"
    assert (tmp_path / "deep" / "logs").is_dir()
    assert scheduler.output_fnames("run-0") == [tmp_path / "deep" / "logs" / "run-0-${JOB_ID}.out"]
    assert scheduler.batch_fname("run") == tmp_path / "b" / "run.sh"
    assert scheduler.ext == ".sh"
    assert Path(scheduler.submit_cmd).name in ("bash", "sh")


def test_job_script_uses_job_id_and_name(tmp_path: Path) -> None:
    scheduler = LocalScheduler(
        cores=3,
        log_folder=tmp_path,
        extra_env_vars=["FOO=bar"],
        extra_script="echo prologue",
        extra_scheduler=["--mem=1G"],
    )
    script = scheduler.job_script({"--url": "tcp://127.0.0.1:1", "--n": 3})
    assert "--job-id ${JOB_ID}" in script
    assert "--name ${NAME}" in script
    assert f"--log-fname {tmp_path}/${{NAME}}-${{JOB_ID}}.log" in script
    assert "export FOO=bar" in script
    assert "echo prologue" in script
    assert "#LOCAL --mem=1G" in script
    assert str(scheduler.launcher) in script


def test_tuple_resources_need_index_and_write_one_script_per_job(tmp_path: Path) -> None:
    scheduler = LocalScheduler(
        cores=(1, 2),
        executor_type=("process-pool", "sequential"),
        log_folder=tmp_path / "logs",
        batch_folder=tmp_path / "batch",
    )
    scheduler._command_line_options = {"--url": "tcp://127.0.0.1:1"}
    with pytest.raises(ValueError, match="index"):
        scheduler._script_for("run-1", None)
    script = scheduler._script_for("run-1", 1)
    assert script == tmp_path / "batch" / "run-1.sh"
    text = script.read_text()
    assert "--n 2" in text
    assert "--executor-type sequential" in text


def test_single_script_without_setup_is_a_clear_error(tmp_path: Path) -> None:
    scheduler = LocalScheduler(log_folder=tmp_path, batch_folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="RunManager"):
        scheduler.start_job("run-0", index=0)


def test_failed_start_raises_and_leaves_nothing_behind(tmp_path: Path) -> None:
    scheduler = _script_scheduler(tmp_path, "true\n", shell=str(tmp_path / "no-such-shell"))
    with pytest.raises(FileNotFoundError):
        scheduler.start_job("job-0")
    assert scheduler.queue() == {}
    assert list((tmp_path / "logs").glob("*.out")) == []


def test_pickle_round_trip_keeps_configuration(tmp_path: Path) -> None:
    scheduler = LocalScheduler(
        cores=2, log_folder=tmp_path / "l", batch_folder=tmp_path / "b", cancel_grace=0.5
    )
    clone = pickle.loads(pickle.dumps(scheduler))
    assert clone.__getstate__() == scheduler.__getstate__()
    assert clone.queue() == {}


# ----------------------------------------------------------------------------- processes


def test_job_runs_with_env_and_is_forgotten_when_it_ends(tmp_path: Path) -> None:
    scheduler = _script_scheduler(
        tmp_path,
        """\
        echo "id=$JOB_ID name=$NAME"
        echo to-stderr >&2
        exit 3
        """,
    )
    scheduler.start_job("job-0", index=5)
    assert scheduler.wait(timeout=10)
    assert scheduler.queue() == {}
    (record,) = scheduler.history()
    assert record["returncode"] == 3
    assert not record["cancelled"]
    assert Path(record["output"]) == tmp_path / "logs" / f"job-0-{record['job_id']}.out"
    text = _out_text(scheduler, record["job_id"])
    assert f"id={record['job_id']} name=job-0" in text
    assert "to-stderr" in text
    assert f"{EPILOGUE_PREFIX} *** JOB {record['job_id']} (job-0) EXITED WITH CODE 3" in text


def test_successful_job_has_no_epilogue(tmp_path: Path) -> None:
    scheduler = _script_scheduler(tmp_path, "echo fine\n")
    scheduler.start_job("job-0")
    assert scheduler.wait(timeout=10)
    (record,) = scheduler.history()
    assert record["returncode"] == 0
    assert _out_text(scheduler, record["job_id"]) == "fine\n"


def test_queue_reports_running_job_and_cancel_kills_the_group(tmp_path: Path) -> None:
    scheduler = _script_scheduler(
        tmp_path,
        """\
        sleep 300 &
        sleep 301
        """,
        cancel_grace=5.0,
    )
    scheduler.start_job("job-0")
    job_id = _only_job_id(scheduler)
    info = scheduler.queue()[job_id]
    assert info["job_name"] == "job-0"
    assert info["state"] == "R"
    assert scheduler.job_names_to_job_ids("job-0") == [job_id]
    pid = info["pid"]
    assert _wait_until(lambda: len(_sessions_alive([pid])) >= 3, 10)  # bash + 2 sleeps

    started = time.monotonic()
    scheduler.cancel(["job-0", "not-a-job"])
    assert time.monotonic() - started < 5.0  # SIGTERM was enough
    assert scheduler.queue() == {}
    assert _wait_until(lambda: not _sessions_alive([pid]), 5)
    (record,) = scheduler.history()
    assert record["cancelled"]
    assert record["returncode"] == -signal.SIGTERM
    assert "CANCELLED" in _out_text(scheduler, job_id)


def test_cancel_escalates_to_sigkill(tmp_path: Path) -> None:
    scheduler = _script_scheduler(
        tmp_path,
        """\
        trap '' TERM
        echo ready
        while true; do sleep 0.1; done
        """,
        cancel_grace=0.5,
    )
    scheduler.start_job("job-0")
    job_id = _only_job_id(scheduler)
    out = tmp_path / "logs" / f"job-0-{job_id}.out"
    assert _wait_until(lambda: "ready" in out.read_text(), 10)
    scheduler.cancel(["job-0"])
    assert scheduler.queue() == {}
    (record,) = scheduler.history()
    assert record["returncode"] == -signal.SIGKILL
    assert "CANCELLED" in out.read_text()


def test_leftover_processes_die_with_the_job_leader(tmp_path: Path) -> None:
    scheduler = _script_scheduler(
        tmp_path,
        """\
        sleep 300 &
        echo "$!" > "$(dirname "$0")/bg.pid"
        exit 0
        """,
    )
    scheduler.start_job("job-0")
    assert scheduler.wait(timeout=10)
    bg_pid = int((tmp_path / "batch" / "bg.pid").read_text())
    leader = scheduler.history()[0]["pid"]
    assert _wait_until(lambda: not _sessions_alive([leader]), 5)
    assert not psutil.pid_exists(bg_pid) or psutil.Process(bg_pid).status() == "zombie"


def test_signal_deaths_are_reported(tmp_path: Path) -> None:
    scheduler = _script_scheduler(tmp_path, "kill -SEGV $$\n")
    scheduler.start_job("job-0")
    assert scheduler.wait(timeout=10)
    (record,) = scheduler.history()
    assert record["returncode"] == -signal.SIGSEGV
    assert "KILLED BY SIGNAL 11 (SIGSEGV)" in _out_text(scheduler, record["job_id"])


def test_job_ids_are_unique_under_concurrent_starts(tmp_path: Path) -> None:
    scheduler = _script_scheduler(tmp_path, "sleep 0.2\n")
    errors: list[BaseException] = []

    def start(i: int) -> None:
        try:
            scheduler.start_job(f"job-{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    queues = [scheduler.queue() for _ in range(20)]  # concurrent readers must not fail
    for t in threads:
        t.join()
    assert not errors
    assert all(isinstance(q, dict) for q in queues)
    assert scheduler.wait(timeout=20)
    ids = [r["job_id"] for r in scheduler.history()]
    assert len(ids) == len(set(ids)) == 8


def test_existing_logs_are_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched_mod, "_JOB_COUNTER", itertools.count(1))
    scheduler = _script_scheduler(tmp_path, "echo new\n")
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "job-0-1.out").write_text("old out\n")
    (tmp_path / "logs" / "job-0-2.log").write_text("old log\n")
    scheduler.start_job("job-0")
    assert scheduler.wait(timeout=10)
    assert [r["job_id"] for r in scheduler.history()] == ["3"]
    assert (tmp_path / "logs" / "job-0-1.out").read_text() == "old out\n"


def test_jobs_die_when_the_starting_interpreter_exits(tmp_path: Path) -> None:
    pid_file = tmp_path / "job.pid"
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from adaptive_llm_local.scheduler import LocalScheduler
        s = LocalScheduler(log_folder={str(tmp_path)!r}, batch_folder={str(tmp_path)!r})
        s.batch_fname("job").write_text("sleep 300\\n")
        s.start_job("job-0")
        (job_id,) = s.queue()
        Path({str(pid_file)!r}).write_text(str(s.queue()[job_id]["pid"]))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    leader = int(pid_file.read_text())
    assert _wait_until(lambda: not _sessions_alive([leader]), 5)


@pytest.mark.parametrize("function", [killed, segfault])
def test_destructive_demo_functions_refuse_outside_a_job(
    function: Callable[[float], float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADAPTIVE_SCHEDULER_JOB_ID", raising=False)
    with pytest.raises(RuntimeError, match="outside an adaptive-scheduler job"):
        function(0.0)


# ----------------------------------------------------------------------------- RunManager


async def _run_until_failures_recorded(workdir: Path, timeout: float) -> dict[str, object]:
    failures = tuple(FAILURES)
    rm = build_demo_run(workdir, n_good=2, failures=failures, job_name="test-sched")
    good = {str(f) for f in rm.fnames[:2]}
    failing = {str(f): name for f, name in zip(rm.fnames[2:], failures, strict=True)}
    started = time.monotonic()
    rm.start()
    try:
        while time.monotonic() - started < timeout:
            await asyncio.sleep(0.25)
            db = rm.database_manager
            done = {e["fname"] for e in db.as_dicts() if e["is_done"]}
            failed = {e["fname"] for e in db.failed}
            if good <= done and set(failing) <= failed:
                break
        elapsed = time.monotonic() - started
    finally:
        rm.cancel()
    return {"rm": rm, "good": good, "failing": failing, "elapsed": elapsed}


@pytest.mark.slow
def test_run_manager_records_real_failures(tmp_path: Path) -> None:
    result = asyncio.run(_run_until_failures_recorded(tmp_path, timeout=150))
    rm = result["rm"]
    db = rm.database_manager
    scheduler: LocalScheduler = rm.scheduler

    done = {e["fname"] for e in db.as_dicts() if e["is_done"]}
    assert result["good"] <= done, f"healthy learners not done after {result['elapsed']:.0f}s"
    for fname in result["good"]:
        assert Path(fname).is_file()
        learner = rm.learners[[str(f) for f in rm.fnames].index(fname)].new()
        learner.load(fname)
        assert learner.npoints >= 20

    for fname, name in result["failing"].items():
        entries = [e for e in db.failed if e["fname"] == fname]
        assert entries, f"{name}: no entry in database_manager.failed"
        entry = entries[0]
        assert set(entry) >= {"job_id", "job_name", "log_fname", "output_logs"}
        assert entry["job_id"] is not None
        assert Path(entry["log_fname"]).is_file()
        assert "trying to get learner" in Path(entry["log_fname"]).read_text()
        (out,) = entry["output_logs"]
        assert out == entry["log_fname"][: -len(".log")] + ".out"
        text = Path(out).read_text()
        assert FAILURES[name].log_text in text, f"{name}: {text[-2000:]}"
        assert f"{EPILOGUE_PREFIX} *** JOB {entry['job_id']} ({entry['job_name']})" in text
        if FAILURES[name].category in ("python_exception", "missing_module", "out_of_memory"):
            assert "Traceback (most recent call last)" in text
    killed_out = next(
        Path(e["output_logs"][0]).read_text()
        for e in db.failed
        if result["failing"].get(e["fname"]) == "killed"
    )
    assert "(128+SIGKILL)" in killed_out

    # Cancelled cleanly: nothing of any job is left, and the database saw it.
    assert scheduler.queue() == {}
    leaders = [r["pid"] for r in scheduler.history()]
    assert _wait_until(lambda: not _sessions_alive(leaders), 10), _sessions_alive(leaders)
    me = psutil.Process()
    assert not [c for c in me.children(recursive=True) if c.pid in leaders]
    saved = json.loads(Path(rm.db_fname).read_text())
    assert len(saved["data"]) == len(rm.learners)


async def _run_to_completion(rm: object, timeout: float) -> None:
    rm.start()
    try:
        await asyncio.wait_for(asyncio.shield(rm.task), timeout)
        # The launchers told the database they are done; let them exit on their own.
        assert await asyncio.to_thread(rm.scheduler.wait, 30)
    finally:
        rm.cancel()


@pytest.mark.slow
def test_run_manager_with_per_job_resources_finishes(tmp_path: Path) -> None:
    """Tuple resources: RunManager passes ``index`` and each job gets its own script."""
    scheduler = LocalScheduler(
        cores=(1, 1),
        executor_type=("process-pool", "sequential"),
        log_folder=tmp_path / "logs",
        batch_folder=tmp_path / "batch",
    )
    rm = build_demo_run(
        tmp_path, scheduler=scheduler, n_good=2, failures=(), goal=10, job_name="test-tuple"
    )
    asyncio.run(_run_to_completion(rm, timeout=120))
    assert rm.database_manager.is_done()
    assert rm.database_manager.failed == []
    assert all(Path(f).is_file() for f in rm.fnames)
    scripts = sorted(p.name for p in (tmp_path / "batch").glob("*.sh"))
    assert scripts == ["test-tuple-0.sh", "test-tuple-1.sh"]
    texts = [(tmp_path / "batch" / name).read_text() for name in scripts]
    assert {"--executor-type sequential" in t for t in texts} == {True, False}
    assert [r["returncode"] for r in scheduler.history()] == [0, 0]


UNSHARE_SCRIPT = """\
import asyncio, json, sys, time
from pathlib import Path

from adaptive_scheduler._server_support.common import get_allowed_url
from adaptive_llm_local.demo.learners import FAILURES, build_demo_run


async def main(workdir):
    rm = build_demo_run(workdir, n_good=1, failures=("missing_module",), job_name="netns")
    rm.start()
    t0 = time.monotonic()
    ok = False
    while time.monotonic() - t0 < 120 and not ok:
        await asyncio.sleep(0.25)
        db = rm.database_manager
        ok = any(e["is_done"] for e in db.as_dicts()) and bool(db.failed)
    rm.cancel()
    text = Path(db.failed[0]["output_logs"][0]).read_text() if db.failed else ""
    return {"ok": ok, "url": rm.url, "default_url": get_allowed_url(),
            "log_ok": FAILURES["missing_module"].log_text in text}

print("RESULT " + json.dumps(asyncio.run(main(Path(sys.argv[1])))))
"""


@pytest.mark.slow
def test_run_inside_network_namespace_with_only_loopback(tmp_path: Path) -> None:
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None or os.geteuid() != 0:
        pytest.skip("needs root, unshare and ip")
    probe = subprocess.run([unshare, "-n", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare not permitted here: {probe.stderr.decode().strip()}")
    # Like on a cluster node, let the host name resolve to a LAN address: adaptive-
    # scheduler's default URL then points at an interface the namespace does not have.
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n10.255.1.2 {socket.gethostname()}\n")
    script = tmp_path / "netns_run.py"
    script.write_text(UNSHARE_SCRIPT)
    shell = (
        f"ip link set lo up && mount --bind {hosts} /etc/hosts && "
        f"exec {sys.executable} {script} {tmp_path / 'work'}"
    )
    proc = subprocess.run(
        [unshare, "-n", "-m", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["ok"], result
    assert result["log_ok"], result
    assert result["url"].startswith("tcp://127.0.0.1:")
    assert result["default_url"].startswith("tcp://10.255.1.2:")
