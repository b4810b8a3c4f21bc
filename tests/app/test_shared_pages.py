"""The Settings and Runs pages of a Run shared through a real PostgreSQL server (AppTest)."""

from __future__ import annotations

import json

import pytest

from modelyard.schemas import Plan
from tests.app.test_pages import texts
from tests.conftest import messy_frame
from tests.pg_server import NEEDS_POSTGRES

PAGES = "../pages"
pytestmark = NEEDS_POSTGRES  # the `postgres` fixture: tests/conftest.py


def test_settings_take_a_shared_database_and_show_the_join_command(app, app_home, postgres):
    app.switch_page(f"{PAGES}/settings.py").run()
    assert not app.exception
    app.text_input(key="settings_storage").input("mysql://x@y/z").run()
    app.button(key="settings_save").click().run()
    assert "mysql:// is not a study storage" in texts(app.error)
    assert "study_storage" not in json.loads((app_home / "settings.json").read_text()
                                             if (app_home / "settings.json").exists()
                                             else "{}")

    url = postgres.url.replace("postgresql+psycopg", "postgresql")
    app.text_input(key="settings_storage").input(url).run()
    app.button(key="settings_storage_test").click().run()
    assert f"Connected to {postgres.url}: it holds the search of 0 runs." in \
        texts(app.success)
    assert f"modelyard worker --join RUN --storage '{url}'" in texts(app.code)
    app.button(key="settings_save").click().run()
    assert "Saved." in texts(app.success)
    saved = json.loads((app_home / "settings.json").read_text())
    assert saved["study_storage"] == postgres.url


@pytest.mark.slow
def test_the_runs_page_says_who_fitted_each_trial(app, app_home, postgres, tmp_path):
    from modelyard.app.workspace import Workspace

    ws = Workspace.at(app_home)
    data = tmp_path / "c.csv"
    messy_frame(n=300).to_csv(data, index=False)
    meta = ws.ingest(data, target="churn")
    proposed = ws.propose_plan(meta["id"], target="churn", budget_seconds=20)
    plan = Plan.model_validate(proposed["plan"])
    plan = plan.model_copy(update={"families": [c for c in plan.families
                                                if c.family in ("dummy", "linear")]})
    folder, proc = ws.start_run(ws.approve_plan(plan, based_on=proposed),
                                storage=postgres.url)
    proc.wait(timeout=180)
    assert folder.record().status == "succeeded", folder.log_tail()
    app.switch_page(f"{PAGES}/runs.py").run()
    assert not app.exception
    # (read-only tables carry no key in AppTest: the one with the trials' columns)
    table = next(f.value for f in app.dataframe if "worker" in f.value.columns)
    assert table["worker"].str.contains(r"\(pid \d+\)").all() and len(table) >= 2
    assert f"Its search was shared through {postgres.url}: 1 worker fitted its trials." \
        in texts(app.caption)
