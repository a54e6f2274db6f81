"""Redaction of secrets and masking of run-specific details."""

from __future__ import annotations

import json

import pytest

from adaptive_llm_local.triage import mask, redact, triage_text

pytestmark = pytest.mark.hostile("redaction formats")

SECRETS = {
    "github": "ghp_0123456789abcdefghijABCDEFGHIJklmn",
    "github_fine": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "hf": "hf_abcdefghijklmnopqrstuvwxyzABCD",
    "openai": "sk-proj-abcdefghijklmnop1234567890",
    "slack": "xoxb-1234567890-abcdefghijk",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "password": "s3cr3t-Pa55",
    "bearer": "abc123.def456-ghi789",
    "url_password": "hunter2",
    "email": "alice.smith@uni-example.edu",
}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"export GITHUB_TOKEN={SECRETS['github']}", SECRETS["github"]),
        (f"using {SECRETS['github_fine']} for the clone", SECRETS["github_fine"]),
        (f"HF_TOKEN={SECRETS['hf']}", SECRETS["hf"]),
        (f"client = OpenAI(api_key='{SECRETS['openai']}')", SECRETS["openai"]),
        (f"posting to slack with {SECRETS['slack']}", SECRETS["slack"]),
        (f"aws_access_key_id = {SECRETS['aws']}", SECRETS["aws"]),
        (f"password={SECRETS['password']}", SECRETS["password"]),
        (f'{{"db_password": "{SECRETS["password"]}"}}', SECRETS["password"]),
        (f"login --password {SECRETS['password']} --user bob", SECRETS["password"]),
        (f"secret: {SECRETS['password']}", SECRETS["password"]),
        (f"Authorization: Bearer {SECRETS['bearer']}", SECRETS["bearer"]),
        (f"postgres://bob:{SECRETS['url_password']}@db.example.org/x", SECRETS["url_password"]),
        (f"mail sent to {SECRETS['email']}", SECRETS["email"]),
    ],
)
def test_redact_removes_secret(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED]" in out or "[EMAIL]" in out


def test_redact_keeps_ordinary_text() -> None:
    text = (
        "max_tokens=256 tokenizer: gpt2 KeyError: 'key' password: None\n"
        "loss = 0.1 at step 5 on node042 in /scratch/run_7"
    )
    assert redact(text) == text


def test_redact_private_key_block_keeps_line_count() -> None:
    text = (
        "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\n"
        "AAAAAQAAADMAAAALc3NoLWVkMjU1MTk\n-----END OPENSSH PRIVATE KEY-----\nafter"
    )
    out = redact(text)
    assert out.count("\n") == text.count("\n")
    assert "b3BlbnNz" not in out and "AAAAAQ" not in out
    assert out.startswith("before\n") and out.endswith("\nafter")


def test_redact_private_key_cut_at_end() -> None:
    out = redact("x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA")
    assert "MIIEow" not in out


def test_secrets_never_reach_triage_output() -> None:
    log = "\n".join(
        [
            f"export HF_TOKEN={SECRETS['hf']}",
            f"git clone https://bob:{SECRETS['url_password']}@git.example.org/lab/code.git",
            f"Authorization: Bearer {SECRETS['bearer']}",
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEAv3Yexample",
            "-----END RSA PRIVATE KEY-----",
            "Traceback (most recent call last):",
            '  File "/home/bob/login.py", line 3, in <module>',
            f'    connect(password="{SECRETS["password"]}", token="{SECRETS["github"]}")',
            f"PermissionError: [Errno 13] Permission denied for {SECRETS['email']} "
            f"token={SECRETS['github']} key {SECRETS['aws']}",
            f"slurmstepd: error: cleanup failed, mail {SECRETS['email']}",
        ]
    )
    result = triage_text(log)
    assert result.category == "file_error"
    dumped = json.dumps(
        {
            "json": result.to_json(),
            "context": [ev.text for ev in result.context],
            "evidence": [ev.text for ev in result.evidence],
        }
    )
    for secret in (*SECRETS.values(), "MIIEowIBAAKCAQEAv3Yexample"):
        assert secret not in dumped, secret
    assert "[REDACTED]" in dumped and "[EMAIL]" in dumped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("job 123456 on node042 failed", "job <N> on <HOST> failed"),
        ("StepId=15.batch", "StepId=<N>.batch"),
        ("slurm-4821.out", "slurm-<N>.out"),
        ("/scratch/u1/run_7/train.py line 12", "<PATH> line <N>"),
        ("at 0x7f3a2b1c8d90 in libfoo", "at <HEX> in libfoo"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id <UUID>"),
        ("2024-05-01T12:34:56 start", "<TIME> start"),
        ("Wed Nov 25 15:44:02 2026", "<TIME>"),
        ("connect 10.0.3.17:6817 refused", "connect <IP> refused"),
        ("cn042 nid001234 gpu-07 c12 compute-3-14", "<HOST> <HOST> <HOST> <HOST> <HOST>"),
        ("No module named 'h5py'", "No module named 'h5py'"),
        ("dtype float64 and int32", "dtype float64 and int32"),
        ("No such file: 'data/run_0042/in.h5'", "No such file: '<PATH>'"),
        ("loss 1.5e-03 after 1,000 steps", "loss <N> after <N>,<N> steps"),
    ],
)
def test_mask(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_mask_is_idempotent() -> None:
    text = "job 77 on node3 at /tmp/x/y.log 0xdeadbeef 2024-01-01"
    assert mask(mask(text)) == mask(text)
