"""The forecasters: seasonal naive, ETS, Theta and ARIMA from statsmodels (one model per
series, chosen by AICc where there is a choice), and LightGBM on lags and calendar
features (one model across all series).

Why statsmodels rather than statsforecast/mlforecast: statsforecast 2.1 and mlforecast
1.1 (the newest) both require pandas < 3 and would downgrade the pandas 3 that Modelyard
runs on. statsmodels 0.15 has the same model classes (ETS state-space models with their
information criteria, the Theta method, SARIMAX); the "auto" part is a small search over
the usual candidates by AICc, as AutoETS and AutoARIMA do. The lag features for LightGBM
are built here in a few lines, as mlforecast builds them: per-series scaling, first
differences, lags and the season's lag, calendar parts, recursive steps.

A local model that fails on a series (too short for a season, a singular fit) falls back
to the seasonal naive forecast for that series and says so in `notes`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

Local = Callable[[np.ndarray, int, int], np.ndarray]
MAX_POINTS = 300


class OutOfTime(Exception):
    """A family's backtest ran past the Run's budget."""


def seasonal_naive(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """The last season repeated (the last value when there is no season)."""
    m = m if m > 1 and len(y) >= m else 1
    last = y[-m:]
    return np.array([last[i % m] for i in range(h)], dtype=float)


def _quiet(fn):
    def wrapped(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
    return wrapped


def _seasonal(y: np.ndarray, m: int) -> bool:
    return m > 1 and len(y) >= 2 * m + 2


def recent(y: np.ndarray, m: int) -> np.ndarray:
    """The part of a long history the statistical models read: the last MAX_POINTS
    points, or six seasons when that is more (older points change little and cost time)."""
    return y[-max(MAX_POINTS, 6 * m):]


@_quiet
def ets(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """AutoETS: trend (none or damped additive) and season (none, additive,
    multiplicative for positive data) chosen by AICc (Holt-Winters estimation)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = recent(y, m)
    positive = bool((y > 0).all())
    seasons = [None] + (["add"] + (["mul"] if positive else []) if _seasonal(y, m) else [])
    best, best_ic = None, np.inf
    for trend in (None, "add"):
        for season in seasons:
            try:
                fit = ExponentialSmoothing(
                    y, trend=trend, damped_trend=trend is not None, seasonal=season,
                    seasonal_periods=m if season else None,
                    initialization_method="estimated").fit(use_brute=False)
            except Exception:
                continue
            ic = fit.aicc if np.isfinite(fit.aicc) else fit.aic
            if np.isfinite(ic) and ic < best_ic:
                best, best_ic = fit, ic
    if best is None:
        raise ValueError("no ETS model could be fitted")
    return np.asarray(best.forecast(h), dtype=float)


@_quiet
def theta(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """The Theta method, deseasonalised when the series has a season."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = recent(y, m)
    seasonal = _seasonal(y, m)
    method = "multiplicative" if (y > 0).all() else "additive"
    fit = ThetaModel(y, period=m if seasonal else 1, deseasonalize=seasonal,
                     method=method).fit()
    return np.asarray(fit.forecast(h), dtype=float)


@_quiet
def arima(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """AutoARIMA in small: a seasonal difference for seasonal data, a first difference
    when the KPSS test finds a trend, then the usual (p, q) orders chosen by AICc. Fitted
    by Hannan-Rissanen regressions: seconds where full likelihood fits take minutes."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.stattools import kpss

    y = recent(y, m)
    seasonal = _seasonal(y, m) and len(y) >= 3 * m
    z1 = y[m:] - y[:-m] if seasonal else y
    try:
        d = int(kpss(z1, regression="c", nlags="auto")[1] < 0.05)
    except Exception:
        d = 1
    z = np.diff(z1) if d else z1
    best, best_ic = None, np.inf
    for p, q in ((1, 0), (0, 1), (1, 1), (2, 0), (2, 2)):
        try:
            fit = ARIMA(z, order=(p, 0, q), trend="c").fit(method="hannan_rissanen")
        except Exception:
            continue
        ic = fit.aicc if np.isfinite(fit.aicc) else fit.aic
        if np.isfinite(ic) and ic < best_ic:
            best, best_ic = fit, ic
    if best is None:
        raise ValueError("no ARIMA model could be fitted")
    ahead = np.asarray(best.forecast(h), dtype=float)
    if d:
        ahead = z1[-1] + np.cumsum(ahead)
    if not seasonal:
        return ahead
    out = np.empty(h)
    for k in range(h):
        out[k] = ahead[k] + (y[len(y) - m + k] if k < m else out[k - m])
    return out


LOCAL: dict[str, Local] = {"seasonal_naive": seasonal_naive, "ets": ets, "theta": theta,
                           "arima": arima}


def forecast_local(name: str, history: pd.DataFrame, h: int, m: int,
                   notes: list[str] | None = None, deadline: float | None = None
                   ) -> dict[str, np.ndarray]:
    """{series: the next `h` values} by the local model `name`, one fit per series;
    OutOfTime once `deadline` (a time.time()) has passed."""
    import time

    fn = LOCAL[name]
    out = {}
    for uid, part in history.groupby("unique_id", sort=False):
        if deadline is not None and time.time() > deadline:
            raise OutOfTime(f"{name} ran out of the time budget")
        y = part["y"].to_numpy(dtype=float)
        try:
            values = fn(y, h, m)
            if not np.isfinite(values).all():
                raise ValueError("the forecast is not finite")
        except Exception as exc:
            values = seasonal_naive(y, h, m)
            if notes is not None:
                notes.append(f"{name} on {uid}: {exc}; seasonal naive used instead")
        out[str(uid)] = values
    return out


# -- LightGBM on lags ----------------------------------------------------------------------
def _lags(m: int) -> list[int]:
    base = [1, 2, 3, 4, 5, 6]
    return sorted(set(base + ([m - 1, m, m + 1] if m > 6 else [])))


def calendar(ds: pd.Series | pd.DatetimeIndex, season: int) -> pd.DataFrame:
    """Calendar parts that vary at this frequency (month of year, day of week, hour)."""
    ds = pd.DatetimeIndex(ds)
    parts = {}
    if season in (12, 4, 52):
        parts = {"month": ds.month, "quarter": ds.quarter}
        if season == 52:
            parts["week"] = ds.isocalendar().week.to_numpy()
    elif season in (7, 5):
        parts = {"dayofweek": ds.dayofweek, "month": ds.month}
    elif season in (24, 60):
        parts = {"hour": ds.hour, "dayofweek": ds.dayofweek, "minute": ds.minute}
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in parts.items()})


