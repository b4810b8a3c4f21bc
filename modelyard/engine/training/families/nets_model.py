"""The fitted side of RealMLP and TabM: a pytabkit estimator behind the face the
pipeline expects. Imported when a model is built, so that reading the registry imports
neither torch nor pytabkit (see `nets.py` for the policies).

Gaps. The "native" preparation leaves missing values missing; pytabkit wants numbers
without gaps and categories as categories. So a missing number becomes the column's
median in training, with a 0/1 column saying it was missing (for the columns that had
gaps in training); a missing or unseen category becomes its own level, MISSING.

Deadline. `fit(..., deadline=t)` stops the training at `t` and raises `OutOfTime`:
RealMLP takes a time limit of its own; TabM's loop has none, but it writes a progress
line after every epoch to the logger it is given, and `nets_library`'s TabM classes hand
it one that raises `OutOfTime` once `t` has passed. Before either, the import of
pytabkit, torch and Lightning (`nets_library`) waits only until `t`: measured here under
heavy load (load 10 on 2 cores), it took 96 s, and a first RealMLP trial that imported it
unwatched ended a 60 s Run at 87 s.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

MISSING = "(missing)"  # a missing category's level, as in the "scaled" preparation


def _out_of_time():
    from modelyard.engine.training.evaluate import OutOfTime

    return OutOfTime()


def _library(deadline: float | None):
    """`nets_library` (pytabkit, torch, Lightning), imported by the time `deadline`
    passes or `OutOfTime`: the import runs in a thread that is left to finish in the
    background, so that a later trial finds it done."""
    name = "modelyard.engine.training.families.nets_library"
    if deadline is None:
        return importlib.import_module(name)
    box: dict = {}

    def load() -> None:
        try:
            box["module"] = importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - handed to the fit that waits
            box["error"] = exc

    thread = threading.Thread(target=load, name="pytabkit-import", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.time()))
    if "error" in box:
        raise box["error"]
    if "module" not in box:
        raise _out_of_time()
    return box["module"]


class NetModel(BaseEstimator):
    """A pytabkit estimator (named by `estimator`, built with `params`) that takes the
    "native" frame and a deadline. The device is chosen at fit: the GPU when torch sees
    one, with mixed precision where the network allows it (TabM)."""

    def __init__(self, estimator: str = "RealMLP_TD_Classifier",
                 params: dict[str, Any] | None = None, n_threads: int = 1, seed: int = 0):
        self.estimator = estimator
        self.params = params
        self.n_threads = n_threads
        self.seed = seed

    @property
    def _classifier(self) -> bool:
        return self.estimator.endswith("Classifier")

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """`X` without gaps, as the network was fitted on (see the module's words)."""
        out = {}
        for col in self.numeric_:
            values = pd.to_numeric(X[col], errors="coerce").astype("float64")
            if col in self.flagged_:
                out[f"{col} (missing)"] = values.isna().astype("float64")
            out[col] = values.fillna(self.medians_[col])
        for col, levels in self.levels_.items():
            values = X[col].astype(object)
            known = values.isin(levels[:-1])
            out[col] = pd.Categorical(values.where(known, MISSING), categories=levels)
        return pd.DataFrame(out, index=X.index)

    def fit(self, X, y, deadline: float | None = None):
        from modelyard.engine.training.families.nets import device

        X = pd.DataFrame(X)
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        self.numeric_ = [c for c in X.columns if c not in cats]
        numbers = X[self.numeric_].apply(pd.to_numeric, errors="coerce")
        medians = numbers.median().fillna(0.0)
        self.medians_ = {c: float(medians[c]) for c in self.numeric_}
        self.flagged_ = [c for c in self.numeric_ if numbers[c].isna().any()]
        self.levels_ = {c: [str(v) for v in X[c].cat.categories if str(v) != MISSING]
                        + [MISSING] for c in cats}
        lib = _library(deadline)  # before torch is touched: it imports torch
        self.device_ = device()
        cls = lib.ESTIMATORS[self.estimator]
        extra = {"allow_amp": True} if self.device_ != "cpu" and "TabM" in self.estimator \
            else {}
        self.model_ = cls(**(self.params or {}), **extra, device=self.device_,
                          n_threads=self.n_threads, random_state=self.seed, verbosity=0)
        more: dict[str, Any] = {}
        if deadline is not None:
            left = deadline - time.time()
            if left <= 0:
                raise _out_of_time()
            if isinstance(self.model_, lib.Deadlined):
                self.model_.deadline_ = deadline
            else:  # RealMLP: pytabkit's own limit (Lightning's max_time, per batch)
                more["time_to_fit_in_seconds"] = left
        y = np.asarray(y)
        import torch

        threads = torch.get_num_threads()
        try:
            self.model_.fit(self._frame(X), y, **more)
        finally:
            # pytabkit sets torch's threads to n_threads and puts them back only when the
            # fit returns: a fit stopped at its deadline would leave them changed.
            torch.set_num_threads(threads)
        if isinstance(self.model_, lib.Deadlined):
            self.model_.deadline_ = None  # not kept in the bundle
            for sub in getattr(self.model_.cv_alg_interface_, "sub_split_interfaces", []):
                sub.deadline = None
        if deadline is not None and time.time() > deadline:
            raise _out_of_time()  # RealMLP stopped by its limit: not trained to the end
        if self._classifier:
            self.classes_ = np.asarray(self.model_.classes_)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self._frame(pd.DataFrame(X))),
                          dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        if self._classifier:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return np.asarray(self.model_.predict(self._frame(pd.DataFrame(X))), dtype=np.float64)
