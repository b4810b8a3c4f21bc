"""Expanding-window backtests, their scores, the ensemble and the intervals.

Window k of W trains on every point before its cutoff and forecasts the next `horizon`
points; the last window ends where the history ends, and each earlier one `horizon`
points before. Rows are never shuffled. Scores are averaged over series and windows:
MASE scales each error by the in-sample error of the seasonal naive rule on the window's
training part (so series of different sizes weigh alike), sMAPE is in percent (0-200),
RMSE in the target's units.

Intervals are conformal: for each step ahead, the scaled absolute errors of the chosen
model over all backtest windows and series give the quantile that a band of that width
covered; the band never narrows further ahead (a running maximum). With few windows the
bands are wide and honest rather than narrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelyard.schemas import Metric

LEVELS = (80, 95)


@dataclass
class Backtest:
    """One model's forecasts of every window: {(series, window): values}."""

    forecasts: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)


@dataclass
class Truth:
    """What each window must forecast and how its errors are scaled."""

    actual: dict[tuple[str, int], np.ndarray]
    scale: dict[tuple[str, int], float]
    cutoffs: dict[tuple[str, int], pd.Timestamp]
    windows: int
    horizon: int


def windows_of(history: pd.DataFrame, horizon: int, windows: int
               ) -> list[tuple[int, pd.DataFrame]]:
    """(window, its training history) for each window, oldest first."""
    out = []
    for k in range(windows):
        back = horizon * (windows - k)
        parts = [part.iloc[:len(part) - back] for _, part in
                 history.groupby("unique_id", sort=False)]
        out.append((k, pd.concat(parts, ignore_index=True)))
    return out


def truth_of(history: pd.DataFrame, horizon: int, windows: int, season: int) -> Truth:
    actual, scale, cutoffs = {}, {}, {}
    for uid, part in history.groupby("unique_id", sort=False):
        y = part["y"].to_numpy(dtype=float)
        for k in range(windows):
            end = len(y) - horizon * (windows - k)
            train = y[:end]
            m = season if len(train) > season > 1 else 1
            naive = np.abs(train[m:] - train[:-m]).mean() if len(train) > m else 0.0
            key = (str(uid), k)
            actual[key] = y[end:end + horizon]
            scale[key] = float(naive) if naive > 0 else float(np.abs(train).mean() or 1.0)
            cutoffs[key] = part["ds"].iloc[end - 1]
    return Truth(actual, scale, cutoffs, windows, horizon)


def scores(truth: Truth, backtest: Backtest) -> dict[str, list[float]]:
    """Per window, averaged over series: {metric: [score of window 0, 1, ...]}."""
    per: dict[str, list[list[float]]] = {m: [[] for _ in range(truth.windows)]
                                         for m in ("mase", "smape", "rmse")}
    for key, actual in truth.actual.items():
        pred = backtest.forecasts[key]
        err = actual - pred
        denom = np.abs(actual) + np.abs(pred)
        smape = np.where(denom > 0, 200 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)
        per["mase"][key[1]].append(float(np.abs(err).mean() / truth.scale[key]))
        per["smape"][key[1]].append(float(smape.mean()))
        per["rmse"][key[1]].append(float(np.sqrt((err ** 2).mean())))
    return {m: [float(np.mean(w)) for w in ws] for m, ws in per.items()}


def score(truth: Truth, backtest: Backtest, metric: Metric) -> tuple[float, list[float]]:
    """The mean over windows of `metric`, and each window's."""
    per_window = scores(truth, backtest)[metric.value]
    return float(np.mean(per_window)), per_window


def blend(members: dict[str, Backtest], weights: dict[str, float]) -> Backtest:
    """The weighted mean of the members' forecasts, window by window."""
    keys = next(iter(members.values())).forecasts
    total = sum(weights.values())
    return Backtest({k: sum(weights[n] * members[n].forecasts[k] for n in weights) / total
                     for k in keys})


def choose_ensemble(truth: Truth, done: dict[str, Backtest], results: dict[str, float],
                    metric: Metric, size: int = 3
                    ) -> tuple[dict[str, float], float, list[float]] | None:
    """The best `size` (or fewer) models weighted by the inverse of their backtest
    score, when that blend scores better than the best of them alone; else None."""
    ranked = sorted(results, key=results.get)
    if len(ranked) < 2 or metric.greater_is_better:
        return None
    best_single = results[ranked[0]]
    found = None
    for n in range(2, min(size, len(ranked)) + 1):
        names = ranked[:n]
        weights = {m: 1.0 / max(results[m], 1e-9) for m in names}
        total = sum(weights.values())
        weights = {m: w / total for m, w in weights.items()}
        value, per_window = score(truth, blend({m: done[m] for m in names}, weights), metric)
        if value < best_single and (found is None or value < found[1]):
            found = (weights, value, per_window)
    return found


def conformal(truth: Truth, backtest: Backtest) -> dict[int, list[float]]:
    """{level: scaled half-width for each step ahead}."""
    errors = np.array([np.abs(truth.actual[k] - backtest.forecasts[k]) / truth.scale[k]
                       for k in truth.actual])  # (series × windows, horizon)
    ordered = np.sort(errors, axis=0)
    n = ordered.shape[0]
    out = {}
    for level in LEVELS:
        # The split-conformal rank: the ceil((n + 1) level)-th smallest error (the
        # largest when there are too few errors for that level).
        rank = min(n, int(np.ceil((n + 1) * level / 100)))
        out[level] = [float(x) for x in np.maximum.accumulate(ordered[rank - 1])]
    return out


def run_backtests(history: pd.DataFrame, truth: Truth,
                  forecast: Callable[[pd.DataFrame, int], dict[str, np.ndarray]]) -> Backtest:
    """One model's backtest: `forecast(train history, window)` for every window."""
    found = Backtest()
    for k, train in windows_of(history, truth.horizon, truth.windows):
        for uid, values in forecast(train, k).items():
            found.forecasts[(uid, k)] = np.asarray(values, dtype=float)[:truth.horizon]
    return found
