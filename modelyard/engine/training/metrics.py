"""Scoring a prediction by the Plan's metric; classifiers are scored from probabilities."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from modelyard.schemas import Metric


def score(metric: Metric, y_true: np.ndarray, pred: np.ndarray, n_classes: int = 0) -> float:
    """The metric's raw value. For classification `pred` is an (n, n_classes) probability
    matrix and `y_true` holds class indices; for regression both are values."""
    if metric is Metric.rmse:
        return float(np.sqrt(skm.mean_squared_error(y_true, pred)))
    if metric is Metric.mae:
        return float(skm.mean_absolute_error(y_true, pred))
    if metric is Metric.r2:
        return float(skm.r2_score(y_true, pred))
    labels = np.arange(n_classes or pred.shape[1])
    if metric is Metric.log_loss:
        return float(skm.log_loss(y_true, np.clip(pred, 1e-15, 1), labels=labels))
    if metric is Metric.roc_auc:
        if pred.shape[1] == 2:
            return float(skm.roc_auc_score(y_true, pred[:, 1]))
        return float(skm.roc_auc_score(y_true, pred, multi_class="ovr", labels=labels))
    predicted = pred.argmax(axis=1)
    if metric is Metric.accuracy:
        return float(skm.accuracy_score(y_true, predicted))
    if metric is Metric.f1_macro:
        return float(skm.f1_score(y_true, predicted, average="macro", labels=labels))
    raise ValueError(f"unknown metric {metric}")


def worst(metric: Metric) -> float:
    return -np.inf if metric.greater_is_better else np.inf


def better(metric: Metric, a: float, b: float) -> bool:
    """Whether score `a` beats score `b`."""
    return a > b if metric.greater_is_better else a < b


def f1_threshold(y_true: np.ndarray, positive_proba: np.ndarray) -> dict[str, float]:
    """The decision threshold that maximises F1 on out-of-fold predictions, next to F1
    at the default 0.5 (for imbalanced binary problems the two differ a lot)."""
    mask = ~np.isnan(positive_proba)
    y, p = y_true[mask], positive_proba[mask]
    precision, recall, thresholds = skm.precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return {
        "threshold": float(thresholds[best]) if len(thresholds) else 0.5,
        "f1_at_threshold": float(f1[best]),
        "f1_at_0.5": float(skm.f1_score(y, (p >= 0.5).astype(int), zero_division=0)),
    }
