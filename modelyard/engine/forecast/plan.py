"""The rule planner's forecasting plan: proposed when the person asks for a forecast (a
horizon, or a time column named for forecasting), never guessed from a date column alone
(a table with dates is still an ordinary regression unless the person says otherwise).

The set-up is read from the data itself: the frequency from the time stamps, the horizon
one season ahead unless given, as many backtest windows (up to 3) as the shortest series
allows. A set-up the data cannot support is refused here with the fix
(`series.read_series`), before anything is launched.
"""

from __future__ import annotations

import pandas as pd

from modelyard.engine.errors import PlanError
from modelyard.engine.forecast.series import (
    MIN_TRAIN_POINTS,
    default_horizon,
    frequency_words,
    max_windows,
    read_series,
)
from modelyard.engine.training import families
from modelyard.schemas import (
    ColumnKind,
    ColumnRole,
    FamilyChoice,
    ForecastSetup,
    Metric,
    Plan,
    Profile,
    Task,
)

DEFAULT_WINDOWS = 3
# ARIMA with a long season (weekly data's 52, hourly's 24) takes minutes per series.
ARIMA_MAX_SEASON = 12


def time_column_of(profile: Profile) -> str | None:
    """The column the person marked as time, else the one the rows are ordered by, else
    the only date column."""
    marked = [c.name for c in profile.columns if c.role == ColumnRole.time]
    if marked:
        return marked[0]
    if profile.time_column:
        return profile.time_column
    dates = [c.name for c in profile.columns if c.kind is ColumnKind.datetime]
    return dates[0] if len(dates) == 1 else None


def forecast_plan(profile: Profile, dataset_id: str, table: pd.DataFrame, *,
                  target: str | None = None, time_column: str | None = None,
                  series_column: str | None = None, horizon: int | None = None,
                  windows: int | None = None, frequency: str | None = None,
                  covariates: list[str] | None = None, budget_seconds: int = 300,
                  seed: int = 0, metric: Metric | None = None) -> Plan:
    """A forecasting Plan for this table; PlanError/BadInputError naming the fix."""
    target = target or (profile.target.column if profile.target else None)
    if target is None:
        raise PlanError("No column is named as the value to forecast.",
                        "Name it with --target.")
    time_column = time_column or time_column_of(profile)
    if time_column is None:
        raise PlanError("No column is named as the time of each row.",
                        "Name it with --time (the column of dates or times).")
    covariates = list(covariates or [])
    _in_bounds(horizon, windows)
    probe = ForecastSetup(time_column=time_column, series_column=series_column,
                          horizon=1, frequency=frequency, windows=1, covariates=[])
    found = read_series(table, target, probe, history_only=True)
    shortest = min(found.lengths.values())
    given_horizon = horizon is not None
    if horizon is None:
        horizon = max(1, min(default_horizon(found.frequency), shortest // 4))
    fits = max_windows(shortest, horizon)
    windows = windows or max(1, min(DEFAULT_WINDOWS, fits))
    setup = ForecastSetup(time_column=time_column, series_column=series_column,
                          horizon=horizon, frequency=frequency or found.frequency,
                          windows=windows, covariates=covariates)
    read_series(table, target, setup)  # every bad set-up is refused here, with its fix
    chosen = [f for f in families.named("series")
              if f != "arima" or found.season <= ARIMA_MAX_SEASON]
    metric = metric if metric is not None and metric.fits(Task.forecast) else Metric.mase
    used = {target, time_column, series_column, *covariates}
    excluded = [c for c in profile.column_names if c not in used]
    n_series = len(found.lengths)
    what = (f"{n_series} series (told apart by “{series_column}”)" if series_column
            else "one series")
    freq_words = frequency_words(found.frequency)
    rationale = (
        f"Forecast “{target}” {horizon} steps ahead for {what}, {freq_words} by "
        f"“{time_column}”. Each model is scored on {windows} backtest window(s): trained "
        f"on the past up to a cut-off, scored on the {horizon} steps after it, never on "
        "shuffled rows. The best model, or a blend of the best when it scores better, "
        "forecasts with 80% and 95% intervals.")
    reasons = {
        "target": "You chose it." if target else "",
        "task": "You asked for a forecast of future values.",
        "metric": ("It is the measure you asked for." if metric is not Metric.mase else
                   "MASE compares each forecast with repeating the last season, so series "
                   "of any size count alike; below 1 beats that simple rule."),
        "validation": (f"{windows} expanding windows of {horizon} steps at the end of the "
                       f"history (the shortest series has {shortest} points; at least "
                       f"{MIN_TRAIN_POINTS} are kept to train on)."),
        "forecast": (f"Horizon {horizon} steps"
                     + (", as you asked; " if given_horizon else ": one season ahead; ")
                     + f"frequency {found.frequency} ({freq_words}) read from the time stamps"
                     + (f"; known covariates: {', '.join(covariates)}" if covariates else "")
                     + "."),
        "excluded_columns": ("Only the time, the series, the target and the covariates are "
                             "read." if excluded else "Every column is used."),
    }
    if found.season > ARIMA_MAX_SEASON:
        reasons["families"] = (f"ARIMA is left out: with a season of {found.season} steps "
                               "it takes minutes per series.")
    return Plan(dataset_id=dataset_id, target=target, task=Task.forecast, metric=metric,
                families=[FamilyChoice(family=f, max_trials=1, reason=families.get(f).why,
                                       pros=list(families.get(f).pros)[:3],
                                       cons=list(families.get(f).cons)[:3])
                          for f in chosen],
                excluded_columns=excluded, budget_seconds=budget_seconds, seed=seed,
                rationale=rationale, reasons=reasons, forecast=setup)


def _in_bounds(horizon: int | None, windows: int | None) -> None:
    """The set-up's bounds (schemas.ForecastSetup) said as a fix, before pydantic would."""
    bounds = ForecastSetup.model_fields
    for name, value in (("horizon", horizon), ("windows", windows)):
        top = next(m.le for m in bounds[name].metadata if hasattr(m, "le"))
        if value is not None and not 1 <= value <= top:
            raise PlanError(f"The {name} is {value}: it must be between 1 and {top}.",
                            f"Choose a {name} of at most {top}.")
