"""The Plan page in a real browser while a language model (a fake Ollama server) works:
live progress, the Stop button, then a plan written slowly chunk by chunk.

AppTest cannot click during a script run; Stop interrupting a running request only
happens in a browser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.app.workspace import Workspace
from modelyard.storage.paths import Home
from tests.browser.test_e2e import alert, write_customers
from tests.fake_ollama import Reply, draft_json

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def app_ollama_host(fake_ollama) -> str:
    """The app is started with OLLAMA_HOST at the fake server."""
    return fake_ollama.url


@pytest.mark.timeout(180)
def test_progress_stop_and_a_streamed_plan(browser_page, app_url, e2e_home: Path, artifacts,
                                           tmp_path, fake_ollama):
    page = browser_page
    home = Home(e2e_home)
    home.ensure()
    Workspace(home).ingest(write_customers(tmp_path / "customers.csv"), target="target")
    # First request: a model that never answers (until the fake stops).
    fake_ollama.script(Reply(draft_json(target="target"), delay=120))
    try:
        page.goto(f"{app_url}/plan")
        page.get_by_role("button", name="Propose a plan").click()
        page.get_by_text("waiting for llama3.2:3b").wait_for()
        page.screenshot(path=str(artifacts / "planner_1_waiting.png"), full_page=True)
        page.get_by_role("button", name="Stop the planner").click()
        alert(page, "The planner was stopped before it finished; nothing was stored."
              ).wait_for()
        assert list((e2e_home / "plans").glob("*.json")) == []

        # Second request: written in small chunks, so the progress shows them arrive.
        fake_ollama.script(Reply(draft_json(target="target"), chunk=20, pace=0.1))
        page.get_by_role("button", name="Propose a plan").click()
        page.get_by_text("is writing the plan").wait_for()
        page.screenshot(path=str(artifacts / "planner_2_writing.png"), full_page=True)
        page.get_by_role("heading", name="The plan in plain words").wait_for()
        page.get_by_text("Proposed by the language model llama3.2:3b").wait_for()
        page.screenshot(path=str(artifacts / "planner_3_plan.png"), full_page=True)
        (doc,) = [json.loads(p.read_text()) for p in (e2e_home / "plans").glob("*.json")]
        assert doc["planner"] == "ollama" and doc["provenance"]["repairs"] == 0
    except Exception:
        page.screenshot(path=str(artifacts / "planner_failure.png"), full_page=True)
        raise
