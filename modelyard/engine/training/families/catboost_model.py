"""The fitted side of the CatBoost family: a CatBoost model behind the scikit-learn face
the pipeline expects, and the frame CatBoost takes. Kept apart from `catboost.py` so that
reading the registry imports neither pandas nor scikit-learn (see that module for the
policies: categories as strings, learnt rounds, the deadline).
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from modelyard.engine.training.families.catboost import (
    DEFAULT_ROUNDS,
    EARLY_STOPPING_ROUNDS,
    MAX_ROUNDS,
    MISSING,
    TEXT_PROCESSING,
)


def with_text(params: dict[str, Any], classification: bool) -> dict[str, Any]:
    """CatBoost's arguments for a table with free text: the family's text processing
    (TEXT_PROCESSING; for regression without the naive Bayes estimator, which needs
    classes), and the CPU for a regression (CatBoost reads text on the GPU only for
    classification)."""
    calcers = TEXT_PROCESSING["feature_processing"]["default"]
    if not classification:
        calcers = [c for c in calcers if c["feature_calcers"] != ["NaiveBayes"]]
    out = params | {"text_processing": TEXT_PROCESSING | {
        "feature_processing": {"default": calcers}}}
    if not classification and out.get("task_type") == "GPU":
        out = {k: v for k, v in out.items() if k not in ("task_type", "devices")}
    return out


def catboost_frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """`X` as CatBoost takes it, and the names of its categorical and its text columns:
    categories as strings, a missing one as MISSING; numbers and texts untouched. A column
    of strings that is not categorical is free text (`NativeTextFrame` hands text over so)."""
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    texts = [c for c in X.columns
             if c not in cats and not pd.api.types.is_numeric_dtype(X[c].dtype)]
    if not cats:
        return X, cats, texts
    out = X.copy(deep=False)
    for col in cats:
        values = X[col].astype(object)
        out[col] = values.where(values.notna(), MISSING).map(str).astype(object)
    return out, cats, texts


class _Deadline:
    """Stops the boosting after the round that passes `deadline` (`passed` says so), or
    `until` (the model keeps its rounds, as with early stopping)."""

    def __init__(self, deadline: float | None, until: float | None = None):
        self.deadline = deadline
        self.until = until
        self.passed = False

    def after_iteration(self, info) -> bool:  # noqa: ARG002 - CatBoost's callback API
        now = time.time()
        self.passed = self.deadline is not None and now > self.deadline
        return not (self.passed or (self.until is not None and now > self.until))


class CatBoostModel(BaseEstimator):
    """A CatBoost model behind the scikit-learn face the pipeline expects. `params` are
    CatBoost's own arguments; `iterations` (when learnt) fixes the number of trees."""

    def __init__(self, params: dict[str, Any] | None = None, iterations: int | None = None):
        self.params = params
        self.iterations = iterations

    def _library_class(self):
        raise NotImplementedError

    # A CatBoost model with text features, once loaded from its pickle, pickles into bytes
    # that crash CatBoost when they are loaded (1.2.10: a segmentation fault, or
    # "mmap_frequency_based_dictionary_impl.cpp:97: Condition violated"). A bag's fold
    # model is pickled by the fit child, loaded here and pickled again into the bundle, so
    # the model keeps the bytes it was first pickled into and pickles as those.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if "model_" in state:
            if state.get("_model_bytes") is None:
                state["_model_bytes"] = pickle.dumps(state["model_"],
                                                     protocol=pickle.HIGHEST_PROTOCOL)
            del state["model_"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if state.get("_model_bytes") is not None:  # inside a bundle its manifest checked
            self.model_ = pickle.loads(state["_model_bytes"])

    def fit(self, X, y, eval_set=None, deadline: float | None = None,
            until: float | None = None):
        self._model_bytes = None
        frame, cats, texts = catboost_frame(X)
        rounds = self.iterations or (MAX_ROUNDS if eval_set is not None else DEFAULT_ROUNDS)
        params = dict(self.params or {})
        if texts:
            params = with_text(params, classification=self.classification)
        self.text_features_ = texts
        self.model_ = self._library_class()(**params, iterations=int(rounds),
                                            cat_features=cats, text_features=texts or None)
        more: dict[str, Any] = {}
        if eval_set is not None:
            more = {"eval_set": (catboost_frame(eval_set[0])[0], eval_set[1]),
                    "early_stopping_rounds": EARLY_STOPPING_ROUNDS, "use_best_model": True}
        stop = _Deadline(deadline, until) if deadline is not None or until is not None \
            else None
        self.model_.fit(frame, y, callbacks=[stop] if stop else None, **more)
        if stop is not None and stop.passed:
            from modelyard.engine.training.evaluate import OutOfTime

            raise OutOfTime()
        best = self.model_.get_best_iteration() if eval_set is not None else None
        self.best_rounds_ = None if best is None else int(best) + 1
        return self

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.model_.get_feature_importance())

    def contributions(self, X) -> np.ndarray:
        """CatBoost's SHAP values of the rows of `X`, the expected value last."""
        from catboost import Pool

        frame, cats, texts = catboost_frame(X)
        return np.asarray(self.model_.get_feature_importance(
            Pool(frame, cat_features=cats, text_features=texts or None), type="ShapValues"))


class CatBoostClassifierModel(ClassifierMixin, CatBoostModel):
    classification = True

    def _library_class(self):
        from catboost import CatBoostClassifier

        return CatBoostClassifier

    def fit(self, X, y, eval_set=None, deadline: float | None = None,
            until: float | None = None):
        super().fit(X, y, eval_set=eval_set, deadline=deadline, until=until)
        self.classes_ = np.asarray(self.model_.classes_).astype(np.asarray(y).dtype)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(catboost_frame(X)[0]))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class CatBoostRegressorModel(RegressorMixin, CatBoostModel):
    classification = False

    def _library_class(self):
        from catboost import CatBoostRegressor

        return CatBoostRegressor

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict(catboost_frame(X)[0]), dtype=np.float64)
