"""The fitted forecaster a Model bundle holds: it forecasts from any new history.

The statistical members are refitted on the history they are given (that is what they
are: a few parameters estimated from the series itself); the LightGBM member keeps what
it learnt in training and reads the new history's lags. Intervals are the backtests'
conformal widths, scaled by each new series' own seasonal naive error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.forecast import models
from modelyard.engine.forecast.backtest import LEVELS
from modelyard.engine.forecast.series import read_series
from modelyard.schemas import ForecastSetup

# History kept in the bundle for the Model page's plot and the default forecast.
KEEP_POINTS = 2_000


def series_scale(y: np.ndarray, season: int) -> float:
    """The in-sample error of the seasonal naive rule (the MASE scale)."""
    m = season if len(y) > season > 1 else 1
    naive = np.abs(y[m:] - y[:-m]).mean() if len(y) > m else 0.0
    return float(naive) if naive > 0 else float(np.abs(y).mean() or 1.0)


class Forecaster:
    """Weighted members (family names), the LightGBM model when one is a member, the
    set-up and the interval widths per step ahead."""

    def __init__(self, setup: ForecastSetup, target: str, frequency: str, season: int,
                 weights: dict[str, float], widths: dict[int, list[float]],
                 lag_model: models.LagBoost | None = None):
        self.setup, self.target = setup, target
        self.frequency, self.season = frequency, season
        self.weights, self.widths, self.lag_model = weights, widths, lag_model

    def point(self, history: pd.DataFrame, future: pd.DataFrame | None = None,
              notes: list[str] | None = None) -> dict[str, np.ndarray]:
        """{series: the blended next `horizon` values} from a long history frame."""
        h = self.setup.horizon
        total: dict[str, np.ndarray] = {}
        for name, weight in self.weights.items():
            if name == "lightgbm_lags":
                part = self.lag_model.forecast(history, h, future)
            else:
                part = models.forecast_local(name, history, h, self.season, notes)
            for uid, values in part.items():
                total[uid] = total.get(uid, 0.0) + weight * values
        return total

    def forecast(self, table: pd.DataFrame) -> pd.DataFrame:
        """The next `horizon` steps of every series in `table` (its history, and rows
        after it with the covariates when the model uses them), with intervals."""
        series = read_series(table, self.target, self.setup.model_copy(
            update={"frequency": self.frequency, "windows": 1}),
            history_only=not self.setup.covariates)
        return self.frame(series.frame, series.future)

    def frame(self, history: pd.DataFrame, future: pd.DataFrame | None = None
              ) -> pd.DataFrame:
        """The forecast table: series, future time stamps, forecast, interval columns."""
        points = self.point(history, future)
        rows = []
        for uid, part in history.groupby("unique_id", sort=False):
            uid = str(uid)
            y = part["y"].to_numpy(dtype=float)
            scale = series_scale(y, self.season)
            stamps = pd.date_range(part["ds"].iloc[-1], periods=self.setup.horizon + 1,
                                   freq=self.frequency)[1:]
            block = pd.DataFrame({"unique_id": uid, "ds": stamps, "yhat": points[uid]})
            for level in LEVELS:
                width = np.asarray(self.widths[level]) * scale
                block[f"lo_{level}"] = block["yhat"] - width
                block[f"hi_{level}"] = block["yhat"] + width
            rows.append(block)
        out = pd.concat(rows, ignore_index=True)
        names = {"ds": self.setup.time_column, "yhat": self.target}
        if self.setup.series_column:
            names["unique_id"] = self.setup.series_column
        else:
            out = out.drop(columns="unique_id")
        return out.rename(columns=names)

    def describe(self) -> dict[str, Any]:
        return {"weights": self.weights, "frequency": self.frequency, "season": self.season}
