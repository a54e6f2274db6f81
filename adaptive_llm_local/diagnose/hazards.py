"""Text no user may be shown as advice: destructive commands, a live draft that starts one,
and text addressed to the assistant (prompt injection). Pure patterns, no I/O."""

from __future__ import annotations

import re

# --- destructive commands -------------------------------------------------------------------

_HOME_OR_ROOT = r"(?:~/?|/|\$HOME/?|\$\{HOME\}/?|\*|\.\.?/?|/home\S*|/data\S*|/scratch\S*|/work\S*|/project\S*|/usr\S*|/etc\S*)"
_DESTRUCTIVE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I), why)
    for pattern, why in (
        (
            rf"\brm\s+(?:-{{1,2}}[\w-]+\s+)*(?:-\w*[rRf]\w*|--recursive|--force)\s+(?:-{{1,2}}[\w-]+\s+)*{_HOME_OR_ROOT}(?=$|[\s`'\";|&)])",
            "deletes a home, data or system folder",
        ),
        (r"\brm\s+[^`]*--no-preserve-root", "deletes the whole file system"),
        (r"\bsudo\s+rm\b", "deletes files as root"),
        (r"\bfind\s+[~/$][^`]*-delete\b", "deletes files in bulk"),
        (r"\bshred\b", "destroys files"),
        (r"\bchmod\s+(?:-\w+\s+)*0?777\b", "makes files writable by everyone (chmod 777)"),
        (r"\bchmod\s+(?:-\w+\s+)*(?:a|o|ugo)\+w\b", "makes files writable by everyone"),
        (
            rf"\bch(?:mod|own)\s+-R\s+\S+\s+{_HOME_OR_ROOT}(?=$|[\s`'\";|&)])",
            "changes ownership or permissions of a whole tree",
        ),
        (
            r"\b(?:curl|wget|fetch)\b[^|`]*\|\s*(?:sudo\s+)?(?:ba|z|k|da|c)?sh\b",
            "pipes a download into a shell",
        ),
        (r"\b(?:curl|wget)\b[^|`]*\|\s*(?:sudo\s+)?python\d?\b", "pipes a download into Python"),
        (r"(?:ba)?sh\s+<\(\s*(?:curl|wget)\b", "runs a downloaded script"),
        (r"\$\(\s*(?:curl|wget)\b", "runs a downloaded script"),
        (r"\bmkfs(?:\.\w+)?\b", "formats a disk"),
        (r"\bdd\b[^`]*\bof=/dev/", "overwrites a device"),
        (r">\s*/dev/(?:sd|nvme|hd|vd)\w*", "overwrites a device"),
        (r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:", "is a fork bomb"),
        (r"\bgit\s+push\s+(?:\S+\s+)*(?:-f\b|--force\b)", "force-pushes over shared history"),
        (r"\bgit\s+(?:reset\s+--hard|clean\s+-\w*[fdx])", "throws away uncommitted work"),
        (
            r"(?<![>\d])>\s*~/\.(?:bashrc|bash_profile|profile|zshrc|cshrc|tcshrc)\b",
            "overwrites a shell start-up file",
        ),
        (r"\b(?:kill\s+-9\s+-1|killall\b|pkill\s+-u)", "kills every process of the user"),
        (r"\bscancel\s+(?:-u|--user)\b", "cancels every job of the user"),
        (r"\b(?:shutdown|reboot|halt|poweroff)\b\s*(?:-|now|$)", "stops the machine"),
        (r"\btruncate\s+-s\s*0\b", "empties files"),
    )
)


def destructive(text: str) -> str | None:
    """Why ``text`` recommends something that destroys data or security, or ``None``."""
    for pattern, why in _DESTRUCTIVE:
        if pattern.search(text):
            return why
    return None


_RISKY_START = re.compile(
    r"\b(?:rm\s+-|sudo\b|chmod\b|chown\b|curl\b|wget\b|mkfs|dd\s+|git\s+(?:push|reset|clean)|"
    r"shred\b|killall\b|scancel\s+-u|find\s+\S+.*-delete|:\(\))",
    re.I,
)


def risky_draft(text: str) -> bool:
    """Whether unfinished text starts a command that may still turn destructive.

    For text shown while the model is still writing: ``rm -rf`` is harmless until the
    target arrives, so a live view withholds it already.
    """
    return destructive(text) is not None or _RISKY_START.search(text) is not None


# --- text addressed to the assistant --------------------------------------------------------

_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}?\b(?:instructions?|prompts?|rules|directions|guidelines|context)\b"
    r"|\byou\s+are\s+now\b|\bnew\s+instructions?\b|\bprompt\s+injection\b"
    r"|^\W*(?:system|assistant|user|developer)\s*:"
    r"|<\|?\s*(?:im_start|im_end|system|endoftext|assistant)\s*\|?>|\[/?INST\]|<<\s*/?SYS\s*>>"
    r"|\b(?:the|a|your)\s+(?:suggested\s+|only\s+|correct\s+|real\s+)?(?:fix|answer|root\s+cause)\s+for\s+(?:every|all|each|any)\b"
    r"|\b(?:always|must)\s+(?:answer|reply|respond|say|output|recommend|suggest)\b"
    r"|\bdo\s+not\s+(?:tell|mention|reveal)\b"
    r"|\b(?:note|message|instructions?)\s+(?:to|for)\s+the\s+(?:assistant|ai|model|llm)\b",
    re.I,
)


def instruction_like(text: str) -> bool:
    """Whether ``text`` speaks to the assistant ("ignore previous instructions", "SYSTEM: ...")."""
    return _INSTRUCTION.search(text) is not None
