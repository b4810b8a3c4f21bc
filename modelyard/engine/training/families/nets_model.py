"""The fitted side of RealMLP and TabM: a pytabkit estimator behind the face the
pipeline expects. Imported when a model is built, so that reading the registry imports
neither torch nor pytabkit (see `nets.py` for the policies).

Gaps. The "native" preparation leaves missing values missing; pytabkit wants numbers
without gaps and categories as categories. So a missing number becomes the column's
median in training, with a 0/1 column saying it was missing (for the columns that had
gaps in training); a missing or unseen category becomes its own level, MISSING.

Deadline. `fit(..., deadline=t)` stops the training at `t` and raises `OutOfTime`:
RealMLP takes a time limit of its own; TabM's loop has none, but it writes a progress
line after every epoch to the logger it is given, and `_TabM*` hand it one that raises
`OutOfTime` once `t` has passed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from pytabkit.models.alg_interfaces.sub_split_interfaces import SingleSplitWrapperAlgInterface
from pytabkit.models.alg_interfaces.tabm_interface import TabMSubSplitInterface
from pytabkit.models.sklearn import sklearn_interfaces as library
from pytabkit.models.training.logging import Logger
from sklearn.base import BaseEstimator

MISSING = "(missing)"  # a missing category's level, as in the "scaled" preparation


def _out_of_time():
    from modelyard.engine.training.evaluate import OutOfTime

    return OutOfTime()


class _Until(Logger):
    """Passes lines to `inner` and stops the fit (`OutOfTime`) once `deadline` passed."""

    def __init__(self, inner: Logger, deadline: float):
        super().__init__(inner.get_verbosity_level())
        self.inner = inner
        self.deadline = deadline

    def log(self, verbosity: int, content: str):
        if time.time() > self.deadline:
            raise _out_of_time()
        self.inner.log(verbosity, content)


class _TabMUntil(TabMSubSplitInterface):
    """TabM's training, stopped after the epoch that passes `deadline`."""

    def __init__(self, deadline: float | None = None, **config):
        super().__init__(**config)
        self.deadline = deadline

    def fit(self, ds, idxs_list, interface_resources, logger, tmp_folders, name):
        if self.deadline is not None:
            logger = _Until(logger, self.deadline)
        return super().fit(ds, idxs_list, interface_resources, logger, tmp_folders, name)


class _Deadlined:
    """A TabM estimator whose training stops at `deadline_` (set just before `fit`)."""

    deadline_: float | None = None

    def _create_alg_interface(self, n_cv: int):
        config = self.get_config()
        return SingleSplitWrapperAlgInterface(
            [_TabMUntil(deadline=self.deadline_, **config) for _ in range(n_cv)])


class _TabMClassifier(_Deadlined, library.TabM_D_Classifier):
    pass


class _TabMRegressor(_Deadlined, library.TabM_D_Regressor):
    pass


_ESTIMATORS = {"RealMLP_TD_Classifier": library.RealMLP_TD_Classifier,
               "RealMLP_TD_Regressor": library.RealMLP_TD_Regressor,
               "TabM_D_Classifier": _TabMClassifier, "TabM_D_Regressor": _TabMRegressor}


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
        self.device_ = device()
        cls = _ESTIMATORS[self.estimator]
        extra = {"allow_amp": True} if self.device_ != "cpu" and "TabM" in self.estimator \
            else {}
        self.model_ = cls(**(self.params or {}), **extra, device=self.device_,
                          n_threads=self.n_threads, random_state=self.seed, verbosity=0)
        more: dict[str, Any] = {}
        if deadline is not None:
            left = deadline - time.time()
            if left <= 0:
                raise _out_of_time()
            if isinstance(self.model_, _Deadlined):
                self.model_.deadline_ = deadline
            else:  # RealMLP: pytabkit's own limit (Lightning's max_time, per batch)
                more["time_to_fit_in_seconds"] = left
        y = np.asarray(y)
        self.model_.fit(self._frame(X), y, **more)
        if isinstance(self.model_, _Deadlined):
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
