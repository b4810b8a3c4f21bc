"""In a real browser: a forecasting Run made by `modelyard run --plan` on statsmodels' El
Niño series; its Model page plots the series, its Predict page extends an uploaded
history and downloads the forecast. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from modelyard.schemas import FamilyChoice, ForecastSetup, Metric, Plan, Task
from tests.app.test_cli import cli
from tests.browser.test_e2e import alert
from tests.engine.test_forecast import elnino

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("statsmodels")


@pytest.fixture
def forecast_home(e2e_home, tmp_path, child_env):
    """The e2e home holds a finished forecasting Run before the app starts."""
    elnino().to_csv(tmp_path / "nino.csv", index=False)
    plan = Plan(dataset_id="any", target="temp", task=Task.forecast, metric=Metric.mase,
                families=[FamilyChoice(family="seasonal_naive"),
                          FamilyChoice(family="theta")],
                forecast=ForecastSetup(time_column="month", horizon=12, windows=3),
                budget_seconds=120)
    (tmp_path / "plan.json").write_text(plan.model_dump_json())
    made = cli("run", tmp_path / "nino.csv", "--plan", tmp_path / "plan.json", "--out",
               tmp_path / "out", env=child_env(e2e_home), timeout=600)
    assert made.returncode == 0, made.stderr
    elnino().iloc[:480].to_csv(tmp_path / "history.csv", index=False)
    return tmp_path


@pytest.mark.timeout(600)
def test_model_page_plots_and_predict_page_extends_a_history(forecast_home, app_url,
                                                              browser_page, artifacts):
    page = browser_page
    shot = lambda name: page.screenshot(path=str(artifacts / f"forecast_{name}.png"),  # noqa: E731
                                        full_page=True)
    try:
        page.goto(f"{app_url}/model")
        page.get_by_text("Backtest MASE").wait_for(timeout=120_000)
        page.locator(".js-plotly-plot").first.wait_for()
        assert page.get_by_text("12 steps").count() >= 1
        shot("1_model")
        page.goto(f"{app_url}/predict")
        page.get_by_text("steps past the end of each series").wait_for(timeout=120_000)
        page.locator('input[type="file"]').first.set_input_files(
            str(forecast_home / "history.csv"))
        page.get_by_role("button", name="Forecast", exact=True).click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for(timeout=120_000)
        alert(page, "Predictions saved to").wait_for()
        with page.expect_download() as info:
            button.click()
        saved = forecast_home / info.value.suggested_filename
        info.value.save_as(saved)
        shot("2_predicted")
        assert re.fullmatch(r"history-forecast-\d{8}-\d{6}\.csv", saved.name)
        got = pd.read_csv(saved)
        assert list(got.columns) == ["month", "temp", "lo_80", "hi_80", "lo_95", "hi_95"]
        assert list(got["month"]) == [f"1990-{m:02d}-01" for m in range(1, 13)]
    except Exception:
        shot("failure")
        (artifacts / "forecast_failure.html").write_text(page.content())
        raise
