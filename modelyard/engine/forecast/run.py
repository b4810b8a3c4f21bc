"""The forecasting branch of the worker: backtest each family, blend the best, save the
bundle, forecast the history's next steps.

Each family is one trial: its "search" is the model's own (ETS and ARIMA choose their
form by AICc on each series), so there is nothing for Optuna to tune. Families run in the
Plan's order until the budget is spent; one that fails is recorded as failed and the run
goes on. The ensemble is a trial too ("not chosen" when it does not beat its best member).
As in the other branches, the bundle is written aside and swapped in whole, and the
predictions renamed into place.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.engine.errors import ModelyardError
from modelyard.engine.forecast import backtest as bt
from modelyard.engine.forecast import models
from modelyard.engine.forecast.forecaster import KEEP_POINTS, Forecaster
from modelyard.engine.forecast.series import Series, frequency_words, read_series
from modelyard.engine.training.bundle import save_bundle
from modelyard.engine.training.data import read_table
from modelyard.schemas import Plan, RunRecord, TrialResult, TrialStatus
from modelyard.storage.files import replacing
from modelyard.storage.runfolder import JournalWriter, RunFolder


def future_rows(history: pd.DataFrame, horizon: int, windows: int, k: int) -> pd.DataFrame:
    """The rows window `k` forecasts (for their covariates)."""
    back = horizon * (windows - k)
    return pd.concat([part.iloc[len(part) - back:len(part) - back + horizon]
                      for _, part in history.groupby("unique_id", sort=False)],
                     ignore_index=True)


def members_of(weights: dict[str, float]) -> list[dict[str, Any]]:
    """A blend's members as the tabular ensembles record them (model, family, weight)."""
    return [{"model": n, "family": n, "params": {}, "weight": round(w, 4)}
            for n, w in weights.items()]


