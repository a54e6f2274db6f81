"""The chat in a real browser: JupyterLab 4 on loopback, Debian's headless Chromium, Playwright.

Opens the shipped example notebook, runs it, clicks "show chat", picks the failed job,
sends messages, sees rendered replies with highlighted code, sees the approval with a
highlighted diff and approves it. Screenshots in the light and the dark theme are
written to ``<tmp_path>/screenshots``. Every request the page makes goes to the local
server: nothing is fetched from elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_lab import CHROMIUM_ARGS, chromium, jupyterlab, run_in_kernel
from widget_helpers import EXAMPLE

STEP_MS = 180_000


def _require_chromium() -> str:
    path = chromium()
    if path is None:
        if os.environ.get("ADAPTIVE_LLM_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (ADAPTIVE_LLM_REQUIRE_BROWSER=1) but not installed")
        pytest.skip(
            "Debian's chromium is not installed here (apt-get install chromium; .ci/run does)"
        )
    return path


def _menu(page: Any, *path: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{path[0]}$")).click()
    for label in path[1:-1]:
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{label}$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{path[-1]}$")).click()


def _send(chat: Any, text: str) -> None:
    chat.locator("textarea").fill(text)
    chat.locator("button", has_text=re.compile("^Send$")).click()


def _color(locator: Any, prop: str) -> str:
    return str(locator.evaluate(f"e => getComputedStyle(e).{prop}"))


@pytest.mark.slow
def test_chat_in_jupyterlab_with_headless_chromium(home: Path, tmp_path: Path) -> None:
    executable = _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_MS)

    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.read(EXAMPLE, as_version=4)
    nbformat.write(nb, root / "chat.ipynb")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    requests: list[str] = []

    with jupyterlab(root, tmp_path / "server", env={}) as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(STEP_MS)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(lab.page_url("chat.ipynb"))
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()

            _menu(page, "Run", "Run All Cells")
            show = page.get_by_role("button", name="show chat")
            show.wait_for(timeout=600_000)  # the notebook waits for the first diagnosis
            show.click()
            chat = page.locator(".alm-chat")
            expect(chat).to_be_visible()

            # pick the failed job: its stored diagnosis shows
            jobs = chat.locator("select option")
            expect(jobs.filter(has_text="job ")).not_to_have_count(0)
            labels = jobs.all_text_contents()
            chat.locator("select").select_option(
                index=next(i for i, t in enumerate(labels) if re.search(r"job\s", t))
            )
            expect(chat.locator(".alm-diagnosis")).to_contain_text("TabError")

            # a command whose reply is highlighted code
            _send(chat, "/read model_code.py")
            keyword = chat.locator(".alm-tool code.language-python span.k").first
            expect(keyword).to_have_text("def")
            assert _color(keyword, "color") != _color(keyword.locator(".."), "color")

            # a question to the model: a rendered answer marked as model-written
            _send(chat, "What does this TabError mean?")
            answer = chat.locator(".alm-assistant .alm-origin")
            expect(answer.first).to_be_visible()
            expect(chat.locator(".alm-busy")).to_have_count(0)

            # /fix: the diff, highlighted, with Approve and Deny
            _send(chat, "/fix")
            approval = chat.locator(".alm-approval")
            expect(approval.locator(".alm-diff span.gd").first).to_be_visible()
            expect(approval.locator(".alm-diff span.gi").first).to_be_visible()
            approve = chat.locator("button", has_text=re.compile("^Approve$"))
            deny = chat.locator("button", has_text=re.compile("^Deny$"))
            expect(approve).to_be_enabled()
            expect(deny).to_be_enabled()
            chat.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "chat-light.png"))
            light_bubble = _color(chat.locator(".alm-diagnosis"), "backgroundColor")

            approve.click()
            expect(chat.locator(".alm-tool", has_text="Edited model_code.py").first).to_be_visible()
            expect(approval).to_have_count(0)

            # the dark theme: JupyterLab's variables change the bubbles' colours
            _menu(page, "Settings", "Theme", "JupyterLab Dark")
            expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
            page.wait_for_timeout(500)
            chat.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "chat-dark.png"))
            dark_bubble = _color(chat.locator(".alm-diagnosis"), "backgroundColor")
            assert dark_bubble != light_bubble
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))
            raise
        finally:
            browser.close()
            for connection in lab.kernel_connection_files():
                run_in_kernel(
                    connection, "rm.cancel(); llm.cancel(); rm.scheduler.cancel_all(timeout=10)"
                )

    folders = list((tmp_path / "server" / "tmp").glob("alm-chat-example-*"))
    assert len(folders) == 1 and "\t" not in (folders[0] / "model_code.py").read_text()
    assert (shots / "chat-light.png").stat().st_size > 10_000
    assert (shots / "chat-dark.png").stat().st_size > 10_000
    outside = [u for u in requests if not u.startswith((lab.url, "data:", "blob:"))]
    assert not outside, outside
