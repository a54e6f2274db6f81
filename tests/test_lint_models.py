"""Lint (``make lint`` runs this file): models are used through what they declare.

Two rules over every module of the package, read with :mod:`ast`:

- no ``getattr``/``hasattr`` on a model object (a name or attribute such as ``model``,
  ``self.model``, ``chat_model``, ``embedder``, ``completion``) outside the registry:
  what a model can do is in its declared ``capabilities`` (``runtime/types.py``). ``llm``
  is not on the list: in this package it names the ``LLMManager``, not a model.
- no settings re-read from the environment (``Settings.from_env``, ``os.environ``,
  ``os.getenv``) in the runtime and retrieval layers, the composition root, ``models``
  and ``doctor``: the front ends build :class:`Settings` once and pass them down.
  ``runtime/preflight.py`` may read ``PYTHONPATH`` (the child's import path, not a setting).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "adaptive_llm_local"
MODEL_NAME = re.compile(r"model|embedder|completion", re.IGNORECASE)
PROBES = {"getattr", "hasattr"}
MAY_PROBE_MODELS = {"runtime/registry.py"}
"""Where backends are told apart, if ever they must be (today nothing there probes)."""
PASSED_SETTINGS = ("runtime/", "retrieval/", "assistant.py", "models.py", "doctor.py")
ENVIRONMENT_READS = {("runtime/preflight.py", "PYTHONPATH")}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        yield name, ast.parse(path.read_text(), filename=name)


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def model_probes(tree: ast.Module, name: str) -> list[str]:
    """``file:line getattr(model, ...)`` for every probe of a model object in ``tree``."""
    if name in MAY_PROBE_MODELS:
        return []
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in PROBES
            and node.args
        ):
            continue
        target = _last_name(node.args[0])
        if target is not None and MODEL_NAME.search(target):
            found.append(f"{name}:{node.lineno} {node.func.id}({ast.unparse(node.args[0])}, ...)")
    return found


def environment_reads(tree: ast.Module, name: str) -> list[str]:
    """``file:line`` of every settings read from the environment where settings are passed."""
    if not name.startswith(PASSED_SETTINGS):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "from_env":
            found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and _is_environment_read(node.func):
            key = node.args[0] if node.args else None
            variable = key.value if isinstance(key, ast.Constant) else None
            if (name, variable) not in ENVIRONMENT_READS:
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    return found


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _is_environment_read(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "getenv":
        return True
    return isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)


def test_no_module_probes_a_model_object() -> None:
    found = [hit for name, tree in _modules() for hit in model_probes(tree, name)]
    assert found == [], "use the model's declared capabilities instead:\n" + "\n".join(found)


def test_settings_are_passed_down_not_read_again() -> None:
    found = [hit for name, tree in _modules() for hit in environment_reads(tree, name)]
    assert found == [], "pass Settings from the front end instead:\n" + "\n".join(found)


BAD_PROBES = """
def load(self, deps, completion):
    if hasattr(self.model, "load"):
        self.model.load()
    if getattr(deps.model, "keeps_conversations", False):
        pass
    return str(getattr(completion, "text", completion)), getattr(self.embedder, "describe")
"""
FINE_PROBES = """
def f(run_manager, llm, stream, model):
    getattr(run_manager, "task", None), hasattr(stream, "aclose"), getattr(llm, "hook", None)
    return model.capabilities.tool_format
"""


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        (BAD_PROBES, "assistant.py", [3, 5, 7, 7]),
        (BAD_PROBES, "runtime/registry.py", []),
        (FINE_PROBES, "assistant.py", []),
    ],
)
def test_the_probe_check_catches_a_bad_snippet(source: str, name: str, expected: list[int]) -> None:
    hits = model_probes(ast.parse(source), name)
    assert [int(hit.split(":")[1].split()[0]) for hit in hits] == expected


BAD_READS = """
import os
from .config import Settings

def build():
    Settings.from_env()
    os.environ.get("ADAPTIVE_LLM_CPU_VARIANT"), os.getenv("ADAPTIVE_LLM_HOME")
    return os.environ["ADAPTIVE_LLM_MODEL"], os.environ.get("PYTHONPATH")
"""


def test_the_settings_check_catches_a_bad_snippet() -> None:
    hits = environment_reads(ast.parse(BAD_READS), "runtime/backends.py")
    assert [int(hit.split(":")[1].split()[0]) for hit in hits] == [6, 7, 7, 8, 8]
    allowed = environment_reads(ast.parse(BAD_READS), "runtime/preflight.py")
    assert len(allowed) == 4  # only the child's PYTHONPATH is allowed there
    assert environment_reads(ast.parse(BAD_READS), "cli/console.py") == []
