"""Each fold's features, prepared once per kind of preprocessing and shared by every trial.

A family's preprocessing depends on the family ("native", "ordinal", "scaled", "none"),
never on its searched parameters, so every trial of every family of one kind would fit
the same imputers, encoders and TF-IDF vocabularies on the same fold rows. On a table
with free text that preparation can cost more than the model itself: here it happens
once per (kind, fold) and later trials only fit their estimator.

The cache holds the prepared rows while they fit a memory allowance; past it, a fold is
prepared for the trial that asks and not kept. A trial fitted in a guarded child process
(`guard.py`) gets the kind's prepared folds from a file, and sends back the ones it had
to prepare, so guarded and in-process trials share the work too. Each entry records how
long preparing took, so a trial's fit and predict times stay what the whole pipeline
costs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class PreparedFold:
    train: Any  # the fold's training rows after preprocessing
    valid: Any  # its validation rows
    seen: Any  # a sample of the training rows, for the train score
    fit_seconds: float  # fitting the preprocessing and applying it to the training rows
    valid_seconds: float  # applying it to the validation rows
    nbytes: int
    # The preprocessing as fitted on the fold's training rows: with the fold's model it
    # makes the fold pipeline a bagged model keeps (`bagging.py`).
    fitted: Any = None


def nbytes(matrix: Any) -> int:
    if isinstance(matrix, pd.DataFrame):
        return int(matrix.memory_usage(deep=True).sum())
    if sp.issparse(matrix):
        matrix = matrix.tocsr() if not hasattr(matrix, "data") else matrix
        return int(sum(getattr(matrix, a).nbytes for a in ("data", "indices", "indptr")
                       if hasattr(matrix, a)))
    return int(np.asarray(matrix).nbytes)


def take_rows(matrix: Any, positions: np.ndarray) -> Any:
    """Rows by position from a frame, a dense array or a sparse matrix."""
    if isinstance(matrix, pd.DataFrame):
        return matrix.iloc[positions]
    if sp.issparse(matrix):
        return matrix.tocsr()[positions]
    return np.asarray(matrix)[positions]


def prepare(preprocessor, X: pd.DataFrame, y: np.ndarray, train_idx: np.ndarray,
            valid_idx: np.ndarray, seen_positions: np.ndarray) -> PreparedFold:
    """Fit `preprocessor` on the fold's training rows and apply it to both sides."""
    started = time.perf_counter()
    train = preprocessor.fit_transform(X.iloc[train_idx], y[train_idx])
    fitted = time.perf_counter()
    valid = preprocessor.transform(X.iloc[valid_idx])
    done = time.perf_counter()
    return PreparedFold(train, valid, take_rows(train, seen_positions), fitted - started,
                        done - fitted, nbytes(train) + nbytes(valid), preprocessor)


class FoldCache:
    """Prepared folds keyed by (preprocessing kind, fold number), safe to share between
    trials running in threads: a fold being prepared is prepared once, the others wait."""

    def __init__(self, allowance_bytes: int):
        self.allowance = int(allowance_bytes)
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._entries: dict[tuple[str, int], PreparedFold] = {}
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, fold: int, make: Callable[[], PreparedFold]) -> PreparedFold:
        key = (kind, fold)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._entries.get(key)
            if found is not None:
                self.hits += 1
                return found
            prepared = make()
            self.misses += 1
            with self._lock:
                if self.used + prepared.nbytes <= self.allowance:
                    self._entries[key] = prepared
                    self.used += prepared.nbytes
            return prepared

    def put(self, kind: str, fold: int, prepared: PreparedFold) -> bool:
        """Keep a fold prepared elsewhere (in a guarded child) if it fits the allowance."""
        with self._lock:
            if (kind, fold) in self._entries or self.used + prepared.nbytes > self.allowance:
                return False
            self._entries[(kind, fold)] = prepared
            self.used += prepared.nbytes
            return True

    def of_kind(self, kind: str) -> dict[int, PreparedFold]:
        with self._lock:
            return {fold: p for (k, fold), p in self._entries.items() if k == kind}

    def room(self) -> int:
        with self._lock:
            return max(0, self.allowance - self.used)
