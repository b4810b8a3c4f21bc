"""A forecasting table read as series: the checks a set-up must pass, and its frequency.

A table holds one series (no series column) or many (a series column), one row per time
stamp. Every bad set-up is refused here with a sentence that names the fix, before any
model is fitted: a time column that is not dates, two rows for one time stamp in a
series, time stamps at irregular steps, a horizon longer than the history, too few
points for the backtests. Rows after a series' last known value (the target empty) are
its future: they carry the known-in-advance covariates for the forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.schemas import ForecastSetup

# The one series' name when the table has no series column.
ONE_SERIES = "series"
# A backtest's model needs at least this many points before its window.
MIN_TRAIN_POINTS = 8
# Season lengths by the start of a pandas offset's rule code (longest prefix first).
_SEASONS = (("QS", 4), ("QE", 4), ("Q", 4), ("MS", 12), ("ME", 12), ("SMS", 24),
            ("BMS", 12), ("BME", 12), ("M", 12), ("W", 52), ("B", 5), ("D", 7),
            ("h", 24), ("min", 60), ("s", 60), ("YS", 1), ("YE", 1), ("Y", 1), ("A", 1))
_FREQ_WORDS = {"MS": "monthly", "ME": "monthly", "QS": "quarterly", "QE": "quarterly",
               "W": "weekly", "D": "daily", "B": "business days", "h": "hourly",
               "min": "every minute", "YS": "yearly", "YE": "yearly", "s": "every second"}


@dataclass
class Series:
    """The table as long series: `frame` has `unique_id`, `ds`, `y` (+ covariates), the
    known history only, sorted; `future` holds the rows after each history (covariates)."""

    frame: pd.DataFrame
    future: pd.DataFrame
    frequency: str
    season: int
    lengths: dict[str, int] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(self.lengths)


def season_length(frequency: str) -> int:
    """How many steps make one season (12 for monthly data, 7 for daily, 1 for yearly)."""
    code = pd.tseries.frequencies.to_offset(frequency).rule_code
    return next((n for prefix, n in _SEASONS if code.startswith(prefix)), 1)


def frequency_words(frequency: str) -> str:
    """`MS` → `monthly`; an unknown code as it is."""
    code = pd.tseries.frequencies.to_offset(frequency).rule_code
    return next((w for prefix, w in sorted(_FREQ_WORDS.items(), key=lambda kv: -len(kv[0]))
                 if code.startswith(prefix)), frequency)


def default_horizon(frequency: str) -> int:
    """One season ahead (a year of months, a week of days), at least 4 steps."""
    return max(4, min(season_length(frequency), 52))


def read_series(table: pd.DataFrame, target: str, setup: ForecastSetup, *,
                history_only: bool = False) -> Series:
    """The table's series, checked; BadInputError naming the fix when the set-up cannot
    be forecast. `history_only`: future rows are not expected (no covariates needed)."""
    columns = [setup.time_column, target, *([setup.series_column] if setup.series_column
                                            else []), *setup.covariates]
    missing = [c for c in dict.fromkeys(columns) if c not in table.columns]
    if missing:
        raise BadInputError(f"The table has no column {', '.join(map(repr, missing))}.",
                            "A forecast reads the columns "
                            + ", ".join(repr(c) for c in dict.fromkeys(columns))
                            + ": name them as the table spells them, or give a table that "
                            "has them.")
    frame = pd.DataFrame({
        "unique_id": (table[setup.series_column].astype(str) if setup.series_column
                      else ONE_SERIES),
        "ds": _times(table[setup.time_column], setup.time_column),
        "y": _numbers(table[target], target)})
    for cov in setup.covariates:
        frame[cov] = _numbers(table[cov], cov)
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    _no_duplicates(frame, setup)
    history, future = _split_future(frame, target)
    frequency = setup.frequency or _infer_frequency(history, setup.time_column)
    _regular(frame, frequency, setup)
    lengths = history.groupby("unique_id", sort=False).size().to_dict()
    series = Series(history, future, frequency, season_length(frequency),
                    {str(k): int(v) for k, v in lengths.items()})
    _long_enough(series, setup)
    if setup.covariates and not history_only:
        short = [u for u in series.ids if (future["unique_id"] == u).sum() < setup.horizon]
        if short:
            raise BadInputError(
                f"The covariates {', '.join(setup.covariates)} are needed for the next "
                f"{setup.horizon} steps, but series {short[0]!r} has fewer future rows.",
                f"Add {setup.horizon} rows after the last value of each series with the "
                "covariates filled and the target empty, or forecast without covariates.")
    return series


def _times(values: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        times = values
    else:
        try:
            times = pd.to_datetime(values.astype(str), errors="raise", format="mixed")
        except (ValueError, TypeError):
            raise BadInputError(f"The time column {name!r} holds values that are not dates "
                                f"or times (for example {values.astype(str).iloc[0]!r}).",
                                "Choose the column that holds the time stamps.") from None
    if times.isna().any():
        raise BadInputError(f"{int(times.isna().sum())} rows have no time stamp in {name!r}.",
                            "Fill them or drop those rows.")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    return times.astype("datetime64[ns]")


def _numbers(values: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if not pd.api.types.is_numeric_dtype(values):
        raise BadInputError(f"{name!r} is not a number: it cannot be forecast or used as a "
                            "covariate.", "Choose a numeric column.")
    return values.astype(float)


def _stamp(ts: pd.Timestamp) -> str:
    """A time stamp as a person writes it: the date alone at midnight."""
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


def _no_duplicates(frame: pd.DataFrame, setup: ForecastSetup) -> None:
    dup = frame.duplicated(["unique_id", "ds"], keep=False)
    if not dup.any():
        return
    first = frame[dup].iloc[0]
    where = "" if not setup.series_column else f" of series {first['unique_id']!r}"
    hint = ("Name the column that tells the series apart (--series), or add up or "
            "average the rows of each time stamp first." if not setup.series_column else
            "Add up or average the rows of each time stamp first.")
    raise BadInputError(f"{int(dup.sum())} rows share a time stamp within one series "
                        f"(for example {_stamp(first['ds'])}{where}).", hint)


def _split_future(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (up to each series' last known value) and future rows; a gap inside a
    history is refused."""
    known = frame["y"].notna()
    last = frame[known].groupby("unique_id")["ds"].max()
    if len(last) < frame["unique_id"].nunique():
        empty = sorted(set(frame["unique_id"]) - set(last.index))[0]
        raise BadInputError(f"Series {empty!r} has no value of {target!r}.",
                            "Drop that series, or fill its values.")
    after = frame["ds"] > frame["unique_id"].map(last)
    history, future = frame[~after], frame[after]
    if history["y"].isna().any():
        gaps = history[history["y"].isna()]
        raise BadInputError(f"{len(gaps)} values of {target!r} are missing inside the "
                            f"history (for example at {gaps['ds'].iloc[0]:%Y-%m-%d}).",
                            "Fill them (for example with the value before) or drop those "
                            "rows; only rows after the last value may leave it empty.")
    return history.reset_index(drop=True), future.reset_index(drop=True)


