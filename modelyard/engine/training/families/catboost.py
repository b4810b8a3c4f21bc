"""CatBoost: gradient-boosted oblivious trees with native categorical columns.

Categories. The "native" preparation hands categories over as pandas categories with
missing values left missing (as LightGBM and XGBoost take them). CatBoost refuses NaN
among categorical values and wants strings or integers, so `CatBoostModel` turns each
categorical column into plain strings, a missing value into MISSING, the same way at
fit, at prediction and for the row explanations. Categories unseen in training are
already missing by then (`NativeFrame`), so they too meet the model as MISSING.

Rounds. The number of trees is learnt, not searched: on a fold, the fit stops
EARLY_STOPPING_ROUNDS rounds after the validation loss last improved (at most
MAX_ROUNDS), and the mean best round count over the folds becomes the final model's
`iterations` (`learnt_params`). A fit with no validation rows and nothing learnt takes
DEFAULT_ROUNDS, CatBoost's own default.

Deadline. On the CPU a callback ends the fit after the round that passes the deadline
and the fit raises `OutOfTime`. CatBoost runs no Python callbacks on the GPU, so there
the family gives no deadline hook and the trainer guards its fits instead (a child
process killed past the budget). The GPU path is used only where NVML sees a GPU; it is
untested on this CPU-only machine.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
    columns,
    cuda_available,
    shrink,
    tree_pros_cons,
)
from modelyard.schemas import ColumnKind

MISSING = "(missing)"  # what a missing category is called, as in the "scaled" preparation
MAX_ROUNDS = 5000
EARLY_STOPPING_ROUNDS = 50
DEFAULT_ROUNDS = 1000
ONE_HOT_MAX = 10


def catboost_frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`X` as CatBoost takes it, and the names of its categorical columns: categories as
    strings, a missing one as MISSING; numbers untouched."""
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return X, cats
    out = X.copy(deep=False)
    for col in cats:
        values = X[col].astype(object)
        out[col] = values.where(values.notna(), MISSING).map(str).astype(object)
    return out, cats


class _Deadline:
    """Stops the boosting after the round that passes `deadline`; `passed` says so."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.passed = False

    def after_iteration(self, info) -> bool:  # noqa: ARG002 - CatBoost's callback API
        self.passed = time.time() > self.deadline
        return not self.passed


class CatBoostModel(BaseEstimator):
    """A CatBoost model behind the scikit-learn face the pipeline expects. `params` are
    CatBoost's own arguments; `iterations` (when learnt) fixes the number of trees."""

    def __init__(self, params: dict[str, Any] | None = None, iterations: int | None = None):
        self.params = params
        self.iterations = iterations

    def _library_class(self):
        raise NotImplementedError

    def fit(self, X, y, eval_set=None, deadline: float | None = None):
        frame, cats = catboost_frame(X)
        rounds = self.iterations or (MAX_ROUNDS if eval_set is not None else DEFAULT_ROUNDS)
        self.model_ = self._library_class()(**(self.params or {}), iterations=int(rounds),
                                            cat_features=cats)
        more: dict[str, Any] = {}
        if eval_set is not None:
            more = {"eval_set": (catboost_frame(eval_set[0])[0], eval_set[1]),
                    "early_stopping_rounds": EARLY_STOPPING_ROUNDS, "use_best_model": True}
        stop = _Deadline(deadline) if deadline is not None else None
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

        frame, cats = catboost_frame(X)
        return np.asarray(self.model_.get_feature_importance(
            Pool(frame, cat_features=cats), type="ShapValues"))


class CatBoostClassifierModel(ClassifierMixin, CatBoostModel):
    def _library_class(self):
        from catboost import CatBoostClassifier

        return CatBoostClassifier

    def fit(self, X, y, eval_set=None, deadline: float | None = None):
        super().fit(X, y, eval_set=eval_set, deadline=deadline)
        self.classes_ = np.asarray(self.model_.classes_).astype(np.asarray(y).dtype)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(catboost_frame(X)[0]))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class CatBoostRegressorModel(RegressorMixin, CatBoostModel):
    def _library_class(self):
        from catboost import CatBoostRegressor

        return CatBoostRegressor

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict(catboost_frame(X)[0]), dtype=np.float64)


