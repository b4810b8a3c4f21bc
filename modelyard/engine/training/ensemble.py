"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions."""

from __future__ import annotations

from collections import Counter

import numpy as np

from modelyard.engine.training.metrics import better, score
from modelyard.schemas import Metric


def caruana(
    oofs: list[np.ndarray], y: np.ndarray, metric: Metric, n_classes: int,
    folds: list[np.ndarray], rounds: int = 30, patience: int = 3,
) -> tuple[dict[int, int], float]:
    """Pick members with replacement, each round adding the one that most improves the
    averaged prediction, scored as the trials are (the mean over validation folds).
    Returns {member index: times picked} at the best round, and that score."""

    def cv_score(pred: np.ndarray) -> float:
        return float(np.mean([score(metric, y[v], pred[v], n_classes) for v in folds]))

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
