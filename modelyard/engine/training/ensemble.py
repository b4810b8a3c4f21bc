"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.stats import rankdata

from modelyard.engine.training.metrics import better, score
from modelyard.schemas import Metric


def caruana(
    oofs: list[np.ndarray], y: np.ndarray, metric: Metric, n_classes: int,
    folds: list[np.ndarray], rounds: int = 30, patience: int = 3,
) -> tuple[dict[int, int], float]:
    """Pick members with replacement, each round adding the one that most improves the
    averaged prediction, scored as the trials are (the mean over validation folds).
    Returns {member index: times picked} at the best round, and that score."""

    cv_score = fold_scorer(metric, y, folds, n_classes)
    total = np.zeros_like(oofs[0])
    picked: Counter[int] = Counter()
    best: tuple[float, dict[int, int]] | None = None
    since_best = 0
    for step in range(1, rounds + 1):
        candidates = [cv_score((total + p) / step) for p in oofs]
        order = np.argsort(candidates)
        i = int(order[-1] if metric.greater_is_better else order[0])
        total += oofs[i]
        picked[i] += 1
        if best is None or better(metric, candidates[i], best[0]):
            best, since_best = (candidates[i], dict(picked)), 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    assert best is not None
    return best[1], float(best[0])


def fold_scorer(metric: Metric, y: np.ndarray, folds: list[np.ndarray], n_classes: int):
    """pred -> the metric's mean over `folds`, as `score` gives it. The greedy loop calls
    it members x rounds times (about 1,400 fold scores for 9 members): sklearn's checks
    cost ~9 ms a call, 4-5 s a blend on a busy machine, so the common metrics are
    computed here directly on the folds' precomputed parts (equal to `score`, tested)."""
    parts = [(v, y[v]) for v in folds]
    fallback = _any_metric(metric, parts, n_classes)
    if metric is Metric.roc_auc and n_classes == 2:
        # Mann-Whitney: the positives' mean rank among all, ties sharing their rank.
        counts = [(int(t.sum()), len(t) - int(t.sum())) for _, t in parts]
        if all(p and n for p, n in counts):
            def auc(pred: np.ndarray) -> float:
                if not np.isfinite(pred).all():
                    return fallback(pred)  # which says what is wrong
                out = []
                for (v, t), (p, n) in zip(parts, counts, strict=True):
                    ranks = rankdata(pred[v, 1])
                    out.append((ranks[t == 1].sum() - p * (p + 1) / 2) / (p * n))
                return float(np.mean(out))
            return auc
    if metric is Metric.log_loss:
        rows = [(v, np.arange(len(v)), t.astype(int)) for v, t in parts]

        def log_loss(pred: np.ndarray) -> float:
            if not np.isfinite(pred).all():
                return fallback(pred)
            out = []
            for v, i, t in rows:
                p = np.clip(pred[v], 1e-15, 1)
                out.append(-np.mean(np.log(p[i, t] / p.sum(axis=1))))
            return float(np.mean(out))
        return log_loss
    if metric is Metric.rmse:
        def rmse(pred: np.ndarray) -> float:
            if not np.isfinite(pred).all():
                return fallback(pred)
            return float(np.mean([np.sqrt(np.mean((pred[v] - t) ** 2)) for v, t in parts]))
        return rmse

    return fallback


def _any_metric(metric: Metric, parts, n_classes: int):
    def any_metric(pred: np.ndarray) -> float:
        return float(np.mean([score(metric, t, pred[v], n_classes) for v, t in parts]))
    return any_metric


class WeightedEnsemble:
    """Fitted pipelines averaged with weights; a drop-in for one fitted pipeline."""

    def __init__(self, members: list, weights: list[float], classification: bool):
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        self.classification = classification
        if classification:
            self.classes_ = members[0].classes_

    def predict_proba(self, X) -> np.ndarray:
        return sum(w * np.asarray(m.predict_proba(X)) for m, w in
                   zip(self.members, self.weights, strict=True))

    def predict(self, X) -> np.ndarray:
        if self.classification:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return sum(w * np.asarray(m.predict(X), dtype=np.float64) for m, w in
                   zip(self.members, self.weights, strict=True))
