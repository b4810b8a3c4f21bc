"""Forecasting on real series shipped with statsmodels: the set-up checks and their
messages, the backtests, the forecaster's intervals, and the plan the rules make."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.errors import BadInputError
from modelyard.engine.forecast import backtest as bt
from modelyard.engine.forecast.plan import forecast_plan
from modelyard.engine.forecast.run import ForecastSearch
from modelyard.engine.forecast.series import read_series, season_length
from modelyard.engine.intake.ingest import ingest, load_profile
from modelyard.engine.planning.problems import plan_problems
from modelyard.schemas import FamilyChoice, ForecastSetup, Metric, Plan, Task

sm = pytest.importorskip("statsmodels.api")


def macro_long() -> pd.DataFrame:
    """US quarterly GDP, consumption and investment, 1959-2009: three series in one
    table (statsmodels' macrodata)."""
    d = sm.datasets.macrodata.load_pandas().data
    d["quarter_start"] = pd.PeriodIndex.from_fields(
        year=d["year"].astype(int), quarter=d["quarter"].astype(int), freq="Q"
    ).to_timestamp().strftime("%Y-%m-%d")
    return d.melt(id_vars="quarter_start", value_vars=["realgdp", "realcons", "realinv"],
                  var_name="series", value_name="value")


def elnino() -> pd.DataFrame:
    """Monthly sea surface temperature of the El Niño region, 1950-2010 (one series)."""
    e = sm.datasets.elnino.load_pandas().data
    long = e.melt(id_vars="YEAR", var_name="mon", value_name="temp")
    long["month"] = pd.to_datetime(long["YEAR"].astype(int).astype(str) + "-" + long["mon"],
                                   format="%Y-%b")
    long = long.sort_values("month")[["month", "temp"]]
    long["month"] = long["month"].dt.strftime("%Y-%m")
    return long.reset_index(drop=True)


def co2_monthly() -> pd.DataFrame:
    """Mauna Loa CO2, weekly 1958-2001, averaged by month (gaps filled by interpolation):
    a strong trend under a yearly season."""
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    return pd.DataFrame({"month": monthly.index.strftime("%Y-%m-%d"),
                         "ppm": monthly.to_numpy()})


def test_real_series_read_with_their_frequency_and_season():
    macro = read_series(macro_long(), "value", ForecastSetup(
        time_column="quarter_start", series_column="series", horizon=8))
    assert macro.frequency.startswith("QS") and macro.season == 4
    assert macro.lengths == {"realcons": 203, "realgdp": 203, "realinv": 203}
    nino = read_series(elnino(), "temp", ForecastSetup(time_column="month", horizon=12))
    assert nino.frequency == "MS" and nino.season == 12 and nino.ids == ["series"]
    assert season_length("D") == 7 and season_length("h") == 24 and season_length("YS") == 1


@pytest.mark.parametrize("change, setup, needles", [
    # A horizon longer than the history.
    (lambda t: t.iloc[:40], dict(horizon=60), ("horizon (60 steps) is longer than the history",
                                                "Forecast fewer steps")),
    # Months missing in the middle.
    (lambda t: t.drop(index=range(100, 103)), dict(horizon=12),
     ("irregular", "Fill the missing periods")),
    # Too few points for the backtests asked for.
    (lambda t: t.iloc[:60], dict(horizon=12, windows=5),
     ("too few for 5 backtests of 12 steps", "--windows 4")),
    # The frequency given does not fit the time stamps.
    (lambda t: t, dict(horizon=12, frequency="W"), ("irregular for a weekly",)),
])
def test_bad_set_ups_are_refused_with_the_fix(change, setup, needles):
    table = change(elnino()).reset_index(drop=True)
    with pytest.raises(BadInputError) as caught:
        read_series(table, "temp", ForecastSetup(time_column="month", **setup))
    said = f"{caught.value} {caught.value.hint}"
    for needle in needles:
        assert needle in said, said


def test_several_series_without_a_series_column_are_duplicate_time_stamps():
    with pytest.raises(BadInputError) as caught:
        read_series(macro_long(), "value",
                    ForecastSetup(time_column="quarter_start", horizon=4))
    assert "share a time stamp" in str(caught.value)
    assert "--series" in caught.value.hint


def test_backtests_run_in_time_order_and_score_each_window():
    history = read_series(elnino(), "temp", ForecastSetup(time_column="month", horizon=12)
                          ).frame
    windows = bt.windows_of(history, 12, 3)
    assert [len(train) for _, train in windows] == [732 - 36, 732 - 24, 732 - 12]
    truth = bt.truth_of(history, 12, 3, 12)
    # Window 0 forecasts the 12 months right after its training part.
    assert np.allclose(truth.actual[("series", 0)], history["y"].iloc[696:708])
    assert truth.cutoffs[("series", 2)] == history["ds"].iloc[719]


def _plan(families: list[str], setup: ForecastSetup, target: str) -> Plan:
    return Plan(dataset_id="d", target=target, task=Task.forecast, metric=Metric.mase,
                families=[FamilyChoice(family=f) for f in families], forecast=setup,
                budget_seconds=600)


def _search(families: list[str], table: pd.DataFrame, target: str, horizon: int = 12):
    setup = ForecastSetup(time_column="month", horizon=horizon, windows=3)
    search = ForecastSearch(_plan(families, setup, target),
                            read_series(table, target, setup), None, time.time())
    return search, *search.run()


def test_ets_beats_seasonal_naive_on_a_trending_seasonal_series():
    search, weights, score, per_window = _search(["seasonal_naive", "ets"], co2_monthly(),
                                                 "ppm")
    # Repeating last year misses a year of growth; ETS carries the trend on.
    assert search.results["ets"] < 0.5 * search.results["seasonal_naive"]
    assert "ets" in weights and len(per_window) == 3


def test_forecasts_from_new_history_with_ordered_intervals():
    table = elnino()
    search, weights, score, per_window = _search(["seasonal_naive", "theta"], table, "temp")
    assert score <= min(search.results.values()) and len(per_window) == 3
    assert [t.model for t in search.trials] == ["seasonal_naive", "theta", "ensemble"]
    forecaster = search.fit(weights)
    # A new history (the first 50 years) is extended by 12 months.
    out = forecaster.forecast(table.iloc[:600])
    assert list(out.columns) == ["month", "temp", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert list(out["month"].dt.strftime("%Y-%m")) == [f"2000-{m:02d}" for m in range(1, 13)]
    assert (out["lo_95"] <= out["lo_80"]).all() and (out["lo_80"] < out["temp"]).all()
    assert (out["temp"] < out["hi_80"]).all() and (out["hi_80"] <= out["hi_95"]).all()
    # The bands are conformal: about 80% of the next year's months fall inside the 80%
    # band (a wide tolerance: twelve months of one year).
    actual = table["temp"].iloc[600:612].to_numpy()
    inside = ((actual >= out["lo_95"]) & (actual <= out["hi_95"])).mean()
    assert inside >= 0.6


def test_conformal_widths_grow_with_the_step_and_follow_the_rank():
    truth = bt.Truth(actual={("a", k): np.zeros(3) for k in range(9)},
                     scale={("a", k): 1.0 for k in range(9)}, cutoffs={}, windows=9,
                     horizon=3)
    errors = {("a", k): np.array([k + 1, 1, k]) for k in range(9)}
    widths = bt.conformal(truth, bt.Backtest(errors))
    # 9 errors: the 80% band is the 8th smallest, the 95% one the largest.
    assert widths[80] == [8.0, 8.0, 8.0] and widths[95] == [9.0, 9.0, 9.0]


def test_the_rules_propose_a_forecast_and_the_plan_check_knows_its_columns(home, tmp_path):
    path = tmp_path / "macro.csv"
    macro_long().to_csv(path, index=False)
    meta = ingest(home, path, target="value")
    profile = load_profile(home, meta["id"])
    plan = forecast_plan(profile, meta["id"], macro_long(), target="value",
                         time_column="quarter_start", series_column="series")
    assert plan.task is Task.forecast and plan.metric is Metric.mase
    assert plan.forecast.horizon == 4 and plan.forecast.windows == 3  # one season ahead
    assert plan.forecast.frequency.startswith("QS")
    assert [f.family for f in plan.families] == ["seasonal_naive", "ets", "theta", "arima",
                                                 "lightgbm_lags"]
    assert plan_problems(plan, profile) == []
    broken = plan.model_copy(update={"forecast": plan.forecast.model_copy(
        update={"series_column": "region"})})
    assert plan_problems(broken, profile) == ["forecast series column 'region' does not exist"]
    tabular = plan.model_copy(update={"families": [FamilyChoice(family="lightgbm")]})
    assert "do not fit series data" in " ".join(plan_problems(tabular, profile))
    # Older plans (no forecast set-up) still load; a forecast task needs one.
    assert Plan.model_validate({**plan.model_dump(mode="json", exclude={"forecast"}),
                                "task": "regression", "metric": "rmse"}).forecast is None
    with pytest.raises(ValueError, match="forecast set-up"):
        Plan.model_validate(plan.model_dump(mode="json", exclude={"forecast"}))


def test_known_covariates_come_in_rows_after_the_history():
    table = elnino()
    # Last year's temperature is known a year ahead: a covariate for the next 12 months.
    table["last_year"] = table["temp"].shift(12).bfill()
    future = pd.DataFrame({"month": [f"2011-{m:02d}" for m in range(1, 13)],
                           "temp": np.nan, "last_year": table["temp"].iloc[-12:].to_numpy()})
    setup = ForecastSetup(time_column="month", horizon=12, windows=2,
                          covariates=["last_year"])
    series = read_series(pd.concat([table, future], ignore_index=True), "temp", setup)
    assert len(series.frame) == 732 and len(series.future) == 12
    search = ForecastSearch(_plan(["lightgbm_lags"], setup, "temp"), series, None,
                            time.time())
    weights, _, _ = search.run()
    out = search.fit(weights).frame(series.frame, series.future)
    assert list(out["month"].dt.strftime("%Y-%m")) == [f"2011-{m:02d}" for m in range(1, 13)]
    assert out["temp"].between(20, 32).all()
    with pytest.raises(BadInputError, match="covariates last_year are needed"):
        read_series(table, "temp", setup)  # no future rows: the covariates are unknown
