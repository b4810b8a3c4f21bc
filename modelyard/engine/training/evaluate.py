"""Fit one configuration fold by fold; out-of-fold predictions and timings come back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from modelyard.engine.training.data import TrainingData
from modelyard.engine.training.families.base import FitContext, ModelFamily
from modelyard.engine.training.folds import FoldCache, prepare
from modelyard.engine.training.metrics import score
from modelyard.engine.training.preprocess import build_preprocessor
from modelyard.schemas import Metric

TRAIN_SCORE_ROWS = 2000


class OutOfTime(Exception):
    """The search deadline passed in the middle of a cross-validation."""


@dataclass
class CVResult:
    fold_scores: list[float]
    oof: np.ndarray
    fit_seconds: float  # mean per fold
    predict_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    train_scores: list[float] = field(default_factory=list)  # on (a sample of) the fit rows
    # What the folds learnt for the final model (a booster's number of rounds, found by
    # early stopping on each validation fold), averaged: see `ModelFamily.learnt_params`.
    learnt: dict[str, Any] = field(default_factory=dict)
    # The folder holding the k fold models (`bagging.py`), when they were kept.
    bag: str | None = None
    # Seconds spent writing them: what delivering the bag will cost, scaled
    # (`pool.Candidate.close_seconds`).
    keep_seconds: float = 0.0

    @property
    def train_mean(self) -> float | None:
        return float(np.mean(self.train_scores)) if self.train_scores else None

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))


def make_pipeline(family: ModelFamily, params: dict, ctx: FitContext, data: TrainingData):
    return Pipeline([("prepare", make_preprocessor(family, data)),
                     ("model", family.build(params, ctx))])


def predict_matrix(pipeline, X, classification: bool, n_classes: int) -> np.ndarray:
    """Probabilities (n, n_classes) in class-code order, or predicted values (n,), from a
    pipeline or a bare estimator."""
    if not classification:
        return np.asarray(pipeline.predict(X), dtype=np.float64)
    proba = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 models drift off 1 by ~1e-7
    seen = pipeline.classes_
    if len(seen) == n_classes:
        return proba
    # A fold may miss a rare class: place the columns it knows, zero elsewhere.
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(seen, dtype=int)] = proba
    return full


def make_preprocessor(family: ModelFamily, data: TrainingData):
    return build_preprocessor(family.preprocessing, data.features.numeric,
                              data.features.categorical, data.features.datetime,
                              data.features.text)


def cross_validate(
    family: ModelFamily,
    params: dict,
    ctx: FitContext,
    data: TrainingData,
    splits: list[tuple[np.ndarray, np.ndarray]],
    metric: Metric,
    deadline: float | None = None,
    after_fold: Callable[[int, float], None] | None = None,
    folds: FoldCache | None = None,
    keep: Path | None = None,
    seconds: float | None = None,
) -> CVResult:
    """Fit and score `params` on each split. `after_fold(i, mean so far)` may raise to
    stop early (pruning); past `deadline` the CV stops with `OutOfTime`. With `folds`,
    each fold's preprocessing is fitted once per kind and shared by later trials.

    With `seconds`, a family that `cuts_short` ends each fold's boosting once the folds
    so far have had their share of them (fold i of k: i/k of `seconds` since the start,
    not counting the time spent preparing the folds' features, which the fold cache keeps
    for later trials), keeping the rounds it has: a slow booster's trial then gives a
    score in its share of the time instead of taking the rest of the budget and giving
    none. The result's `extra["cut_short"]` counts the folds it cut.

    A family that stops early does so on the fold's validation rows, the rows it is then
    scored on: the out-of-fold score is a little optimistic for it (one number, the
    round count, is chosen on those rows), as in AutoGluon's bagging; the final model
    uses the mean round count and never sees a validation fold.

    With `keep`, each fold's fitted pipeline is written there as soon as it is fitted
    (`bagging.py`): the bag the delivered model may be."""
    classification = ctx.task.is_classification
    shape = (len(data.y), data.n_classes) if classification else (len(data.y),)
    oof = np.full(shape, np.nan)
    fold_scores, fit_times, predict_times, train_scores = [], [], [], []
    learnt: list[dict[str, Any]] = []
    keep_seconds = 0.0
    cv_started, cut_short, preparing = time.time(), 0, 0.0
    if not family.cuts_short:
        seconds = None
    for fold, (train_idx, valid_idx) in enumerate(splits):
        if deadline is not None and time.time() > deadline:
            raise OutOfTime()
        # The score on rows the model has seen: far above the validation score means
        # overfitting, both low means underfitting. A sample keeps it cheap.
        seen_at = np.arange(0, len(train_idx), max(1, len(train_idx) // TRAIN_SCORE_ROWS))
        seen = train_idx[seen_at]
        make = partial(prepare, make_preprocessor(family, data), data.X, data.y, train_idx,
                       valid_idx, seen_at)
        prep_started = time.time()
        prepared = make() if folds is None else folds.get(family.preprocessing, fold, make)
        preparing += time.time() - prep_started
        model = family.build(params, ctx)
        rows_train, rows_valid, rows_seen = prepared.train, prepared.valid, prepared.seen
        prep_fit, prep_valid = prepared.fit_seconds, prepared.valid_seconds
        started = time.perf_counter()
        until = None if seconds is None \
            else cv_started + preparing + (fold + 1) * seconds / len(splits)
        family.fit(model, rows_train, data.y[train_idx], deadline=deadline,
                   valid=(rows_valid, data.y[valid_idx]), until=until)
        cut_short += until is not None and time.time() > until
        fit_times.append(time.perf_counter() - started + prep_fit)
        started = time.perf_counter()
        pred = predict_matrix(model, rows_valid, classification, data.n_classes)
        predict_times.append(time.perf_counter() - started + prep_valid)
        oof[valid_idx] = pred
        learnt.append(family.learnt_params(model))
        if keep is not None:
            from modelyard.engine.training.bagging import discard, keep_fold

            started = time.perf_counter()
            try:
                keep_fold(keep, fold, Pipeline([("prepare", prepared.fitted),
                                                ("model", model)]))
                keep_seconds += time.perf_counter() - started
            except OSError:  # no room for the bag (a full disk): refitted if delivered
                discard(keep)
                keep = None
        fold_scores.append(score(metric, data.y[valid_idx], pred, data.n_classes))
        seen_pred = predict_matrix(model, rows_seen, classification, data.n_classes)
        try:
            train_scores.append(score(metric, data.y[seen], seen_pred, data.n_classes))
        except ValueError:  # e.g. a sample with a single class for ROC AUC
            pass
        if after_fold is not None:
            after_fold(len(fold_scores) - 1, float(np.mean(fold_scores)))
    return CVResult(fold_scores, oof, float(np.mean(fit_times)), float(np.mean(predict_times)),
                    extra={"cut_short": cut_short} if cut_short else {},
                    train_scores=train_scores, learnt=mean_learnt(learnt),
                    bag=str(keep) if keep is not None else None,
                    keep_seconds=keep_seconds)


def mean_learnt(per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """The settings every fold learnt, averaged for the final model (whole numbers stay
    whole, rounded up: the final model fits on more rows than any fold)."""
    if not per_fold or not all(per_fold):
        return {}
    out: dict[str, Any] = {}
    for name in per_fold[0]:
        values = [p[name] for p in per_fold if name in p]
        mean = float(np.mean(values))
        out[name] = int(np.ceil(mean)) if all(isinstance(v, int) for v in values) else mean
    return out
