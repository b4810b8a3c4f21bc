"""Multi-label scores: micro and macro F1, Hamming loss, per-label ROC AUC; and the
per-label decision thresholds chosen on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from modelyard.engine.training.metrics import f1_threshold
from modelyard.schemas import Metric


def decide(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """0/1 per (row, label): on where the label's probability reaches its threshold."""
    return (proba >= np.asarray(thresholds)[None, :]).astype(np.int8)


def label_aucs(Y: np.ndarray, proba: np.ndarray) -> list[float | None]:
    """Each label's ROC AUC (None where the rows hold a single value of it)."""
    out: list[float | None] = []
    for j in range(Y.shape[1]):
        if len(np.unique(Y[:, j])) < 2:
            out.append(None)
        else:
            out.append(float(skm.roc_auc_score(Y[:, j], proba[:, j])))
    return out


def score(metric: Metric, Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray) -> float:
    """The Plan's metric over every label: F1 and Hamming loss from the 0/1 decisions at
    `thresholds`, ROC AUC from the probabilities (the mean of the labels')."""
    if metric is Metric.roc_auc:
        aucs = [a for a in label_aucs(Y, proba) if a is not None]
        return float(np.mean(aucs)) if aucs else float("nan")
    predicted = decide(proba, thresholds)
    if metric is Metric.f1_micro:
        return float(skm.f1_score(Y, predicted, average="micro", zero_division=0))
    if metric is Metric.f1_macro:
        return float(skm.f1_score(Y, predicted, average="macro", zero_division=0))
    if metric is Metric.hamming_loss:
        return float(skm.hamming_loss(Y, predicted))
    raise ValueError(f"{metric.value} is not a multi-label metric")


def all_scores(Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    """Every multi-label metric at once (for the Model page and the bench)."""
    return {m.value: score(m, Y, proba, thresholds)
            for m in (Metric.f1_micro, Metric.f1_macro, Metric.hamming_loss, Metric.roc_auc)}


def choose_thresholds(Y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per label, the cut that maximises its F1 on the out-of-fold probabilities."""
    return np.array([f1_threshold(Y[:, j], proba[:, j])["threshold"]
                     for j in range(Y.shape[1])])


def per_label(Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray,
              names: list[str]) -> list[dict]:
    """One row per label: support (rows with it), threshold, F1 there and at 0.5, ROC AUC."""
    aucs = label_aucs(Y, proba)
    rows = []
    for j, name in enumerate(names):
        rows.append({
            "label": name, "support": int(Y[:, j].sum()), "rows": int(len(Y)),
            "threshold": float(thresholds[j]),
            "f1": float(skm.f1_score(Y[:, j], proba[:, j] >= thresholds[j], zero_division=0)),
            "f1_at_0.5": float(skm.f1_score(Y[:, j], proba[:, j] >= 0.5, zero_division=0)),
            "roc_auc": aucs[j],
        })
    return rows