def _infer_frequency(history: pd.DataFrame, time_column: str) -> str:
    found = set()
    for _, part in history.groupby("unique_id", sort=False):
        if len(part) < 3:
            continue
        with pd.option_context("future.infer_freq_returns_offset", True):
            freq = pd.infer_freq(pd.DatetimeIndex(part["ds"]))
        freq = getattr(freq, "freqstr", freq)
        if freq is None:
            steps = part["ds"].diff().dropna().value_counts()
            raise BadInputError(
                f"The time stamps in {time_column!r} are at irregular steps (the most "
                f"common steps: {', '.join(str(s) for s in steps.index[:3])}), so the "
                "frequency cannot be told.", "Fill the missing periods (one row per step), "
                "or aggregate to a regular step such as a day, a week or a month.")
        found.add(freq)
    if not found:
        raise BadInputError("Each series has fewer than 3 time stamps: too short to forecast.",
                            "Give a longer history.")
    if len(found) > 1:
        raise BadInputError(f"The series do not share one frequency ({', '.join(sorted(found))}).",
                            "Aggregate them to one step, or forecast them as separate tables.")
    return found.pop()


def _regular(frame: pd.DataFrame, frequency: str, setup: ForecastSetup) -> None:
    """Every series' time stamps lie on `frequency` with no step missing."""
    try:
        offset = pd.tseries.frequencies.to_offset(frequency)
    except ValueError:
        raise BadInputError(f"{frequency!r} is not a frequency.",
                            "Write one such as D (daily), W (weekly), MS (monthly), "
                            "QS (quarterly), YS (yearly) or h (hourly).") from None
    for uid, part in frame.groupby("unique_id", sort=False):
        expected = pd.date_range(part["ds"].iloc[0], periods=len(part), freq=offset)
        if len(expected) != len(part) or not (expected.values == part["ds"].values).all():
            bad = int(np.argmax(expected.values != part["ds"].values))
            where = f" in series {uid!r}" if setup.series_column else ""
            raise BadInputError(
                f"The time stamps{where} are irregular for a {frequency_words(frequency)} "
                f"frequency ({frequency}): after {_stamp(part['ds'].iloc[max(bad - 1, 0)])} "
                f"comes {_stamp(part['ds'].iloc[bad])}, not {_stamp(expected[bad])}.",
                "Fill the missing periods (one row per step), or set the frequency the "
                "data really has.")


def _long_enough(series: Series, setup: ForecastSetup) -> None:
    uid, shortest = min(series.lengths.items(), key=lambda kv: kv[1])
    where = f"series {uid!r}" if setup.series_column else "the series"
    if setup.horizon >= shortest:
        raise BadInputError(
            f"The horizon ({setup.horizon} steps) is longer than the history of {where} "
            f"({shortest} points).", f"Forecast fewer steps (at most about "
            f"{max(1, shortest // 4)}), or give a longer history.")
    need = MIN_TRAIN_POINTS + setup.horizon * setup.windows
    if shortest < need:
        fits = max_windows(shortest, setup.horizon)
        fix = (f"Use {fits} backtest window{'s' if fits > 1 else ''} (--windows {fits})"
               if fits >= 1 else f"Forecast fewer steps (at most "
               f"{max(1, shortest - MIN_TRAIN_POINTS)})")
        raise BadInputError(
            f"{where[:1].upper()}{where[1:]} has {shortest} points: too few for "
            f"{setup.windows} backtests of {setup.horizon} steps (they need "
            f"{need}: {MIN_TRAIN_POINTS} to train on, then {setup.windows} × "
            f"{setup.horizon}).", f"{fix}, or give a longer history.")


def max_windows(length: int, horizon: int) -> int:
    """The most backtest windows a history of `length` points allows."""
    return max(0, (length - MIN_TRAIN_POINTS) // horizon)
