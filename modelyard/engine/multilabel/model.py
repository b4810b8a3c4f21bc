"""The fitted multi-label model a bundle holds, and how its estimators are built."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
from sklearn.pipeline import Pipeline

from modelyard.engine.multilabel.labels import join_labels
from modelyard.engine.multilabel.metrics import decide
from modelyard.engine.training.families.base import FitContext, ModelFamily
from modelyard.engine.training.preprocess import build_preprocessor

# How a family's estimators cover the labels: one per label, or a chain.
STRATEGIES = ("per_label", "chain")
STRATEGY_WORDS = {"per_label": "one model per label", "chain": "classifier chain"}


def preprocessing_for(family: ModelFamily, strategy: str) -> str:
    """The family's preprocessing; a chain stacks the labels before it as numbers next to
    the features and refuses missing values (scikit-learn's ClassifierChain checks its
    input), so for a chain of trees the features are imputed and scaled instead."""
    kind = family.preprocessing
    return "scaled" if strategy == "chain" and kind in ("native", "native_text", "ordinal") \
        else kind


def preprocessor(kind: str, features) -> Any:
    """The tabular preprocessing of this kind (engine/training/preprocess.py)."""
    return build_preprocessor(kind, features.numeric, features.categorical,
                              features.datetime, features.text)


def label_estimator(family: ModelFamily, params: dict[str, Any], strategy: str,
                    seed: int, n_jobs: int) -> Any:
    """scikit-learn's wrapper around one yes/no estimator of `family` per label."""
    ctx = FitContext(task=_binary(), n_rows=0, n_classes=2, n_jobs=1, seed=seed)
    base = family.build(params, ctx)
    if strategy == "chain":
        return ClassifierChain(base, order=None, random_state=seed)
    return MultiOutputClassifier(base, n_jobs=n_jobs)


def _binary():
    from modelyard.schemas import Task

    return Task.binary


def label_proba(estimator: Any, X: Any) -> np.ndarray:
    """(rows × labels) probability of each label being on, from either wrapper."""
    raw = estimator.predict_proba(X)
    if isinstance(raw, list):  # MultiOutputClassifier: one (rows × classes) per label
        cols = []
        for part, classes in zip(raw, estimator.classes_, strict=True):
            part = np.asarray(part, dtype=np.float64)
            on = np.flatnonzero(np.asarray(classes) == 1)
            cols.append(part[:, on[0]] if len(on) else np.zeros(len(part)))
        return np.column_stack(cols)
    return np.asarray(raw, dtype=np.float64)


class MultiLabelModel:
    """Shared preprocessing, an estimator per label (or a chain) and a threshold per
    label. `predict_proba` gives (rows × labels); `predict` 0/1 at the thresholds."""

    def __init__(self, pipeline: Pipeline, labels: list[str], thresholds: list[float],
                 separator: str | None = None):
        self.pipeline = pipeline
        self.labels = list(labels)
        self.thresholds = [float(t) for t in thresholds]
        self.separator = separator

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        prepared = self.pipeline.named_steps["prepare"].transform(X)
        return label_proba(self.pipeline.named_steps["model"], prepared)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return decide(self.predict_proba(X), np.asarray(self.thresholds))

    def frame(self, X: pd.DataFrame, target: str, index) -> pd.DataFrame:
        """Predictions as columns: one 0/1 column per label (or, for delimited labels,
        the labels joined in the target's column), then `proba_<label>` per label."""
        proba = self.predict_proba(X)
        on = decide(proba, np.asarray(self.thresholds))
        out = pd.DataFrame(index=index)
        if self.separator:
            out[target] = join_labels(on, self.labels, self.separator)
        else:
            for j, name in enumerate(self.labels):
                out[name] = on[:, j]
        for j, name in enumerate(self.labels):
            out[f"proba_{name}"] = proba[:, j]
        return out