class CatBoost(ModelFamily):
    name = "catboost"
    preprocessing = "native"
    title = "CatBoost"
    summary = "gradient-boosted symmetric trees with native categorical columns"
    speed = "moderate; slower than LightGBM on large tables"
    accuracy = "often the best on tables at its defaults"
    interpretability = "medium: feature importances"
    memory = "moderate"
    why = ("Gradient-boosted trees that are strong at their defaults and use categorical "
           "columns as they are, with little risk of overfitting them.")
    pros = ("often the most accurate family on tables at its defaults",
            "learns its number of trees on each validation fold")
    cons = ("harder to explain than a linear model",)
    flexible = True
    hold_back = {"depth": "at most", "l2_leaf_reg": "at least"}
    hold_back_words = ("shallower trees (depth), a stronger l2_leaf_reg and a lower "
                       "learning_rate (the number of trees is learnt on the folds)")
    explains_rows = True
    packages = ("catboost",)

    def pros_cons(self, profile):
        pros, cons = tree_pros_cons(self, profile)
        n_cat = sum(c.kind is ColumnKind.categorical for c in profile.columns)
        if n_cat:
            pros = [f"uses the {n_cat} categorical column{'s' if n_cat > 1 else ''} as "
                    "they are", *pros][:3]
        if profile.n_rows > 100_000:
            cons = [*cons, f"slower than LightGBM on {profile.n_rows} rows"][:3]
        return pros, cons

    def own_importance(self, model):
        return model.feature_importances_, "prediction change (CatBoost)"

    def row_contributions(self, model, prepared, n_out: int):
        return model.contributions(prepared)[0].reshape(n_out, -1)

    def search_space(self, ctx: FitContext) -> Space:
        weights = {"class_weight": CLASS_WEIGHT} if ctx.task.is_classification else {}
        return weights | {
            "learning_rate": Float(0.01, 0.3, log=True),
            "depth": Int(3, 10),
            "l2_leaf_reg": Float(0.5, 30.0, log=True),
            "random_strength": Float(0.01, 10.0, log=True),
            "subsample": Float(0.5, 1.0),
        }

    def default_params(self, ctx: FitContext) -> dict:
        # CatBoost's own defaults, except the learning rate: its default is chosen from
        # the data at fit time, and 0.05 with early stopping is AutoGluon's choice.
        weights = {"class_weight": "none"} if ctx.task.is_classification else {}
        return weights | {"learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 3.0,
                          "random_strength": 1.0, "subsample": 0.8}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its quantised copy (a byte per value); histograms of 254 borders
        # per feature for each leaf of the current depth; the trees (one leaf value per
        # output, 2^depth leaves each) up to the most rounds a fit may take.
        leaves = 2 ** params.get("depth", 6)
        outputs = ctx.n_classes if ctx.n_classes > 2 else 1
        rounds = params.get("iterations", MAX_ROUNDS)
        return 4 * data_bytes + leaves * columns(ctx, data_bytes) * 256 * 16 \
            + rounds * leaves * outputs * 8

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        return shrink(params, self.search_space(ctx), depth=0.75)

    def fit_params(self, deadline: float | None, valid=None) -> dict:
        more = {} if valid is None else {"eval_set": valid}
        if deadline is not None and not cuda_available():  # no callbacks on the GPU
            more["deadline"] = deadline
        return more

    def learnt_params(self, model) -> dict:
        rounds = getattr(model, "best_rounds_", None)
        return {} if rounds is None else {"iterations": rounds}

    def build(self, params: dict, ctx: FitContext):
        classification = ctx.task.is_classification
        if classification:
            loss = "MultiClass" if ctx.n_classes > 2 else "Logloss"
        else:
            loss = "RMSE"
        native = {k: v for k, v in params.items() if k not in ("class_weight", "iterations")}
        if params.get("class_weight") == "balanced":
            native["auto_class_weights"] = "Balanced"
        gpu = cuda_available()
        device = {"task_type": "GPU", "devices": "0"} if gpu else {}
        # The searched subsample needs a bootstrap that takes one: MVS (CatBoost's CPU
        # default) where it applies, else Bernoulli (the GPU's and MultiClass's default,
        # Bayesian, refuses a subsample).
        native["bootstrap_type"] = "Bernoulli" if gpu or loss == "MultiClass" else "MVS"
        native |= {"loss_function": loss, "thread_count": ctx.n_jobs,
                   "random_seed": ctx.seed, "verbose": False,
                   # Categories of up to ONE_HOT_MAX levels one-hot rather than as target
                   # statistics and their combinations: several times faster on tables
                   # with many small categorical columns (measured: 7x on telco churn).
                   "one_hot_max_size": ONE_HOT_MAX,
                   # Otherwise it writes catboost_info/ into the working directory.
                   "allow_writing_files": False, **device}
        cls = CatBoostClassifierModel if classification else CatBoostRegressorModel
        return cls(params=native, iterations=params.get("iterations"))
