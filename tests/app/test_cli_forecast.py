"""`modelyard run ... --horizon` and `modelyard predict` on real series (statsmodels'
US macro data: three quarterly series in one table), through the real worker."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.app.test_cli import cli, one_line_error
from tests.engine.test_forecast import elnino, macro_long

pytest.importorskip("statsmodels")


@pytest.mark.slow
def test_run_writes_the_forecast_and_predict_extends_new_history(tmp_path, child_env):
    env = child_env(tmp_path / "home")
    macro_long().to_csv(tmp_path / "series.csv", index=False)
    out = tmp_path / "out"
    result = cli("run", tmp_path / "series.csv", "--target", "value", "--time",
                 "quarter_start", "--series", "series", "--horizon", "8", "--budget", "60",
                 "--out", out, "--json", env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["task"] == "forecast"
    assert summary["metric"] == "mase" and summary["cv_score"] > 0

    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["series", "quarter_start", "value", "lo_80", "hi_80",
                                         "lo_95", "hi_95"]
    # Eight quarters after the last one (2009 Q3), for each of the three series.
    assert sorted(predictions["series"].unique()) == ["realcons", "realgdp", "realinv"]
    for _, part in predictions.groupby("series"):
        assert list(part["quarter_start"]) == ["2009-10-01", "2010-01-01", "2010-04-01",
                                               "2010-07-01", "2010-10-01", "2011-01-01",
                                               "2011-04-01", "2011-07-01"]
    assert (predictions["lo_95"] <= predictions["value"]).all()
    assert (predictions["value"] <= predictions["hi_95"]).all()
    last = macro_long().groupby("series")["value"].last()
    first = predictions.groupby("series")["value"].first()
    assert ((first - last).abs() / last < 0.15).all()  # it carries on from the history

    board = pd.read_csv(out / "leaderboard.csv")
    assert "seasonal_naive" in set(board["model"]) and set(board["metric"]) == {"mase"}
    plan = json.loads((out / "plan.json").read_text())
    assert plan["forecast"]["horizon"] == 8 and plan["forecast"]["series_column"] == "series"

    # New history: the first 40 years of two of the series.
    history = macro_long()
    history = history[(history["series"] != "realinv")
                      & (history["quarter_start"] < "1999-01-01")]
    history.to_csv(tmp_path / "history.csv", index=False)
    made = cli("predict", summary["run_id"], tmp_path / "history.csv", "--out",
               tmp_path / "forecast.csv", env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    forecast = pd.read_csv(tmp_path / "forecast.csv")
    assert sorted(forecast["series"].unique()) == ["realcons", "realgdp"]
    assert forecast.groupby("series")["quarter_start"].first().tolist() == ["1999-01-01"] * 2
    assert len(forecast) == 16

    # What a forecasting model cannot do yet is said, with the way that works.
    one_line_error(cli("export", summary["run_id"], "--out", tmp_path / "exported", env=env),
                   2, "Exporting a forecasting model is not supported yet", "modelyard predict")
    one_line_error(cli("serve", summary["run_id"], env=env, timeout=120), 2,
                   "is a forecasting model", "modelyard predict")


@pytest.mark.parametrize("args, needles", [
    (("--horizon", "800"), ("horizon (800 steps) is longer than the history",
                            "Forecast fewer steps")),
    (("--horizon", "60", "--windows", "15"), ("too few for 15 backtests", "--windows 12")),
    (("--windows", "80"), ("windows is 80: it must be between 1 and 20",)),
    (("--horizon", "12", "--frequency", "D"), ("irregular for a daily",)),
])
def test_bad_set_ups_stop_before_anything_trains(tmp_path, child_env, args, needles):
    env = child_env(tmp_path / "home")
    elnino().to_csv(tmp_path / "nino.csv", index=False)
    result = cli("run", tmp_path / "nino.csv", "--target", "temp", "--time", "month", *args,
                 "--out", tmp_path / "out", env=env)
    one_line_error(result, 2, *needles)
    assert not (tmp_path / "out").exists()


def test_several_series_need_their_series_column(tmp_path, child_env):
    env = child_env(tmp_path / "home")
    macro_long().to_csv(tmp_path / "series.csv", index=False)
    result = cli("run", tmp_path / "series.csv", "--target", "value", "--time",
                 "quarter_start", "--horizon", "8", env=env)
    one_line_error(result, 2, "share a time stamp", "(for example 1959-01-01)", "--series")


def test_a_goal_asking_for_the_future_of_a_series_forecasts_it(tmp_path, child_env):
    """`--goal "forecast ..."` on a table whose rows are a time series gets a forecast (said
    on stderr, the time stamp not warned of as a leak); without such words the target is a
    regression on the same row's columns, and the run says how to forecast instead."""
    env = child_env(tmp_path / "home")
    elnino().assign(month=lambda d: d["month"] + "-01").to_csv(tmp_path / "nino.csv",
                                                               index=False)
    asked = cli("run", tmp_path / "nino.csv", "--goal", "forecast the temperature for the "
                "next 12 months", "--families", "seasonal_naive", "--budget", "10", "--out",
                tmp_path / "a", env=env, timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert ("asks for a forecast and the rows are a time series: forecasting “temp”"
            in asked.stderr)
    assert "leak" not in asked.stderr
    assert json.loads((tmp_path / "a" / "plan.json").read_text())["task"] == "forecast"
    plain = cli("run", tmp_path / "nino.csv", "--goal", "the temperature", "--families",
                "linear", "--budget", "6", "--out", tmp_path / "b", env=env, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert json.loads((tmp_path / "b" / "plan.json").read_text())["task"] == "regression"
    assert "--time month --horizon N" in plain.stderr
