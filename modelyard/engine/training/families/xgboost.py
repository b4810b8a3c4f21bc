"""XGBoost with native categorical support; on the GPU when one is present.

As for LightGBM, the number of trees is learnt, not searched: on a fold the fit stops
EARLY_STOPPING_ROUNDS rounds after the validation loss last improved (at most
MAX_ROUNDS), and the mean best round count over the folds becomes the final model's
`n_estimators` (`learnt_params`). A fold's fit also stops at the search deadline.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from modelyard.engine.training.families import portfolio as proven
from modelyard.engine.training.families.base import (
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

MAX_ROUNDS = 2000  # the most a fold may grow; early stopping usually ends it far sooner
EARLY_STOPPING_ROUNDS = 50


class XGBoost(ModelFamily):
    name = "xgboost"
    preprocessing = "native"
    title = "XGBoost"
    summary = "gradient-boosted decision trees"
    speed = "moderate"
    accuracy = "usually among the best on tables"
    interpretability = "medium: feature importances"
    memory = "moderate"
    why = "Another strong gradient-boosting library; often close to LightGBM, sometimes better."
    pros = ("usually the most accurate family on tables",)
    cons = ("harder to explain than a linear model",)
    flexible = True
    hold_back = {"max_depth": "at most", "min_child_weight": "at least",
                 "reg_lambda": "at least"}
    hold_back_words = ("shallower trees (max_depth), a larger min_child_weight, stronger "
                       "reg_lambda, and a lower learning_rate with more trees")
    learnt = ("n_estimators",)
    cuts_short = True
    explains_rows = True
    packages = ("xgboost",)
    portfolio = proven.XGBOOST

    def pros_cons(self, profile):
        pros, cons = tree_pros_cons(self, profile)
        if profile.n_rows > 100_000:
            cons = [*cons, f"slower than LightGBM on {profile.n_rows} rows"][:3]
        return pros, cons

    def own_importance(self, model):
        raw = getattr(model, "feature_importances_", None)
        return None if raw is None else (raw, "gain (XGBoost)")

    def row_contributions(self, model, prepared, n_out: int):
        import xgboost as xgb

        matrix = xgb.DMatrix(prepared, enable_categorical=True)
        raw = np.asarray(model.get_booster().predict(matrix, pred_contribs=True))[0]
        return raw.reshape(n_out, -1)

    def search_space(self, ctx: FitContext) -> Space:
        return {
            "learning_rate": Float(0.005, 0.3, log=True),
            "max_depth": Int(2, 12),
            "min_child_weight": Float(1e-2, 20.0, log=True),
            "subsample": Float(0.5, 1.0),
            "colsample_bytree": Float(0.3, 1.0),
            "reg_alpha": Float(1e-8, 10.0, log=True),
            "reg_lambda": Float(1e-8, 10.0, log=True),
        }

    def default_params(self, ctx: FitContext) -> dict:
        # XGBoost's own defaults, its 100 trees replaced by as many as early stopping finds.
        return {"learning_rate": 0.3, "max_depth": 6,
                "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
                "reg_alpha": 1e-8, "reg_lambda": 1.0}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its quantised copy; histograms (256 bins of gradient and hessian
        # per feature) for the nodes of the deepest level; the trees (one per class).
        nodes = min(2 ** params.get("max_depth", 6), max(1, ctx.n_rows))
        trees = params.get("n_estimators", MAX_ROUNDS) * (ctx.n_classes if ctx.n_classes > 2 else 1)
        return 4 * data_bytes + nodes * columns(ctx, data_bytes) * 256 * 16 \
            + trees * nodes * 2 * 48

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        return shrink(params, self.search_space(ctx), max_depth=0.75)

    def fit_params(self, deadline: float | None, valid=None, until: float | None = None
                   ) -> dict:
        # Read by `fit` below (XGBoost takes callbacks and early stopping only as
        # settings of the model, not as arguments of its fit).
        return ({} if valid is None else {"valid": valid}) | (
            {} if deadline is None else {"deadline": deadline}) | (
            {} if until is None else {"until": until})

    def fit(self, model, X, y, deadline: float | None = None, valid=None,
            until: float | None = None):
        stop = _deadline_callback(deadline, until) \
            if deadline is not None or until is not None else None
        model.set_params(callbacks=[stop] if stop else None,
                         early_stopping_rounds=EARLY_STOPPING_ROUNDS if valid is not None
                         else None)
        try:
            model.fit(X, y, eval_set=None if valid is None else [valid], verbose=False)
        finally:
            # Neither hook belongs in the fitted model (it is pickled into the bundle).
            model.set_params(callbacks=None, early_stopping_rounds=None)
        if stop is not None and stop.passed:
            from modelyard.engine.training.evaluate import OutOfTime

            raise OutOfTime()
        return model

    def learnt_params(self, model) -> dict:
        best = getattr(model, "best_iteration", None)  # 0-based; absent without a fold
        return {} if best is None else {"n_estimators": int(best) + 1}

    def build(self, params: dict, ctx: FitContext):
        import xgboost as xgb

        cls = xgb.XGBClassifier if ctx.task.is_classification else xgb.XGBRegressor
        # Without a learnt number of trees: the most a fold may grow (early stopping
        # ends it there); a refit gets what the folds learnt.
        rounds = params.get("n_estimators", MAX_ROUNDS)
        return cls(**(params | {"n_estimators": rounds}), tree_method="hist",
                   enable_categorical=True, max_cat_to_onehot=1,
                   device="cuda" if cuda_available() else "cpu",
                   n_jobs=ctx.n_jobs, random_state=ctx.seed, verbosity=0)


def _deadline_callback(deadline: float | None, until: float | None = None) -> Any:
    """An XGBoost callback that ends the boosting once `deadline` has passed (checked
    every round; `passed` says whether it did), or `until` (the model keeps its rounds,
    as with early stopping)."""
    from xgboost.callback import TrainingCallback

    class Deadline(TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.passed = False

        def after_iteration(self, model, epoch, evals_log) -> bool:  # noqa: ARG002
            now = time.time()
            self.passed = deadline is not None and now > deadline
            return self.passed or (until is not None and now > until)

    return Deadline()
