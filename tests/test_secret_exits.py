"""No secret of a log or a file leaves the product, whichever way the text goes.

One mixed log holds every secret format of the redaction corpus (single-line and spread
over lines). It is triaged and diagnosed on the command line, seeded into a chat thread
through the manager, read again with ``/log`` and ``/read`` (a PEM body read through a
window that misses its ``BEGIN`` line too), listed, searched and asked about; then every
place the text can arrive is checked: the terminal and ``--json`` output, the chat's
events and history, the notebook's HTML, the prompts the model was sent, and every byte
of every file under ``ADAPTIVE_LLM_HOME`` (diagnosis database, thread checkpoints, audit
log, the Chroma index).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_redact_corpus import MULTILINE_SECRETS, PEM_BODY, SECRETS

from adaptive_llm_local.agent import Agent, ToolEvent
from adaptive_llm_local.assistant import Assistant
from adaptive_llm_local.config import Settings
from adaptive_llm_local.manager import DiagnosisStore, LLMManager
from adaptive_llm_local.testing import ReplayRun, ScriptedModel, good_answer
from adaptive_llm_local.triage.redact import REDACTED
from adaptive_llm_local.widget.messages import diagnosis_html, history_html

pytestmark = pytest.mark.hostile("redaction exits")

FAILURE = (
    "Traceback (most recent call last):\n"
    '  File "/opt/train.py", line 3, in <module>\n'
    "    import h5py\n"
    "ModuleNotFoundError: No module named 'h5py'\n"
)
PEM_LINES = [PEM_BODY[i % 13 :][:64] + PEM_BODY[:64][: i % 13] for i in range(8)]
KEY_FILE = "\n".join(
    ["-----BEGIN RSA PRIVATE KEY-----", *PEM_LINES, "-----END RSA PRIVATE KEY-----", ""]
)


def secret_log() -> str:
    """Every secret of the corpus, then the failure (the triage's key line stays last)."""
    lines = [line for _, line, _ in SECRETS] + [text for _, text, _ in MULTILINE_SECRETS]
    return "starting job\n" + "\n".join(lines) + "\n" + FAILURE


def secrets() -> list[tuple[str, str]]:
    found = [(what, secret) for what, _, secret in (*SECRETS, *MULTILINE_SECRETS)]
    return found + [(f"pem body line {i}", line) for i, line in enumerate(PEM_LINES)]


def leaks(where: str, text: str) -> list[str]:
    """The secrets found in ``text`` (HTML and JSON escapes undone first)."""
    texts = [text, html.unescape(text)]
    return [f"{where}: {what}" for what, secret in secrets() if any(secret in t for t in texts)]


def home_leaks(home: Path) -> list[str]:
    """Secrets in any byte of any file under the home (databases, WAL files, Chroma)."""
    found = []
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files, f"nothing was written under {home}"
    for path in files:
        data = path.read_bytes()
        for what, secret in secrets():
            if secret.encode() in data:
                found.append(f"{path.relative_to(home)}: {what}")
    return found


def run_folder(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "run"
    root.mkdir()
    log = root / "job-7.out"
    log.write_text(secret_log())
    (root / "secrets.env").write_text(secret_log())
    (root / "notes.md").write_text("# Notes\n\n" + secret_log())  # indexed as a document
    (root / "id_rsa").write_text(KEY_FILE)
    return root, log


def test_the_corpus_is_complete() -> None:
    """The corpus holds the formats of issue 16 item 7 (and the ones before it)."""
    names = {what for what, _ in secrets()}
    for needed in (
        "discord webhook",
        "teams webhook",
        "netrc over lines",
        "putty private lines",
        "kubeconfig client-key-data",
        "pem body without its BEGIN line",
        "sshpass -pX",
        "SSHPASS=",
        "url password with /",
        "plink -pw",
        "smbclient -U user%pw",
        "ldapsearch -w",
        "redis-cli -a",
        "cookie",
        "wandb login",
        "github classic",
        "aws secret",
        "email",
    ):
        assert needed in names, needed
    assert len(names) >= 120


def test_manager_chat_history_widget_prompts_and_databases(tmp_path: Path) -> None:
    """Seed, /log, /read (whole, and a window inside a key), /ls, a question: nothing leaks."""
    root, _ = run_folder(tmp_path)
    echoed = SECRETS[0][1]  # a model can repeat anything: "REDIS_URL=redis://:pw@…"
    model = ScriptedModel(
        [
            good_answer("h5py is not installed.", "Install h5py."),
            f"The log sets {echoed} and ghp_0123456789abcdefghijABCDEFGHIJklmnop [2].",
        ]
    )
    settings = Settings(home=tmp_path / "home")
    run = ReplayRun(root, job_name="secrets")
    llm = LLMManager(
        run,
        assistant=Assistant(settings, model, None),
        store=DiagnosisStore(settings.database_path),
        interval=0.05,
        freeze_gc=False,
    )
    found: list[str] = []
    redacted: list[int] = []

    async def main() -> None:
        run.fail(secret_log(), job_id="7")
        diagnosis = await llm.diagnose("7")
        found.extend(leaks("diagnosis", json.dumps(diagnosis.to_json())))
        found.extend(leaks("diagnosis html", diagnosis_html(diagnosis, job_id="7")))
        texts: list[str] = []
        for message in (
            "/log",
            "/read secrets.env",
            "/read id_rsa:3-6",
            "/ls",
            f"why did it fail? my config had {SECRETS[10][1]}",
        ):
            async for event in llm.stream(message, thread_id="7"):
                if isinstance(event, ToolEvent):
                    texts += [event.step.content, event.step.label]
                else:
                    texts.append(repr(event))
        found.extend(leaks("events", "\n".join(texts)))
        items = await llm.history("7")
        redacted.append(sum(REDACTED in item.text for item in items))
        found.extend(leaks("history", repr(items)))
        found.extend(leaks("notebook html", "\n".join(history_html(items))))
        llm.conversations.close()

    asyncio.run(main())
    prompts = [m["content"] for call in model.calls for m in call]
    assert any("ModuleNotFoundError" in p for p in prompts)
    found.extend(leaks("prompt", "\n".join(prompts)))
    found.extend(home_leaks(settings.home))
    assert not found, "\n".join(found)
    assert redacted[0] >= 4  # the seed's log excerpt, /log, /read, /read of the key window


def test_agent_search_results_and_redacted_edits(tmp_path: Path) -> None:
    """An index hit holding a secret arrives redacted; an edit that holds ``[REDACTED]``
    (copied from a redacted read) is refused with a message the model sees, and the
    user's file keeps its secret."""
    root, _ = run_folder(tmp_path)
    (root / "config.py").write_text("HOST = 'db'\npassword = 'Pl4intext!'\nPORT = 1\n")
    edit = json.dumps(
        {
            "name": "write_file",
            "arguments": {
                "file_path": "config.py",
                "old_text": "password = '[REDACTED]'\nPORT = 1",
                "new_text": "password = '[REDACTED]'\nPORT = 2",
            },
        }
    )
    model = ScriptedModel([f"<tool_call>\n{edit}\n</tool_call>", "I could not edit it."])
    hits = [{"kind": "failure", "source": "old.log", "lines": "1-3", "text": secret_log()}]
    home = tmp_path / "home"

    async def main() -> list[str]:
        texts: list[str] = []
        with Agent(
            model,
            root=root,
            state_dir=home / "agent",
            search=lambda query, k: hits,
            tool_format="hermes",
            yolo=True,
        ) as agent:
            for message in ("/search h5py", "/read config.py", "set PORT to 2 in config.py"):
                result = await agent.chat(message, "t")
                texts += [step.content for step in result.steps] + [result.text]
            history = agent.history("t")
            texts.append(repr(history))
            texts.append(repr(agent.audit("t")))
        return texts

    texts = asyncio.run(main())
    assert (root / "config.py").read_text() == "HOST = 'db'\npassword = 'Pl4intext!'\nPORT = 1\n"
    joined = "\n".join(texts)
    assert "holds [REDACTED], which stands for text hidden from the assistant" in joined
    prompts = "\n".join(m["content"] for call in model.calls for m in call)
    assert "holds [REDACTED]" in prompts  # the model is told why
    found = leaks("agent", joined) + leaks("prompt", prompts) + home_leaks(home)
    assert not found, "\n".join(found)


def test_an_edit_away_from_a_redacted_line_still_works(tmp_path: Path) -> None:
    """Reads are redacted, yet edits apply to the real file and keep its secrets."""
    root = tmp_path / "run"
    root.mkdir()
    (root / "config.py").write_text("HOST = 'db'\npassword = 'Pl4intext!'\nPORT = 1\n")
    edit = json.dumps(
        {
            "name": "write_file",
            "arguments": {"file_path": "config.py", "old_text": "PORT = 1", "new_text": "PORT = 2"},
        }
    )
    model = ScriptedModel([f"<tool_call>\n{edit}\n</tool_call>", "Done."])

    async def main() -> None:
        with Agent(
            model, root=root, state_dir=tmp_path / "state", tool_format="hermes", yolo=True
        ) as agent:
            result = await agent.chat("set PORT to 2", "t")
            assert any("Edited config.py" in s.content for s in result.steps)
            assert not leaks("history", repr(agent.history("t")) + repr(agent.audit("t")))

    asyncio.run(main())
    assert (root / "config.py").read_text() == "HOST = 'db'\npassword = 'Pl4intext!'\nPORT = 2\n"


def _cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "adaptive_llm_local.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env, "COLUMNS": "200"},
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_triage_on_the_command_line(tmp_path: Path) -> None:
    root, log = run_folder(tmp_path)
    env = {"ADAPTIVE_LLM_HOME": str(tmp_path / "home")}
    as_json = _cli(["triage", str(log), "--json"], env, tmp_path)
    assert json.loads(as_json)["category"] == "missing_module"
    found = leaks("triage --json", as_json) + leaks("triage", _cli(["triage", str(log)], env, root))
    assert not found, "\n".join(found)


def test_cli_diagnose_index_and_chat_with_the_real_model(home: Path, tmp_path: Path) -> None:
    """The real model: ``diagnose`` (terminal and --json), ``index add`` of the log, and a
    scripted terminal chat (/log, /read, /read a key window, /search, a question)."""
    root, log = run_folder(tmp_path)
    env = {"ADAPTIVE_LLM_HOME": str(home)}
    outputs = {
        "diagnose --json": _cli(["diagnose", str(log), "--json"], env, root),
        "diagnose": _cli(["diagnose", str(log)], env, root),
        "index add": _cli(
            ["index", "add", "--no-builtin", str(log), str(root / "notes.md")], env, root
        ),
        "chat": _cli(
            ["chat", "--log", str(log), "--root", str(root)],
            env,
            root,
            "/log\n/read secrets.env\n/read id_rsa:3-6\n/search h5py\nwhy did my job fail?\n",
        ),
    }
    found = [leak for name, out in outputs.items() for leak in leaks(name, out)]
    found += home_leaks(home)
    assert not found, "\n".join(found)
    assert "[REDACTED]" in outputs["chat"]
    (chroma,) = [p for p in home.rglob("chroma.sqlite3")]
    assert REDACTED.encode() in chroma.read_bytes()  # the log's entries are stored, redacted
