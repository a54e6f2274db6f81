"""The shipped example notebook, executed headless (nbclient) in a real kernel.

The notebook runs as shipped; cells appended here then use its panel the way a user
would (open the chat, ask, /fix, approve) and report the state read *in the kernel*:
widget messages sent from background tasks carry the parent header of the cell that
started them, so nbclient's saved widget state can be stale.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell
from widget_helpers import EXAMPLE

DRIVE = [
    # open the chat from the panel's button and pick the failed job
    """panel.chat_button.click()
chat = panel.chat_toggle.chat
job = next(k for k, d in llm.diagnoses.items() if d.category == "syntax_error")
chat.failures.value = f"job:{job}"
diagnosis_at_once = "stored diagnosis" in chat.items[0].value
await chat.wait()
chat.input.value = "What does this TabError mean?"
chat.send_button.click()
busy_after_send = chat.busy_now""",
    # a separate cell runs while the answer is still being generated
    """busy_in_next_cell = chat.busy_now
await chat.wait()
answer = [c.value for c in chat.items if "alm-assistant" in c.value][-1]""",
    """chat.input.value = "/fix"
chat.send_button.click()
await chat.wait()
diff_html = chat.approval_html.value
chat.approve_button.click()
chat.approve_button.click()
await chat.wait()
for _ in range(300):
    if learner_done(rm, "energy"):
        break
    await asyncio.sleep(1)""",
    """import json
state = {
    "diagnosis_at_once": diagnosis_at_once,
    "busy_after_send": busy_after_send,
    "busy_in_next_cell": busy_in_next_cell,
    "answer_marked": "alm-origin" in answer,
    "diff_highlighted": '<span class="gd">' in diff_html and '<span class="gi">' in diff_html,
    "applied": len([r for r in llm.agent.audit(job) if r.event == "applied"]),
    "tab_left": "\\t" in (folder / "model_code.py").read_text(),
    "next_attempt_done": learner_done(rm, "energy"),
    "panel_children": len(panel.children),
}
rm.cancel()
llm.cancel()
rm.scheduler.cancel_all(timeout=10)
print("STATE " + json.dumps(state))""",
]


@pytest.mark.slow
def test_example_notebook_runs_headless(home: Path, tmp_path: Path) -> None:
    nb = nbformat.read(EXAMPLE, as_version=4)
    shipped = len(nb.cells)
    nb.cells.extend(new_code_cell(source) for source in DRIVE)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    errors = [
        out for cell in nb.cells for out in cell.get("outputs", []) if out.output_type == "error"
    ]
    assert not errors, errors
    printed = "".join(
        out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream"
    )
    state = json.loads(printed.split("STATE ", 1)[1])
    assert state == {
        "diagnosis_at_once": True,
        "busy_after_send": True,
        "busy_in_next_cell": True,
        "answer_marked": True,
        "diff_highlighted": True,
        "applied": 1,
        "tab_left": False,
        "next_attempt_done": True,
        "panel_children": 6,
    }
    assert len(nb.cells) == shipped + len(DRIVE)
