"""Stacking: a second layer fitted on the pool's out-of-fold predictions.

The greedy blend (`ensemble.py`) can only average its members with positive weights. A
second layer can also undo a member's poor calibration, weigh members per class, or
subtract one from another. It is a logistic regression on the members' log-odds
(classification) or a ridge regression on their predictions (regression): few settings,
fitted in seconds even on 100,000s of rows, and hard to overfit with a pool of at most
ten members.

Honesty: it is cross-validated on the out-of-fold matrix with the Run's own splits, so a
row is scored by a second layer that did not see it; its score is compared with the
blend's (or the best single model's), computed the same way, and it is kept only when
strictly better. (A row's out-of-fold prediction came from first-layer models that saw
the other folds, which the second layer trains on: a small optimism every stacking on
out-of-fold predictions shares, AutoGluon's included.)

Smallest that does as well: the second layer first takes every bagged member, then,
largest bag first, leaves out each member without which its cross-validated score is no
worse, while the time left allows one more cross-validation. A forest's bag on 11,551
rows was 650 MB; with two of them, a stack of ten scored RMSE 12.745 and made a 1.5 GB
model that peaked at 5 GB while delivered, where the same stack without the forests
scored 12.743. The choice is made on the same out-of-fold
predictions it is scored on, as the greedy blend's is.

For new rows, the first layer must predict as it did out of fold: each member is its bag
of fold models (`bagging.py`), so only members with a bag take part; a Run without bags
(a time split) has no stack, nor has a holdout (its out-of-fold predictions cover only
its validation rows: nothing to cross-validate a second layer on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.engine.training.evaluate import CVResult, predict_matrix
from modelyard.engine.training.metrics import better, score
from modelyard.engine.training.pool import Candidate
from modelyard.schemas import Metric, Task, TrialResult, TrialStatus

CLIP = 1e-6


@dataclass
class Stack:
    """The stack trial to record, and the candidate it becomes when chosen."""

    trial: TrialResult
    chosen: Candidate | None


def features(preds: list[np.ndarray], classification: bool, n_classes: int) -> np.ndarray:
    """The second layer's inputs: each member's log-odds per class (one column for two
    classes), or its predicted value."""
    if not classification:
        return np.column_stack([np.asarray(p, dtype=np.float64) for p in preds])
    cols = [p[:, 1:] if n_classes == 2 else p for p in preds]
    p = np.clip(np.hstack(cols), CLIP, 1 - CLIP)
    return np.log(p / (1 - p))


def make_stacker(classification: bool):
    """A fresh second layer (see the module docstring for the choice)."""
    if classification:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=1000)
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-3, 3, 13))


def stacker_predict(stacker, X: np.ndarray, classification: bool, n_classes: int):
    return predict_matrix(stacker, X, classification, n_classes)


def stack(pool: list[Candidate], to_beat: Candidate, y: np.ndarray, n_classes: int,
          splits, metric: Metric, task: Task, end: float | None = None) -> Stack | None:
    """The second layer over the bagged members of `pool`, cross-validated on their
    out-of-fold predictions; chosen when it beats `to_beat` (the blend, or the leader).
    With `end`, only the best members whose bags can be delivered by then (in the pool's
    order, best first). None when fewer than two members have a bag."""
    if len(splits) < 2:
        return None
    members = [c for c in pool if c.bag is not None and c.result is not None]
    if end is not None:
        room, kept = end - time.time(), []
        for c in members:
            if c.close_seconds(0.0) <= room:
                kept.append(c)
                room -= c.close_seconds(0.0)
        members = kept
    if len(members) < 2:
        return None
    classification = task.is_classification
    if classification and any(len(np.unique(y[t])) < 2 for t, _ in splits):
        return None
    started = time.time()
    value, oof, folds = _cross_validate(members, y, n_classes, splits, metric,
                                        classification)
    one = time.time() - started
    for c in sorted(members, key=bag_bytes, reverse=True):  # see the module docstring
        if len(members) <= 2:
            break
        # Leaving out members only shortens their delivery; trying costs one more CV.
        deliver = sum(m.close_seconds(0.0) for m in members)
        if end is not None and time.time() + one + deliver > end:
            break
        rest = [m for m in members if m is not c]
        tried = _cross_validate(rest, y, n_classes, splits, metric, classification)
        if np.isfinite(tried[0]) and not better(metric, value, tried[0]):
            members, (value, oof, folds) = rest, tried
    X = features([c.result.oof for c in members], classification, n_classes)
    wins = np.isfinite(value) and better(metric, value, to_beat.score)
    names = [c.model for c in members]
    kind = "logistic regression" if classification else "ridge regression"
    params = {"members": [{"model": c.model, "family": c.family, "params": c.params}
                          for c in members], "stacker": kind}
    beaten = "the blend of the best" if to_beat.family == "ensemble" else to_beat.model
    ahead = not np.isfinite(value) or better(metric, to_beat.score, value)
    note = "" if wins else (f" (not chosen: {beaten or 'the best model'} "
                            + ("scores better)" if ahead else "is as good)"))
    trial = TrialResult(
        model="stack", family="stack", number=0,
        state=TrialStatus.complete if wins else TrialStatus.not_chosen,
        cv_score=value, cv_std=float(np.std(folds)), fold_scores=folds,
        fit_seconds=sum(c.fit_seconds for c in members) * len(splits), params=params,
        message=f"stack: a {kind} over {len(names)} bagged models: {metric.value} "
                f"{value:.5g}{note}", layer=2)
    chosen = None
    if wins:
        final = make_stacker(classification).fit(X, y)
        chosen = Candidate("stack", "stack", params, value,
                           sum(c.fit_seconds for c in members),
                           CVResult(folds, oof, 0.0, 0.0, extra={"stacker": final,
                                                                  "bags": [c.bag for c in
                                                                           members]}))
    return Stack(trial, chosen)


def _cross_validate(members: list[Candidate], y: np.ndarray, n_classes: int, splits,
                    metric: Metric, classification: bool
                    ) -> tuple[float, np.ndarray, list[float]]:
    """The second layer over `members`, cross-validated on their out-of-fold predictions
    with the Run's splits: (mean score, its out-of-fold predictions, fold scores)."""
    X = features([c.result.oof for c in members], classification, n_classes)
    oof = np.zeros_like(members[0].result.oof, dtype=np.float64)
    folds = []
    for train_idx, valid_idx in splits:
        fitted = make_stacker(classification).fit(X[train_idx], y[train_idx])
        oof[valid_idx] = stacker_predict(fitted, X[valid_idx], classification, n_classes)
        folds.append(score(metric, y[valid_idx], oof[valid_idx], n_classes))
    return float(np.mean(folds)), oof, folds


def bag_bytes(member: Candidate) -> int:
    """The size of a member's bag of fold models on disk (what delivering it loads)."""
    if member.bag is None or not Path(member.bag).exists():
        return 0
    return sum(f.stat().st_size for f in Path(member.bag).rglob("*") if f.is_file())


class StackedModel:
    """The first layer's bagged models and the second layer over their predictions: a
    drop-in for one fitted pipeline."""

    def __init__(self, bases: list, stacker: Any, classification: bool, n_classes: int,
                 stacker_name: str = "second layer"):
        self.bases = bases
        self.stacker = stacker
        self.classification = classification
        self.n_classes = n_classes
        self.stacker_name = stacker_name
        if classification:
            self.classes_ = np.arange(n_classes)

    def _inputs(self, X) -> np.ndarray:
        preds = [predict_matrix(b, X, self.classification, self.n_classes)
                 for b in self.bases]
        return features(preds, self.classification, self.n_classes)

    def predict_proba(self, X) -> np.ndarray:
        return stacker_predict(self.stacker, self._inputs(X), True, self.n_classes)

    def predict(self, X) -> np.ndarray:
        if self.classification:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return np.asarray(self.stacker.predict(self._inputs(X)), dtype=np.float64)
