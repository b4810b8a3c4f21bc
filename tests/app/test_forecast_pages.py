"""The forecasting path in the app (AppTest): the Plan page proposes a forecast plan and
edits its set-up; the Model page plots each series (after a real worker's run on
statsmodels' El Niño series)."""

from __future__ import annotations

import json
import time

import pytest

from modelyard.schemas import FamilyChoice, Plan
from tests.engine.test_forecast import elnino, macro_long

PAGES = "../pages"
pytest.importorskip("statsmodels")


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_plan_page_proposes_a_forecast_and_edits_its_set_up(app, app_home, tmp_path):
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home

    path = tmp_path / "series.csv"
    macro_long().to_csv(path, index=False)
    ws = Workspace(Home(app_home))
    ws.ingest(str(path), target="value")
    app.switch_page(f"{PAGES}/plan.py").run()
    assert not app.exception
    app.selectbox(key="plan_fc_time").set_value("quarter_start")
    app.selectbox(key="plan_fc_series").set_value("series")
    app.number_input(key="plan_fc_horizon").set_value(6)
    app.button(key="plan_fc_propose").click().run()
    assert not app.exception, app.exception
    shown = _texts(app.markdown)
    assert "**Forecast** 6 steps ahead · series told apart by “series”" in shown
    assert "quarterly" in shown and "3 backtest windows" in shown
    doc = ws.plans(ws.datasets()[0]["id"])[0]
    assert doc["plan"]["task"] == "forecast" and doc["plan"]["forecast"]["horizon"] == 6

    # The set-up form: two backtest windows, saved as a new approved version.
    key = doc["id"]
    app.number_input(key=f"plan_fc_edit_windows_{key}").set_value(2)
    app.button(key=f"FormSubmitter:plan_fc_form_{key}-Save as a new version").click().run()
    assert not app.exception, app.exception
    latest = ws.plans(ws.datasets()[0]["id"])[0]
    assert latest["approved"] and latest["plan"]["forecast"]["windows"] == 2

    # A set-up the data cannot support says the fix.
    app.number_input(key="plan_fc_horizon").set_value(300)
    app.button(key="plan_fc_propose").click().run()
    assert "longer than the history" in _texts(app.error) + _texts(app.exception)


def test_a_goal_asking_for_the_future_proposes_a_forecast(app, app_home, tmp_path):
    """"forecast the temperature" on a table whose rows are a monthly series: the Plan
    page's usual "Propose a plan" gives a forecast plan, as `modelyard run --goal` does."""
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home

    path = tmp_path / "nino.csv"
    elnino().assign(month=lambda d: d["month"] + "-01").to_csv(path, index=False)
    ws = Workspace(Home(app_home))
    ws.ingest(str(path))
    app.switch_page(f"{PAGES}/plan.py").run()
    app.text_input(key="plan_goal").set_value("forecast the temperature")
    app.radio(key="plan_planner").set_value("rules")
    app.button(key="plan_propose").click().run()
    assert not app.exception, app.exception
    doc = ws.plans(ws.datasets()[0]["id"])[0]
    assert (doc["plan"]["task"], doc["plan"]["target"]) == ("forecast", "temp")
    assert "**Forecast**" in _texts(app.markdown)


@pytest.mark.slow
def test_model_page_plots_history_backtests_and_forecast(app, app_home, tmp_path):
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home

    path = tmp_path / "nino.csv"
    elnino().to_csv(path, index=False)
    ws = Workspace(Home(app_home))
    meta = ws.ingest(str(path), target="temp")
    doc = ws.propose_forecast_plan(meta["id"], target="temp", time_column="month",
                                   horizon=12, budget_seconds=120)
    plan = Plan.model_validate(doc["plan"]).model_copy(update={"families": [
        FamilyChoice(family="seasonal_naive"), FamilyChoice(family="theta")]})
    folder, _ = ws.start_run(ws.approve_plan(plan, based_on=doc))
    deadline = time.time() + 300
    while folder.record().status.is_active and time.time() < deadline:
        time.sleep(1)
    assert folder.record().status == "succeeded", folder.record().message
    ws.refresh()

    app.switch_page(f"{PAGES}/model.py").run()
    assert not app.exception, app.exception
    assert [m.label for m in app.metric][:4] == ["Best model", "Backtest MASE", "Horizon",
                                                  "Series"]
    assert app.metric[2].value == "12 steps"
    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    assert [t["name"] for t in traces] == ["history", "backtest 1", "backtest 2",
                                           "backtest 3", "95% interval", "80% interval",
                                           "forecast"]
    assert len(traces[-1]["x"]) == 12 and len(traces[0]["x"]) == 732
    table = next(f.value for f in app.dataframe if "lo_80" in f.value.columns)
    assert list(table.columns) == ["month", "temp", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(table) == 12
    assert "Download the forecast (CSV)" in [b.label for b in app.get("download_button")]

    # The Predict page extends a new history: the first 40 years, 12 months on.
    history = elnino().iloc[:480].to_csv(index=False).encode()
    app.switch_page(f"{PAGES}/predict.py").run()
    assert not app.exception, app.exception
    app.file_uploader(key="predict_fc_upload").upload("nino_history.csv", history, "text/csv")
    app.run()
    app.button(key="predict_fc_go").click().run()
    assert not app.exception, app.exception
    preview = next(f.value for f in app.dataframe if "lo_95" in f.value.columns)
    assert list(preview["month"]) == [f"1990-{m:02d}-01" for m in range(1, 13)]
    assert "Download predictions (CSV)" in [b.label for b in app.get("download_button")]
