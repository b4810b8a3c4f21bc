"""Forecasters: families like the others (a Plan names them, the registry describes them),
but the forecast search (`engine/forecast`) backtests them on series, so `build` returns
the forecasting function (or an unfitted LightGBM-on-lags model), not a table estimator.
Each chooses its own form on each series (by AICc), so there is nothing to search."""

from __future__ import annotations

from typing import Any

from modelyard.engine.training.families.base import FitContext, ModelFamily, Space


class SeriesFamily(ModelFamily):
    modality = "series"
    preprocessing = "none"  # the forecast search reads the series itself
    takes_limits = False
    hold_back_words = "a simpler model form"

    def search_space(self, ctx: FitContext) -> Space:
        return {}

    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        return {}

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.forecast import models

        return models.LOCAL[self.name]


class SeasonalNaive(SeriesFamily):
    name = "seasonal_naive"
    title = "Seasonal naive"
    summary = "repeats the last season (the last year of months, the last week of days)"
    speed = "instant"
    accuracy = "the baseline every forecast should beat"
    interpretability = "complete: the forecast is last season's values"
    memory = "tiny"
    why = "The baseline: a forecast that does not beat it is not worth having."
    pros = ("instant and impossible to overfit", "the yardstick for the others")
    cons = ("ignores trends and changes",)


class ETS(SeriesFamily):
    name = "ets"
    title = "Exponential smoothing (ETS)"
    summary = "level, trend and season smoothed over time; the form chosen per series"
    speed = "fast"
    accuracy = "strong on series with a steady trend and season"
    interpretability = "high: a level, a trend and a season"
    memory = "small"
    why = "A reliable statistical forecaster for trends and seasons."
    pros = ("strong on regular seasonal series", "chooses its form on each series")
    cons = ("one series at a time: learns nothing across series",)


class Theta(SeriesFamily):
    name = "theta"
    title = "Theta method"
    summary = "a damped trend line blended with smoothing, after removing the season"
    speed = "fast"
    accuracy = "a strong, simple benchmark, good on noisy series"
    interpretability = "high: a trend line and a smoothed level"
    memory = "small"
    why = "A simple method that is hard to beat on noisy series."
    pros = ("robust on noisy and short series",)
    cons = ("assumes one trend direction",)


class ARIMA(SeriesFamily):
    name = "arima"
    title = "ARIMA"
    summary = "past values and past errors, after differencing; the order chosen per series"
    speed = "moderate: several fits per series"
    accuracy = "good on series whose past errors carry information"
    interpretability = "moderate: a handful of coefficients"
    memory = "small"
    why = "A classic statistical model that reads the series' own correlations."
    pros = ("captures short-term correlations",)
    cons = ("slower than smoothing, above all with long seasons",)


class LightGBMLags(SeriesFamily):
    name = "lightgbm_lags"
    title = "LightGBM on lags and calendar"
    summary = "gradient-boosted trees on recent values, the season's lag and the calendar"
    speed = "fast"
    accuracy = "strong with many related series or known covariates"
    interpretability = "low: hundreds of trees"
    memory = "moderate"
    why = "Learns across all series at once and uses known covariates."
    pros = ("learns across series", "uses known-in-advance covariates")
    cons = ("needs more history than the statistical models",)
    flexible = True
    packages = ("lightgbm",)

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.forecast.models import LagBoost

        return LagBoost


SERIES_FAMILIES = [SeasonalNaive, ETS, Theta, ARIMA, LightGBMLags]
