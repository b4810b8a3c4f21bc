"""The multi-label search: every (family, strategy) at its defaults first, then Optuna
TPE round-robin until the search time is over. A trial is cross-validated: each fold's
features are prepared once per kind of preprocessing and shared by every trial (the
labels share them too: that is the point of one model per label over one preparation).
Each trial is scored with per-label thresholds chosen on its own out-of-fold
probabilities, so the score a person sees is the score at the thresholds the model
keeps. Every trial ends in the journal, on the same leaderboard as the tabular ones."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from modelyard.engine.multilabel.metrics import choose_thresholds, score
from modelyard.engine.multilabel.model import (
    STRATEGIES,
    STRATEGY_WORDS,
    label_estimator,
    label_proba,
    preprocessing_for,
    preprocessor,
)
from modelyard.engine.training import families
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.metrics import better, worst
from modelyard.engine.training.search import narrow, suggest
from modelyard.schemas import Plan, Task, TrialResult, TrialStatus

# The share of the budget the search may use; the rest refits the winner and predicts.
SEARCH_SHARE = 0.7
# A booster without early stopping (which needs one target) gets this many trees unless
# its search says otherwise.
DEFAULT_TREES = 200

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Found:
    """The best trial so far: what to refit, and its out-of-fold probabilities."""

    model: str = ""
    family: str = ""
    strategy: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    score: float = float("nan")
    oof: np.ndarray | None = None
    thresholds: np.ndarray | None = None


def candidates(plan: Plan) -> list[tuple[str, str]]:
    """(family, strategy) pairs to search: the baseline only one per label (a chain of
    most-frequent answers is the same answer)."""
    out = []
    for choice in plan.families:
        for strategy in STRATEGIES:
            if choice.family == "dummy" and strategy == "chain":
                continue
            out.append((choice.family, strategy))
    return out


def with_trees(family, params: dict[str, Any]) -> dict[str, Any]:
    if "n_estimators" in family.learnt and "n_estimators" not in params:
        return params | {"n_estimators": DEFAULT_TREES}
    return params


class LabelSearch:
    def __init__(self, plan: Plan, X, Y: np.ndarray, features, splits, journal,
                 started: float, threads: int = 1):
        self.plan, self.X, self.Y, self.features = plan, X, Y, features
        self.splits, self.journal, self.started = splits, journal, started
        self.threads = max(1, threads)
        self.deadline = started + SEARCH_SHARE * plan.budget_seconds
        self.best = Found(score=worst(plan.metric))
        self.trial_count = 0
        self._prepared: dict[tuple[str, int], tuple[Any, Any, float]] = {}
        self._ctx = FitContext(task=Task.binary, n_rows=len(Y), n_classes=2, n_jobs=1,
                               seed=plan.seed)

    def run(self) -> Found:
        pairs = candidates(self.plan)
        limits = {c.family: c for c in self.plan.families}
        for family, strategy in pairs:  # the defaults first: the baseline a person expects
            if self._late():
                break
            self._trial(family, strategy, families.get(family).default_params(self._ctx))
        studies = {p: optuna.create_study(
            direction="maximize" if self.plan.metric.greater_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(seed=self.plan.seed)) for p in pairs}
        counts = dict.fromkeys(pairs, 1)
        while time.time() < self.deadline:
            open_pairs = [p for p in pairs if counts[p] < limits[p[0]].max_trials
                          and narrow(families.get(p[0]).search_space(self._ctx),
                                     limits[p[0]].limits)]
            if not open_pairs:
                break
            for pair in open_pairs:
                if time.time() >= self.deadline:
                    break
                space = narrow(families.get(pair[0]).search_space(self._ctx),
                               limits[pair[0]].limits)
                trial = studies[pair].ask()
                value = self._trial(*pair, suggest(trial, space))
                if value is None:
                    studies[pair].tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    studies[pair].tell(trial, value)
                counts[pair] += 1
        return self.best

    def _late(self) -> bool:
        """Past the search time, once some model has finished: a run always ends with
        a model (on a loaded machine the first trial may finish after the deadline)."""
        return bool(self.best.model) and time.time() >= self.deadline

    # -- one trial --------------------------------------------------------------------
    def _fold(self, kind: str, fold: int):
        """Fold `fold`'s prepared train and validation features for `kind`, made once."""
        key = (kind, fold)
        if key not in self._prepared:
            train, valid = self.splits[fold]
            began = time.perf_counter()
            prep = preprocessor(kind, self.features)
            rows_train = prep.fit_transform(self.X.iloc[train])
            rows_valid = prep.transform(self.X.iloc[valid])
            self._prepared[key] = (rows_train, rows_valid, time.perf_counter() - began)
        return self._prepared[key]

    def _trial(self, family_name: str, strategy: str, params: dict) -> float | None:
        family = families.get(family_name)
        number = self.trial_count
        self.trial_count += 1
        model = (f"{family_name}_{number}" if strategy == "per_label"
                 else f"{family_name}_chain_{number}")
        params = with_trees(family, dict(params))
        shown = params | {"strategy": strategy}
        kind = preprocessing_for(family, strategy)
        oof = np.full(self.Y.shape, np.nan)
        fit_times, predict_times = [], []
        try:
            for fold, (train, valid) in enumerate(self.splits):
                if self._late():
                    return self._ended(model, family_name, number, shown,
                                       TrialStatus.pruned,
                                       f"{model} stopped: the time budget ran out")
                rows_train, rows_valid, prep_seconds = self._fold(kind, fold)
                estimator = label_estimator(family, params, strategy, self.plan.seed,
                                            self.threads)
                began = time.perf_counter()
                estimator.fit(rows_train, self.Y[train])
                fit_times.append(time.perf_counter() - began + prep_seconds)
                began = time.perf_counter()
                oof[valid] = label_proba(estimator, rows_valid)
                predict_times.append(time.perf_counter() - began)
        except Exception as exc:  # a failing family is a stored state, not a crash
            return self._ended(model, family_name, number, shown, TrialStatus.failed,
                               f"{model} failed: {type(exc).__name__}: {exc}")
        seen = ~np.isnan(oof).any(axis=1)
        thresholds = choose_thresholds(self.Y[seen], oof[seen])
        fold_scores = [score(self.plan.metric, self.Y[v], oof[v], thresholds)
                       for _, v in self.splits]
        value = float(np.mean(fold_scores))
        if not np.isfinite(value):
            return self._ended(model, family_name, number, shown, TrialStatus.failed,
                               f"{model} gave a non-finite score")
        result = TrialResult(
            model=model, family=family_name, number=number, params=shown,
            state=TrialStatus.complete, cv_score=value, cv_std=float(np.std(fold_scores)),
            fold_scores=fold_scores, fit_seconds=float(np.sum(fit_times)),
            predict_seconds=float(np.mean(predict_times)),
            message=f"{model} ({STRATEGY_WORDS[strategy]}): {self.plan.metric.value} "
                    f"{value:.5g} with per-label thresholds")
        self.journal.trial(result)
        if better(self.plan.metric, value, self.best.score) or not self.best.model:
            self.best = Found(model, family_name, strategy, params, value, oof, thresholds)
        self._progress()
        return value

    def _ended(self, model, family, number, params, state, message) -> None:
        self.journal.trial(TrialResult(model=model, family=family, number=number,
                                       params=params, state=state, message=message))
        self._progress()
        return None

    def _progress(self) -> None:
        elapsed = time.time() - self.started
        self.journal.emit(
            "progress", f"{self.trial_count} trials, best {self.best.model or '—'}",
            phase="search", fraction=min(1.0, elapsed / self.plan.budget_seconds),
            elapsed=elapsed, best_model=self.best.model or None,
            best_score=self.best.score if self.best.model else None)
