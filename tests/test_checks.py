"""Machine checks for real: paths, file systems (a real read-only and a real full mount),
real interpreters (this venv's, the system's ``/usr/bin/python3``, Python 2.7 when there),
time bounds, and what SLURM recorded (scripted ``scontrol``/``sacct`` for the parsing, the
real single-node SLURM when it runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptive_llm_local.diagnose.check_result import CheckTimeout, bounded
from adaptive_llm_local.diagnose.checks import CheckResult, run_checks
from adaptive_llm_local.triage import triage_file, triage_text
from adaptive_llm_local.triage.facts import extract_facts

LOGS = Path(__file__).resolve().parent / "fixtures" / "logs"
VENV_PYTHON = Path(sys.executable)
SITE = next(p for p in sys.path if p.endswith("site-packages"))


def checks_of(log: str, **kwargs: object) -> dict[str, CheckResult]:
    result = triage_text(textwrap.dedent(log).lstrip("\n"))
    found = run_checks(result, extract_facts(result), **kwargs)  # type: ignore[arg-type]
    return {c.name: c for c in found}


def traceback(frame_file: str, exception: str, library: str | None = None) -> str:
    lib = f'  File "{library}", line 9, in inner\n    pass\n' if library else ""
    return (
        "Traceback (most recent call last):\n"
        f'  File "{frame_file}", line 3, in <module>\n    work()\n{lib}{exception}\n'
    )


# -- paths and file systems ----------------------------------------------------------------


def test_a_missing_absolute_path_and_its_existing_folder(tmp_path: Path) -> None:
    target = tmp_path / "run3" / "input.h5"
    found = checks_of(
        traceback(
            "/home/x/load.py", f"FileNotFoundError: [Errno 2] No such file or directory: '{target}'"
        )
    )
    assert found["path_exists"].status == "problem"
    assert f"{target} does not exist on this machine now" in found["path_exists"].text
    assert f"the nearest existing one is {tmp_path}" in found["path_exists"].text
    assert found["path_owner"].detail["path"] == str(tmp_path)
    assert found["filesystem_writable"].status == "ok"
    target.parent.mkdir()
    assert (
        f"its folder {target.parent} exists"
        in checks_of(
            traceback(
                "/home/x/load.py",
                f"FileNotFoundError: [Errno 2] No such file or directory: '{target}'",
            )
        )["path_exists"].text
    )
    target.write_text("x")
    now = checks_of(
        traceback(
            "/home/x/load.py", f"FileNotFoundError: [Errno 2] No such file or directory: '{target}'"
        )
    )
    assert (
        now["path_exists"].status == "ok"
        and "exists on this machine now (a file)" in now["path_exists"].text
    )


def test_a_relative_path_is_looked_up_next_to_the_script(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    script = tmp_path / "load.py"
    found = checks_of(
        traceback(
            str(script), "FileNotFoundError: [Errno 2] No such file or directory: 'data/in.h5'"
        )
    )
    text = found["path_exists"].text
    assert f"data/in.h5 is relative; next to the script, in {tmp_path}" in text
    assert f"its folder {tmp_path / 'data'} exists" in text
    no_base = checks_of(
        traceback("load.py", "FileNotFoundError: [Errno 2] No such file or directory: 'data/in.h5'")
    )
    assert no_base["path_exists"].status == "skipped"
    assert "does not show the job's working directory" in no_base["path_exists"].text


def test_owner_and_mode_of_a_file_another_user_owns(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    target = tmp_path / "summary.csv"
    target.write_text("a,b\n")
    os.chown(target, 65534, 65534)
    target.chmod(0o640)
    found = checks_of(
        traceback("/x/save.py", f"PermissionError: [Errno 13] Permission denied: '{target}'")
    )
    owner = found["path_owner"]
    assert owner.detail["owner"].startswith("nobody:") and owner.detail["mode"] == "-rw-r-----"
    assert f"{target} is owned by nobody:" in owner.text


def _in_private_mount(tmp_path: Path, mount: str, code: str) -> dict[str, str]:
    """Run ``code`` (prints JSON) in a child with a private mount namespace where
    ``mount`` (a shell command using $D) has been done; skip where that is not allowed."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private mount")
    folder = tmp_path / "m"
    folder.mkdir()
    script = f'D="{folder}"; {mount} || exit 77; exec "{sys.executable}" -c "$CODE"'
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "CODE": code.replace("{D}", str(folder))},
        timeout=120,
        check=False,
    )
    if proc.returncode == 77 or "Operation not permitted" in proc.stderr:
        pytest.skip(f"mount not allowed here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result: dict[str, str] = json.loads(proc.stdout)
    return result


_CHECK_IN_CHILD = """
import json
from adaptive_llm_local.diagnose.checks import run_checks
from adaptive_llm_local.triage import triage_text
from adaptive_llm_local.triage.facts import extract_facts
log = ('Traceback (most recent call last):\\n  File "/x/w.py", line 2, in <module>\\n'
       '    open(p, "w")\\nOSError: [Errno ERRNO] WHAT: \\'{D}/out.png\\'\\n')
r = triage_text(log)
print(json.dumps({c.name: c.status + "|" + c.text for c in run_checks(r, extract_facts(r))}))
"""


def test_a_read_only_file_system_is_seen_by_statvfs(tmp_path: Path) -> None:
    code = _CHECK_IN_CHILD.replace("ERRNO", "30").replace("WHAT", "Read-only file system")
    found = _in_private_mount(tmp_path, 'mount -t tmpfs -o ro,size=1m tmpfs "$D"', code)
    status, text = found["filesystem_writable"].split("|", 1)
    assert status == "problem"
    assert "the tmpfs file system mounted at" in text and "mounted read-only now" in text


def test_a_full_file_system(tmp_path: Path) -> None:
    code = _CHECK_IN_CHILD.replace("ERRNO", "28").replace("WHAT", "No space left on device")
    fill = 'mount -t tmpfs -o size=64k tmpfs "$D" && (head -c 200000 /dev/zero > "$D/fill" || true)'
    found = _in_private_mount(tmp_path, fill, code)
    status, text = found["filesystem_space"].split("|", 1)
    assert status == "problem" and "has 0.0 GiB of 0.0 GiB free (0%)" in text
    assert found["filesystem_writable"].startswith("ok|")


# -- the job's Python ------------------------------------------------------------------------


def test_the_venvs_python_finds_an_installed_module_and_its_version() -> None:
    log = traceback(
        "/nowhere/fit.py", "ModuleNotFoundError: No module named 'numpy'", f"{SITE}/foo/bar.py"
    )
    found = checks_of(log)["module_findable"]
    assert found.status == "ok", found
    assert "finds `numpy` on this machine now" in found.text and "version" in found.text
    assert found.detail["interpreter"].startswith(sys.prefix)
    assert found.detail["version"]


def test_the_venvs_python_does_not_find_a_typo_and_names_the_closest_module() -> None:
    log = traceback(
        "/nowhere/fit.py", "ModuleNotFoundError: No module named 'numpyx'", f"{SITE}/foo/bar.py"
    )
    found = checks_of(log)
    assert found["module_findable"].status == "problem"
    assert "cannot find `numpyx` on this machine either" in found["module_findable"].text
    assert "`numpy`" in found["module_close_match"].text


def test_the_system_python_is_asked_when_the_log_shows_it() -> None:
    system = Path("/usr/bin/python3")
    if not system.exists():
        pytest.skip("no /usr/bin/python3 here")
    version = subprocess.run(
        [str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = traceback(
        "/nowhere/a.py",
        "ModuleNotFoundError: No module named 'chromadb'",
        f"/usr/lib/python{version}/json/decoder.py",
    )
    found = checks_of(log)["module_findable"]
    assert found.detail["interpreter"] == f"/usr/bin/python{version}"
    assert found.status == "problem", found  # the venv has chromadb, the system Python has not
    explicit = checks_of(
        traceback("/nowhere/a.py", "ModuleNotFoundError: No module named 'json'"),
        interpreter=str(system),
    )["module_findable"]
    assert explicit.status == "ok" and explicit.detail["interpreter"] == str(system)


def test_python2_is_asked_with_code_it_understands() -> None:
    python2 = Path.home() / ".pyenv" / "versions" / "2.7.18" / "bin" / "python2.7"
    if not python2.exists():
        pytest.skip("no Python 2.7 here")
    prefix = python2.parent.parent
    log = traceback(
        "/nowhere/train.py",
        "ImportError: No module named pathlib",
        f"{prefix}/lib/python2.7/json/__init__.py",
    )
    found = checks_of(log)["module_findable"]
    assert found.status == "problem", found
    assert "(Python 2.7.18) cannot find `pathlib`" in found.text


def test_the_job_script_folder_is_searched_like_the_job_did(tmp_path: Path) -> None:
    (tmp_path / "helpers_here.py").write_text("x = 1\n")
    log = traceback(
        str(tmp_path / "run.py"),
        "ModuleNotFoundError: No module named 'helpers_here'",
        f"{SITE}/foo/bar.py",
    )
    found = checks_of(log)["module_findable"]
    assert found.status == "ok" and "looking next to run.py as the job did" in found.text


def test_an_interpreter_others_may_write_is_not_run(tmp_path: Path) -> None:
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(VENV_PYTHON)
    env.chmod(0o777)
    found = checks_of(
        traceback("/nowhere/a.py", "ModuleNotFoundError: No module named 'x'"),
        interpreter=str(env / "bin" / "python"),
    )["module_findable"]
    assert found.status == "skipped" and "may be written by other users" in found.text


def test_an_interpreter_that_hangs_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    start = time.monotonic()
    found = checks_of(
        traceback("/nowhere/a.py", "ModuleNotFoundError: No module named 'x'"),
        interpreter=str(fake),
        timeout=0.5,
    )["module_findable"]
    assert found.status == "skipped" and "did not answer within 0.5 s" in found.text
    assert time.monotonic() - start < 30  # returned long before the child would have


def test_no_interpreter_in_the_log_is_a_skip_with_a_note() -> None:
    found = checks_of(traceback("/nowhere/a.py", "ModuleNotFoundError: No module named 'x'"))
    assert found["module_findable"].status == "skipped"
    assert "the log does not show which Python the job ran" in found["module_findable"].text


def test_cannot_import_name_reads_the_module_file_without_running_it(tmp_path: Path) -> None:
    module = tmp_path / "mymod.py"
    module.write_text("import sys\nsys.exit('must not run')\n\ndef loads():\n    pass\n")
    log = traceback(
        "/nowhere/r.py", f"ImportError: cannot import name 'loadz' from 'mymod' ({module})"
    )
    found = checks_of(log)["import_name_defined"]
    assert found.status == "problem" and "the closest names it defines are `loads`" in found.text
    log = traceback(
        "/nowhere/r.py", f"ImportError: cannot import name 'loads' from 'mymod' ({module})"
    )
    assert checks_of(log)["import_name_defined"].status == "ok"


def test_a_program_bash_did_not_find() -> None:
    missing = checks_of("./run.sh: line 3: python3.99: command not found\n")["command_on_path"]
    assert missing.status == "problem" and "not on this machine's PATH either" in missing.text
    here = checks_of("./run.sh: line 3: ls: command not found\n")["command_on_path"]
    assert here.status == "ok" and here.detail["path"] == shutil.which("ls")


def test_odd_values_from_a_log_never_break_the_checks() -> None:
    from adaptive_llm_local.triage.facts import Fact, Facts

    result = triage_text("ModuleNotFoundError: No module named 'x'\n")
    for value in ("/tmp/a\x00b", "rel\x00ative", "/" + "a" * 5000, "~/$(reboot)/x"):
        facts = Facts(
            (
                Fact("path", value, 1),
                Fact("errno", "2", 1),
                Fact("top_module", "x", 1),
                Fact("interpreter", value, 1),
                Fact("missing_command", value, 1),
                Fact("job_id", value, 1),
            )
        )
        for check in run_checks(result, facts, timeout=2.0):
            assert check.status in ("ok", "problem", "skipped") and check.text


# -- time bounds and writes ---------------------------------------------------------------


def test_bounded_gives_up_on_work_that_hangs() -> None:
    release = threading.Event()
    with pytest.raises(CheckTimeout, match=r"within 0\.2 s"):
        bounded(lambda: release.wait(60), 0.2)
    release.set()
    assert bounded(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        bounded(lambda: 1 / 0, 1.0)


_WRITES = {
    "os.mkdir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.symlink",
    "os.link",
    "os.utime",
    "shutil.rmtree",
    "shutil.move",
}
_RECORDED: list[str] = []
_RECORDING = threading.Event()


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _RECORDING.is_set():
        return
    if event in _WRITES:
        _RECORDED.append(f"{event} {args[:1]}")
    elif event == "open" and len(args) > 1:
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        flagged = isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if (writes or flagged) and args[0] != os.devnull:  # subprocess's stdin
            _RECORDED.append(f"open {args[0]} {mode} {flags}")


@pytest.fixture
def audited() -> Iterator[list[str]]:
    if not getattr(audited, "hooked", False):
        sys.addaudithook(_audit)
        audited.hooked = True  # type: ignore[attr-defined]
    _RECORDED.clear()
    _RECORDING.set()
    try:
        yield _RECORDED
    finally:
        _RECORDING.clear()


def test_checks_never_write(tmp_path: Path, audited: list[str]) -> None:
    for log in sorted(LOGS.rglob("*.log")):
        result = triage_file(log)
        run_checks(result, extract_facts(result), timeout=5.0)
    checks_of(
        traceback(
            "/nowhere/fit.py", "ModuleNotFoundError: No module named 'numpyx'", f"{SITE}/a/b.py"
        )
    )
    checks_of(
        traceback("/x/s.py", f"PermissionError: [Errno 13] Permission denied: '{tmp_path}/a'")
    )
    assert audited == []


# -- SLURM ---------------------------------------------------------------------------------


def _fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **scripts: str) -> None:
    """Scripted ``scontrol``/``sacct`` (only on PATH; the parsing is what is tested)."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    for name, body in scripts.items():
        tool = folder / name
        tool.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


TIMEOUT_LOG = (
    "slurmstepd: error: *** JOB 52 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***\n"
)


def test_without_slurm_commands_the_check_is_a_skip_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path / "fakebin"))
    found = checks_of(TIMEOUT_LOG)["slurm_job"]
    assert (
        found.status == "skipped" and "(`scontrol`, `sacct`) are not on this machine" in found.text
    )


def test_scontrols_record_of_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tools(
        tmp_path,
        monkeypatch,
        scontrol="""
        echo "JobId=52 JobName=job.sh JobState=TIMEOUT Reason=TimeLimit RunTime=00:01:03 TimeLimit=00:01:00 NodeList=n1 ReqTRES=cpu=1,mem=64M,node=1 StdOut=/tmp/slurm-52.out ExitCode=0:15"
    """,
    )
    found = checks_of(TIMEOUT_LOG)["slurm_job"]
    assert found.status == "problem"
    assert found.text == (
        "SLURM's records for job 52 (scontrol): state TIMEOUT, time limit 00:01:00, "
        "ran 00:01:03, memory requested 64M, on n1."
    )
    # the same number, another output file: another job
    result = triage_text(TIMEOUT_LOG)
    result.source = str(tmp_path / "other.log")
    other = {c.name: c for c in run_checks(result, extract_facts(result))}["slurm_job"]
    assert other.status == "skipped" and "another job with the same number" in other.text


def test_sacct_when_scontrol_forgot_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tools(
        tmp_path,
        monkeypatch,
        scontrol="echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n",
        sacct="""
            echo "52|TIMEOUT|00:01:00|00:01:02|64M||0:0|n1"
            echo "52.batch|CANCELLED|||64M|40M|0:15|n1"
        """,
    )
    found = checks_of(TIMEOUT_LOG)["slurm_job"]
    assert (
        "(sacct): state TIMEOUT, time limit 00:01:00, ran 00:01:02, memory requested 64M, peak memory 40M"
        in found.text
    )


def test_sacct_without_accounting_is_a_skip_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tools(
        tmp_path,
        monkeypatch,
        scontrol="echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n",
        sacct="echo 'Slurm accounting storage is disabled' >&2; exit 1\n",
    )
    found = checks_of(TIMEOUT_LOG)["slurm_job"]
    assert found.status == "skipped" and "Slurm accounting storage is disabled" in found.text


def _require_slurm() -> None:
    required = os.environ.get("ADAPTIVE_LLM_REQUIRE_SLURM") == "1"
    ping = (
        subprocess.run(["sinfo", "-h"], capture_output=True, text=True, check=False)
        if shutil.which("sinfo")
        else None
    )
    if ping is None or ping.returncode != 0 or not ping.stdout.strip():
        if required:
            pytest.fail("ADAPTIVE_LLM_REQUIRE_SLURM=1 but SLURM does not answer")
        pytest.skip("SLURM is not running here (tests/slurm/start-slurm.sh)")


@pytest.mark.slurm
def test_a_real_slurm_job_as_scontrol_recorded_it(tmp_path: Path) -> None:
    _require_slurm()
    tmp_path.chmod(0o755)
    out = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--oversubscribe",
            "--time=00:02:00",
            "--mem=64M",
            "-o",
            str(tmp_path / "slurm-%j.out"),
            "--wrap",
            "echo done",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    job = out.strip().split(";")[0]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        queued = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout
        if not queued.strip():
            break
        time.sleep(0.5)
    log = tmp_path / f"slurm-{job}.out"
    result = triage_text(
        f"slurmstepd: error: *** JOB {job} ON localhost CANCELLED AT 2026-01-01T00:00:00 ***\n"
    )
    result.source = str(log)
    found = {c.name: c for c in run_checks(result, extract_facts(result))}["slurm_job"]
    assert found.status in ("ok", "problem"), found
    assert f"job {job}" in found.text and "time limit 00:02:00" in found.text, found.text
    assert "memory requested 64M" in found.text, found.text


def _submit(folder: Path, *args: str) -> tuple[str, Path]:
    folder.mkdir(mode=0o755)
    out = subprocess.run(
        ["sbatch", "--parsable", "--oversubscribe", "-o", str(folder / "slurm-%j.out"), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    job = out.strip().split(";")[0]
    return job, folder / f"slurm-{job}.out"


def _gone(job: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not subprocess.run(
            ["squeue", "-h", "-j", job], capture_output=True, text=True
        ).stdout.strip():
            return
        time.sleep(1)
    subprocess.run(["scancel", job], check=False)
    pytest.fail(f"job {job} still queued after {timeout} s")


@pytest.mark.slurm
@pytest.mark.slow
def test_requested_and_used_time_and_memory_reach_the_fix(tmp_path: Path) -> None:
    """A real time limit and a real cgroup OOM kill: the fix names the limit SLURM recorded."""
    from adaptive_llm_local.diagnose.explain import explain

    _require_slurm()
    tmp_path.chmod(0o755)
    slow, slow_log = _submit(
        tmp_path / "t",
        "--time=00:01:00",
        "--mem=64M",
        "--wrap",
        "for i in $(seq 300); do echo step $i; sleep 1; done",
    )
    cgroup = Path("/etc/slurm/adaptive-llm-mode")
    greedy = None
    if cgroup.exists() and cgroup.read_text().strip() == "cgroup":
        greedy, greedy_log = _submit(
            tmp_path / "m",
            "--time=00:02:00",
            "--mem=64M",
            "--wrap",
            f"{sys.executable} -c 'b = [bytearray(20 * 2**20) for _ in range(20)]'",
        )
        _gone(greedy, 120)
    _gone(slow, 200)
    result = triage_file(slow_log)
    facts = extract_facts(result)
    checks = run_checks(result, facts)
    record = {c.name: c for c in checks}["slurm_job"]
    assert "time limit 00:01:00" in record.text and record.status == "problem", record
    fix = explain(result, facts, checks).fix_text
    assert f"Raise the time limit of job {slow} above 00:01:00" in fix
    if greedy is not None:
        result = triage_file(greedy_log)
        facts = extract_facts(result)
        checks = run_checks(result, facts)
        assert "memory requested 64M" in {c.name: c for c in checks}["slurm_job"].text
        fix = explain(result, facts, checks).fix_text
        assert f"Raise the memory request of job {greedy} above its 64M" in fix
