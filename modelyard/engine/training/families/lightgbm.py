"""LightGBM gradient-boosted trees with native categorical and missing-value handling.

The number of trees is learnt, not searched: on a fold the fit stops
EARLY_STOPPING_ROUNDS rounds after the validation loss last improved (at most
MAX_ROUNDS), and the mean best round count over the folds becomes the final model's
`n_estimators` (`learnt_params`).
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from modelyard.engine.training.families import portfolio as proven
from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
    class_weight,
    columns,
    shrink,
    tree_pros_cons,
    without,
)

MAX_ROUNDS = 2000  # the most the search allowed before trees were learnt
EARLY_STOPPING_ROUNDS = 50


class LightGBM(ModelFamily):
    name = "lightgbm"
    preprocessing = "native"
    title = "LightGBM"
    summary = "gradient-boosted decision trees"
    speed = "fast, even on large tables"
    accuracy = "usually the best on tables"
    interpretability = "medium: feature importances"
    memory = "moderate"
    why = ("Gradient-boosted trees: usually the most accurate on tables; handles missing "
           "values and categories natively.")
    pros = ("usually the most accurate family on tables",)
    cons = ("harder to explain than a linear model",)
    flexible = True
    learnt = ("n_estimators",)
    cuts_short = True
    hold_back = {"num_leaves": "at most", "min_child_samples": "at least",
                 "reg_lambda": "at least"}
    hold_back_words = ("fewer leaves (num_leaves), more rows per leaf (min_child_samples), "
                       "stronger reg_lambda, and a lower learning_rate with more trees")
    explains_rows = True
    packages = ("lightgbm",)
    portfolio = proven.LIGHTGBM

    def pros_cons(self, profile):
        return tree_pros_cons(self, profile)

    def own_importance(self, model):
        return model.booster_.feature_importance(importance_type="gain"), "gain (LightGBM)"

    def row_contributions(self, model, prepared, n_out: int):
        raw = np.asarray(model.booster_.predict(prepared, pred_contrib=True))[0]
        return raw.reshape(n_out, -1)

    def search_space(self, ctx: FitContext) -> Space:
        weights = {"class_weight": CLASS_WEIGHT} if ctx.task.is_classification else {}
        return weights | {
            "learning_rate": Float(0.005, 0.3, log=True),
            "num_leaves": Int(4, 256, log=True),
            "min_child_samples": Int(2, 100, log=True),
            "subsample": Float(0.5, 1.0),
            "colsample_bytree": Float(0.3, 1.0),
            "reg_alpha": Float(1e-8, 10.0, log=True),
            "reg_lambda": Float(1e-8, 10.0, log=True),
        }

    def default_params(self, ctx: FitContext) -> dict:
        # LightGBM's own defaults (the baseline a person would try), its 100 trees
        # replaced by as many as early stopping finds.
        weights = {"class_weight": "none"} if ctx.task.is_classification else {}
        return weights | {"learning_rate": 0.1, "num_leaves": 31,
                "min_child_samples": 20, "subsample": 1.0, "colsample_bytree": 1.0,
                "reg_alpha": 1e-8, "reg_lambda": 1e-8}  # 1e-8: 0 within the log-scale space

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its binned copy; a histogram (≤255 bins of gradient and hessian)
        # per feature cached for every leaf; the trees themselves (one per class).
        leaves = params.get("num_leaves", 31)
        rounds = params.get("n_estimators", MAX_ROUNDS)
        trees = rounds * (ctx.n_classes if ctx.n_classes > 2 else 1)
        return 4 * data_bytes + leaves * columns(ctx, data_bytes) * 256 * 16 \
            + trees * leaves * 2 * 64

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        return shrink(params, self.search_space(ctx), num_leaves=0.5)

    def fit_params(self, deadline: float | None, valid=None, until: float | None = None
                   ) -> dict:
        callbacks, more = [], {}
        if valid is not None:
            import lightgbm as lgb

            # LightGBM 4.7 names the validation rows eval_X/eval_y (eval_set deprecated).
            new_api = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters
            more = ({"eval_X": (valid[0],), "eval_y": (valid[1],)} if new_api
                    else {"eval_set": [valid]})
            callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True,
                                                verbose=False))
        if deadline is None and until is None:
            return more | ({"callbacks": callbacks} if callbacks else {})

        def stop_at_deadline(env) -> None:
            # Checked every boosting round: one fit cannot overrun the budget.
            now = time.time()
            if deadline is not None and now > deadline:
                from modelyard.engine.training.evaluate import OutOfTime

                raise OutOfTime()
            if until is not None and now > until:
                import lightgbm as lgb

                # Ends the boosting as early stopping does: the model keeps its rounds.
                raise lgb.callback.EarlyStopException(env.iteration,
                                                      env.evaluation_result_list)

        return more | {"callbacks": [*callbacks, stop_at_deadline]}

    def learnt_params(self, model) -> dict:
        best = getattr(model, "best_iteration_", None)  # 0 when it did not stop early
        return {"n_estimators": int(best)} if best else {}

    def build(self, params: dict, ctx: FitContext):
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if ctx.task.is_classification else lgb.LGBMRegressor
        extra = {"subsample_freq": 1} if params.get("subsample", 1.0) < 1.0 else {}
        # Without a learnt number of trees: the most a fold may grow (early stopping
        # ends it there); a refit gets what the folds learnt.
        rounds = params.get("n_estimators", MAX_ROUNDS)
        return cls(**without(params, "class_weight", "n_estimators"), n_estimators=rounds,
                   **extra, class_weight=class_weight(params),
                   n_jobs=ctx.n_jobs, random_state=ctx.seed, verbose=-1)
