"""The Plan page in a real browser while a language model (a fake Ollama server) works:
live progress, the Stop button, then a plan written slowly chunk by chunk; and the way
from a proposed plan to a run: change a setting, approve, launch.

AppTest cannot click during a script run; Stop interrupting a running request only
happens in a browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelyard.app.workspace import Workspace
from modelyard.storage.paths import Home
from tests.browser.test_e2e import alert, choose, metric_value, write_customers
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

        # Second request: written in small chunks, so the progress shows them arrive; its
        # metric does not fit the task, which is mended (and said), not asked again.
        fake_ollama.script(Reply(draft_json(target="target", metric="rmse"), chunk=20,
                                 pace=0.1))
        page.get_by_role("button", name="Propose a plan").click()
        page.get_by_text("is writing the plan").wait_for()
        page.screenshot(path=str(artifacts / "planner_2_writing.png"), full_page=True)
        page.get_by_role("heading", name="The plan in plain words").wait_for()
        page.get_by_text("Proposed by the language model llama3.2:3b").wait_for()
        page.screenshot(path=str(artifacts / "planner_3_plan.png"), full_page=True)
        page.get_by_text("What was mended in the model's reply (1)").click()
        page.get_by_text("• The metric rmse does not fit a binary task: roc_auc is used."
                         ).wait_for()
        page.screenshot(path=str(artifacts / "planner_4_mends.png"), full_page=True)
        (doc,) = [json.loads(p.read_text()) for p in (e2e_home / "plans").glob("*.json")]
        assert doc["planner"] == "ollama" and doc["provenance"]["repairs"] == 0
        assert doc["plan"]["metric"] == "roc_auc"
    except Exception:
        page.screenshot(path=str(artifacts / "planner_failure.png"), full_page=True)
        raise


@pytest.mark.timeout(180)
def test_edit_approve_and_launch(browser_page, app_url, e2e_home: Path, artifacts, tmp_path):
    """Change one setting, approve it: the new version is the one selected, and one
    click launches it."""
    page = browser_page
    shot = lambda name: page.screenshot(path=str(artifacts / f"plan_{name}.png"),  # noqa: E731
                                        full_page=True)
    home = Home(e2e_home)
    home.ensure()
    Workspace(home).ingest(write_customers(tmp_path / "customers.csv"), target="target")
    try:
        page.goto(f"{app_url}/plan")
        page.get_by_text("Rules only (instant)").click()
        budget = page.get_by_label("Time budget (seconds)", exact=True)
        budget.fill("10")
        budget.press("Enter")
        page.get_by_role("button", name="Propose a plan").click()
        page.get_by_role("heading", name="The plan in plain words").wait_for()
        assert metric_value(page, "Metric").inner_text() == "ROC AUC"  # words, not roc_auc
        assert metric_value(page, "Checked on").inner_text() == "5 folds"
        page.get_by_role("button", name="Approve and launch").wait_for()
        shot("1_proposed")

        # Change how scores are checked: the holdout share replaces the number of folds.
        page.get_by_text("Change the plan (version 1)", exact=True).click()
        page.get_by_text("Number of folds").wait_for()
        choose(page, re.compile("How scores are checked"), "One held-out share of rows")
        page.get_by_text("Share of rows held out to score the models").wait_for()
        page.get_by_text("Number of folds").wait_for(state="detached")
        page.get_by_text("How scores are checked: 5 folds, class balance kept → 20% held "
                         "out").first.wait_for()
        shot("2_edited")
        page.get_by_role("button", name="Approve these changes").click()

        alert(page, "Approved as version 2.").wait_for()
        page.get_by_text("Change the plan (version 2)", exact=True).wait_for()
        # Back to the top of the page, where the summary and Launch are (for the shot).
        page.evaluate("() => document.querySelectorAll('*').forEach(e => { e.scrollTop = 0 })")
        # The picker shows the new version at once, not "v1 · proposed by rules".
        picker = page.get_by_role("combobox", name="Version", exact=True)
        assert picker.input_value().startswith("v2 · edited and approved by you")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
            ".some(e => e.innerText.trim() === '20% holdout')")
        assert page.get_by_role("button", name="Approve and launch").count() == 0
        shot("3_approved")

        page.get_by_role("button", name="Launch", exact=True).click()
        page.get_by_role("heading", name=re.compile("Runs")).first.wait_for()
        metric_value(page, "Status").wait_for()
        shot("4_run_started")
        (run_json,) = list((e2e_home / "runs").glob("*/run.json"))
        record = json.loads(run_json.read_text())
        assert record["plan"]["validation"]["kind"] == "holdout"
    except Exception:
        shot("failure")
        raise
