"""How good the winner is, from its out-of-fold predictions (`model/oof.parquet`).

Every row was predicted by a model that did not see it, so these are honest estimates of
how the model does on new rows like the training ones. Curves are thinned to a few
hundred points: enough to draw, small enough for a page or a report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

MAX_POINTS = 400


def _thin(*arrays: np.ndarray, keep: int = MAX_POINTS) -> list[list[float]]:
    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, keep).round().astype(int)) if n > keep \
        else np.arange(n)
    return [np.asarray(a)[idx].tolist() for a in arrays]


def proba_columns(classes: list[Any]) -> list[str]:
    return [f"proba_{c}" for c in classes]


def scored_rows(oof: pd.DataFrame, classes: list[Any]) -> pd.DataFrame:
    """Rows that have an out-of-fold prediction (a holdout validation leaves the training
    part empty)."""
    cols = proba_columns(classes) if classes else ["prediction"]
    return oof.dropna(subset=cols).reset_index(drop=True)


def class_codes(y: pd.Series, classes: list[Any]) -> np.ndarray:
    lookup = {str(c): i for i, c in enumerate(classes)}
    return np.array([lookup[str(v)] for v in y], dtype=np.int64)


def _scored(oof: pd.DataFrame, classes: list[Any]):
    """The scored rows of a classifier, its probability matrix and the true class codes."""
    rows = scored_rows(oof, classes)
    return rows, rows[proba_columns(classes)].to_numpy(), class_codes(rows["y"], classes)


def confusion(oof: pd.DataFrame, classes: list[Any],
              threshold: float | None = None) -> dict[str, Any]:
    """Counts of true class (rows) against predicted class (columns). For two classes,
    `threshold` is the probability of the second class above which it is predicted
    (default: the more likely class)."""
    rows, proba, truth = _scored(oof, classes)
    if len(classes) == 2 and threshold is not None:
        predicted = (proba[:, 1] >= threshold).astype(int)
    else:
        predicted = proba.argmax(axis=1)
    counts = skm.confusion_matrix(truth, predicted, labels=np.arange(len(classes)))
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return {"labels": [str(c) for c in classes], "counts": counts.tolist(),
            "share": share.tolist(), "accuracy": float(np.trace(counts) / counts.sum()),
            "threshold": threshold}


def _one_vs_rest(classes: list[Any]) -> list[int]:
    """The classes that get a curve: the second class for a binary task (the first is its
    mirror image), every class otherwise."""
    return [1] if len(classes) == 2 else list(range(len(classes)))


def roc(oof: pd.DataFrame, classes: list[Any]) -> list[dict[str, Any]]:
    """A ROC curve per class (one vs the rest) with its area under the curve."""
    rows, proba, truth = _scored(oof, classes)
    curves = []
    for k in _one_vs_rest(classes):
        positive = truth == k
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = skm.roc_curve(positive, proba[:, k])
        fpr, tpr = _thin(fpr, tpr)
        curves.append({"class": str(classes[k]), "fpr": fpr, "tpr": tpr,
                       "auc": float(skm.roc_auc_score(positive, proba[:, k]))})
    return curves


def precision_recall(oof: pd.DataFrame, classes: list[Any]) -> list[dict[str, Any]]:
    """A precision-recall curve per class with its average precision and the share of
    rows in that class (what a model guessing at random would reach)."""
    rows, proba, truth = _scored(oof, classes)
    curves = []
    for k in _one_vs_rest(classes):
        positive = truth == k
        if not positive.any():
            continue
        precision, recall, _ = skm.precision_recall_curve(positive, proba[:, k])
        precision, recall = _thin(precision, recall)
        curves.append({"class": str(classes[k]), "precision": precision, "recall": recall,
                       "average_precision": float(skm.average_precision_score(
                           positive, proba[:, k])),
                       "base_rate": float(positive.mean())})
    return curves


def calibration(oof: pd.DataFrame, classes: list[Any], bins: int = 10) -> dict[str, Any]:
    """Do predicted probabilities mean what they say? For two classes: the predicted
    probability of the second class against how often it was that class. For more: the
    model's confidence in its top class against how often the top class was right."""
    rows, proba, truth = _scored(oof, classes)
    if len(classes) == 2:
        hit, confidence, label = truth == 1, proba[:, 1], f"probability of {classes[1]}"
    else:
        top = proba.argmax(axis=1)
        hit, confidence, label = top == truth, proba.max(axis=1), "confidence in the top class"
    fraction, mean_predicted = calibration_curve(hit, confidence, n_bins=bins,
                                                 strategy="quantile")
    return {"label": label, "mean_predicted": mean_predicted.tolist(),
            "fraction_positive": fraction.tolist(),
            "brier": float(np.mean((confidence - hit) ** 2))}


def regression(oof: pd.DataFrame) -> dict[str, Any]:
    """Predicted against actual values and the residuals (actual − predicted), thinned
    for drawing, with the error summary computed on every row."""
    rows = scored_rows(oof, [])
    actual, predicted = rows["y"].to_numpy(float), rows["prediction"].to_numpy(float)
    residual = actual - predicted
    order = np.argsort(predicted, kind="stable")
    keep = np.random.default_rng(0).permutation(len(rows))[:2000] if len(rows) > 2000 \
        else order
    return {
        "actual": actual[keep].tolist(), "predicted": predicted[keep].tolist(),
        "residual": residual[keep].tolist(), "n_rows": int(len(rows)),
        "rmse": float(np.sqrt(np.mean(residual ** 2))),
        "mae": float(np.mean(np.abs(residual))),
        "r2": float(skm.r2_score(actual, predicted)) if len(rows) > 1 else float("nan"),
        "bias": float(np.mean(residual)),
        "residual_quantiles": {q: float(np.quantile(residual, p)) for q, p in
                               (("5%", 0.05), ("50%", 0.5), ("95%", 0.95))},
    }


def summary(oof: pd.DataFrame, classes: list[Any]) -> dict[str, float]:
    """The few numbers a reader wants first, on the out-of-fold predictions."""
    if not classes:
        found = regression(oof)
        return {k: found[k] for k in ("rmse", "mae", "r2", "bias")} | {
            "rows": found["n_rows"]}
    rows, proba, truth = _scored(oof, classes)
    out = {"rows": len(rows), "accuracy": float(np.mean(proba.argmax(axis=1) == truth)),
           "balanced_accuracy": float(skm.balanced_accuracy_score(truth,
                                                                  proba.argmax(axis=1))),
           "log_loss": float(skm.log_loss(truth, np.clip(proba, 1e-15, 1),
                                          labels=np.arange(len(classes))))}
    if len(set(truth)) > 1:
        out["roc_auc"] = float(
            skm.roc_auc_score(truth, proba[:, 1]) if len(classes) == 2 else
            skm.roc_auc_score(truth, proba, multi_class="ovr", labels=np.arange(len(classes))))
    return out