class LagBoost:
    """LightGBM across all series on scaled, differenced values: lags, calendar parts,
    the series' code and known covariates; forecasts step by step (recursively)."""

    def __init__(self, season: int, frequency: str, covariates: list[str], seed: int = 0,
                 n_jobs: int = 1):
        self.season, self.frequency, self.covariates = season, frequency, covariates
        self.seed, self.n_jobs = seed, n_jobs
        self.lags = _lags(season)
        self.codes: dict[str, int] = {}
        self.model = None

    def _scaled(self, y: np.ndarray) -> tuple[np.ndarray, float, float]:
        mean, std = float(np.mean(y)), float(np.std(y)) or 1.0
        return (y - mean) / std, mean, std

    def _rows(self, d: np.ndarray, t: int) -> list[float]:
        return [d[t - lag] if t - lag >= 0 else np.nan for lag in self.lags] + [
            float(np.mean(d[max(0, t - self.season):t])) if t > 0 else np.nan]

    def fit(self, history: pd.DataFrame) -> LagBoost:
        """Learn from every series' history (at least a few points each)."""
        import lightgbm as lgb

        rows, targets = [], []
        self.codes = {u: i for i, u in enumerate(sorted(history["unique_id"].unique()))}
        for uid, part in history.groupby("unique_id", sort=False):
            z, _, _ = self._scaled(part["y"].to_numpy(dtype=float))
            d = np.diff(z)
            cal = calendar(part["ds"].iloc[1:], self.season).to_numpy()
            cov = part[self.covariates].iloc[1:].to_numpy(dtype=float)
            for t in range(1, len(d)):
                rows.append(self._rows(d, t) + list(cal[t]) + list(cov[t])
                            + [self.codes[uid]])
                targets.append(d[t])
        X, target = np.asarray(rows, dtype=float), np.asarray(targets, dtype=float)
        n = len(target)
        self.model = lgb.LGBMRegressor(
            n_estimators=300 if n > 500 else 150, learning_rate=0.05, num_leaves=15,
            min_child_samples=max(3, min(20, n // 50)), subsample=0.9, subsample_freq=1,
            colsample_bytree=0.9, random_state=self.seed, n_jobs=self.n_jobs, verbose=-1)
        self.model.fit(X, target, categorical_feature=[X.shape[1] - 1])
        return self

    def forecast(self, history: pd.DataFrame, h: int,
                 future: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """{series: the next `h` values} from this history (new series get no code)."""
        out = {}
        for uid, part in history.groupby("unique_id", sort=False):
            y = part["y"].to_numpy(dtype=float)
            z, mean, std = self._scaled(y)
            d = list(np.diff(z))
            stamps = pd.date_range(part["ds"].iloc[-1], periods=h + 1,
                                   freq=self.frequency)[1:]
            cal = calendar(stamps, self.season).to_numpy()
            cov = (future[future["unique_id"] == uid][self.covariates].to_numpy(dtype=float)
                   if self.covariates else np.zeros((h, 0)))
            level, values = z[-1], []
            for step in range(h):
                t = len(d)
                d.append(np.nan)
                x = self._rows(np.asarray(d), t) + list(cal[step]) + list(cov[step]) + [
                    self.codes.get(str(uid), np.nan)]
                d[t] = float(self.model.predict(np.asarray([x], dtype=float))[0])
                level += d[t]
                values.append(level * std + mean)
            out[str(uid)] = np.asarray(values, dtype=float)
        return out
