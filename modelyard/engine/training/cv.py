"""Validation splits as the Plan asks for them, adjusted when the data cannot support it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from modelyard.engine.errors import PlanError
from modelyard.schemas import Task, Validation, ValidationKind


def make_splits(
    validation: Validation, y: np.ndarray, task: Task, seed: int,
    groups: np.ndarray | None = None, order: np.ndarray | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Train/validation index pairs, and a note when the request had to be adjusted.
    `groups` (group_kfold) and `order` (time_split) are the values of the columns the
    Validation names, row for row."""
    n = len(y)
    note = ""
    if validation.kind is ValidationKind.group_kfold:
        codes = pd.factorize(pd.Series(groups).fillna("(missing)"))[0]
        k = min(validation.n_splits, int(codes.max()) + 1)
        if k < 2:
            raise PlanError(f"“{validation.group_column}” has a single group: rows cannot be "
                            "split by it.", "Choose another validation.")
        if k < validation.n_splits:
            note = f"Only {k} groups, so {k} folds were used."
        return list(GroupKFold(k).split(y, y, codes)), note
    if validation.kind is ValidationKind.time_split:
        # Forward-chaining: each fold validates on a later block than it trained on.
        ranked = np.argsort(pd.Series(order).to_numpy(), kind="stable")
        k = min(validation.n_splits, max(2, n // 10))
        return [(np.sort(ranked[tr]), np.sort(ranked[va]))
                for tr, va in TimeSeriesSplit(k).split(ranked)], note
    if validation.kind is ValidationKind.holdout:
        idx = np.arange(n)
        stratify = y if task.is_classification and np.bincount(y).min() >= 2 else None
        train, valid = train_test_split(idx, test_size=validation.holdout_fraction,
                                        random_state=seed, stratify=stratify)
        return [(np.sort(train), np.sort(valid))], note
    k = min(validation.n_splits, n)
    if task.is_classification and validation.kind is ValidationKind.stratified_kfold:
        smallest = int(np.bincount(y).min())
        if smallest < k:
            if smallest >= 2:
                note = (f"The rarest class has only {smallest} rows, so {smallest} folds were "
                        f"used instead of {k}.")
                k = smallest
            else:
                note = "A class has a single row, so folds could not keep the class balance."
                return list(KFold(k, shuffle=True, random_state=seed).split(y)), note
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(y, y)), note
    return list(KFold(k, shuffle=True, random_state=seed).split(y)), note
