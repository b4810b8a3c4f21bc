"""Validation splits as the Plan asks for them, adjusted when the data cannot support it."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from engine.schemas import Task, Validation, ValidationKind


def make_splits(
    validation: Validation, y: np.ndarray, task: Task, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Train/validation index pairs, and a note when the request had to be adjusted."""
    n = len(y)
    note = ""
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