class ForecastSearch:
    """Backtest every family of the Plan, then choose a model or a blend."""

    def __init__(self, plan: Plan, series: Series, journal: JournalWriter | None,
                 started: float, threads: int = 1):
        self.plan, self.series, self.journal = plan, series, journal
        self.setup = plan.forecast
        self.deadline = started + plan.budget_seconds
        self.threads = threads
        self.truth = bt.truth_of(series.frame, self.setup.horizon, self.setup.windows,
                                 series.season)
        self.done: dict[str, bt.Backtest] = {}
        self.results: dict[str, float] = {}
        self.trials: list[TrialResult] = []
        self.notes: list[str] = []

    def _emit(self, kind: str, message: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.emit(kind, message, **data)

    def _record(self, result: TrialResult) -> None:
        self.trials.append(result)
        if self.journal is not None:
            self.journal.trial(result)

    def lag_model(self, history: pd.DataFrame) -> models.LagBoost:
        return models.LagBoost(self.series.season, self.series.frequency,
                               self.setup.covariates, seed=self.plan.seed,
                               n_jobs=self.threads).fit(history)

    def _forecaster_of(self, family: str):
        h, m, w = self.setup.horizon, self.series.season, self.setup.windows
        if family == "lightgbm_lags":
            return lambda train, k: self.lag_model(train).forecast(
                train, h, future_rows(self.series.frame, h, w, k))
        return lambda train, k: models.forecast_local(family, train, h, m, self.notes,
                                                      deadline=self.deadline)

    def run(self) -> tuple[dict[str, float], float, list[float]]:
        """(the chosen weights by family, its backtest score, its score per window)."""
        names = [c.family for c in self.plan.families]
        for number, name in enumerate(names):
            left = self.deadline - time.time()
            if left <= 0 and self.results:
                self._record(TrialResult(model=name, family=name, number=number,
                                         state=TrialStatus.pruned,
                                         message="not tried: the time budget was spent"))
                continue
            self._emit("progress", f"backtesting {name} ({number + 1} of {len(names)})",
                       phase="search", fraction=number / len(names))
            began = time.time()
            try:
                found = bt.run_backtests(self.series.frame, self.truth,
                                         self._forecaster_of(name))
                value, per_window = bt.score(self.truth, found, self.plan.metric)
            except models.OutOfTime as exc:
                self._record(TrialResult(model=name, family=name, number=number,
                                         state=TrialStatus.pruned, message=str(exc),
                                         fit_seconds=time.time() - began))
                continue
            except Exception as exc:
                self._record(TrialResult(model=name, family=name, number=number,
                                         state=TrialStatus.failed,
                                         message=f"{type(exc).__name__}: {exc}",
                                         fit_seconds=time.time() - began))
                continue
            self.done[name], self.results[name] = found, value
            self._record(TrialResult(
                model=name, family=name, number=number, state=TrialStatus.complete,
                cv_score=value, cv_std=float(pd.Series(per_window).std(ddof=0)),
                fold_scores=per_window, fit_seconds=time.time() - began,
                message=f"{self.plan.metric.value} {value:.4g} over "
                        f"{self.setup.windows} backtest window(s)"))
        if not self.results:
            raise ModelyardError("No forecasting model could be backtested: every family "
                                 "failed.", "Look at the failed trials.")
        best = min(self.results, key=self.results.get)
        chosen = ({best: 1.0}, self.results[best],
                  bt.score(self.truth, self.done[best], self.plan.metric)[1])
        if len(self.results) > 1:
            blend = bt.choose_ensemble(self.truth, self.done, self.results, self.plan.metric)
            members = blend[0] if blend else {
                n: 1.0 for n in sorted(self.results, key=self.results.get)[:2]}
            value = blend[1] if blend else bt.score(
                self.truth, bt.blend({n: self.done[n] for n in members}, members),
                self.plan.metric)[0]
            self._record(TrialResult(
                model="ensemble", family="ensemble", number=len(names),
                state=TrialStatus.complete if blend else TrialStatus.not_chosen,
                cv_score=value, fold_scores=blend[2] if blend else [],
                params={"members": members_of(members)},
                message=("a blend of " + ", ".join(members) + " weighted by backtest score"
                         + ("" if blend else f": it does not beat {best} alone"))))
            if blend:
                chosen = blend
        return chosen

    def chosen_backtest(self, weights: dict[str, float]) -> bt.Backtest:
        return bt.blend({n: self.done[n] for n in weights}, weights)

    def fit(self, weights: dict[str, float]) -> Forecaster:
        """The final forecaster: the members on the whole history, with the widths."""
        widths = bt.conformal(self.truth, self.chosen_backtest(weights))
        lag = self.lag_model(self.series.frame) if "lightgbm_lags" in weights else None
        return Forecaster(self.setup, self.plan.target, self.series.frequency,
                          self.series.season, weights, widths, lag)

    def backtest_frame(self, weights: dict[str, float]) -> pd.DataFrame:
        """Each window's forecast next to what happened, for the Model page's plot."""
        found = self.chosen_backtest(weights)
        rows = []
        for uid, part in self.series.frame.groupby("unique_id", sort=False):
            for k in range(self.setup.windows):
                key = (str(uid), k)
                back = self.setup.horizon * (self.setup.windows - k)
                stamps = part["ds"].iloc[len(part) - back:len(part) - back
                                         + self.setup.horizon]
                rows.append(pd.DataFrame({"unique_id": str(uid), "window": k, "ds": stamps,
                                          "actual": self.truth.actual[key],
                                          "forecast": found.forecasts[key]}))
        return pd.concat(rows, ignore_index=True)


def train_series(folder: RunFolder, plan: Plan, record: RunRecord, journal: JournalWriter,
                 started: float, dataset_dir: Path) -> dict[str, Any]:
    """Backtest, choose, save the bundle and the forecast of the history's next steps."""
    table = read_table(dataset_dir / "train.parquet")
    series = read_series(table, plan.target, plan.forecast)
    setup = plan.forecast
    journal.emit("log", f"{len(series.ids)} series, {len(series.frame)} points, "
                        f"{frequency_words(series.frequency)} ({series.frequency}, season "
                        f"{series.season}); {setup.windows} backtest window(s) of "
                        f"{setup.horizon} steps")
    search = ForecastSearch(plan, series, journal, started, int(record.threads or 1))
    weights, value, per_window = search.run()
    for note in search.notes[:20]:
        journal.emit("log", note, level="warning")
    model = "ensemble" if len(weights) > 1 else next(iter(weights))
    journal.emit("progress", f"refitting {model} on the whole history", phase="refit",
                 fraction=1.0)
    forecaster = search.fit(weights)
    with folder.writing_model() as staging:
        save_bundle(staging, forecaster, {
            "kind": "forecast", "run_id": folder.id, "model": model,
            "family": "ensemble" if len(weights) > 1 else model,
            "params": {"members": members_of(weights)} if len(weights) > 1 else {},
            "task": plan.task.value, "metric": plan.metric.value, "cv_score": value,
            "target": plan.target, "plan": plan.model_dump(mode="json"),
            "forecast": {**setup.model_dump(mode="json"), "frequency": series.frequency,
                         "season": series.season, "window_scores": per_window}})
        # Beside the pipeline, for the Model page (the manifest seals them with it).
        search.backtest_frame(weights).to_parquet(staging / "backtests.parquet", index=False)
        series.frame.groupby("unique_id", sort=False).tail(KEEP_POINTS).to_parquet(
            staging / "history.parquet", index=False)
        from modelyard.engine.training.bundle import seal

        seal(staging)
    folder.update(best_model=model, best_score=value,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {model}", model=model, cv_score=value)
    predictions = forecaster.frame(series.frame, series.future)
    with replacing(folder.predictions_path) as tmp:
        predictions.to_csv(tmp, index=False)
    return {"model": model, "score": value}
