"""scikit-learn's HistGradientBoosting: fast boosting with missing values built in."""

from __future__ import annotations

from modelyard.engine.training.families.base import (
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
    columns,
    shrink,
    tree_pros_cons,
)


class HistGradientBoosting(ModelFamily):
    name = "hist_gradient_boosting"
    preprocessing = "ordinal"
    title = "Histogram gradient boosting"
    summary = "scikit-learn's gradient-boosted trees"
    speed = "fast"
    accuracy = "close to LightGBM"
    interpretability = "medium: feature importances"
    memory = "moderate"
    why = "scikit-learn's own gradient-boosted trees: fast, with missing values built in."
    pros = ("usually the most accurate family on tables",)
    cons = ("harder to explain than a linear model",)
    flexible = True
    hold_back = {"max_leaf_nodes": "at most", "min_samples_leaf": "at least",
                 "l2_regularization": "at least"}
    hold_back_words = ("fewer leaves (max_leaf_nodes), more rows per leaf (min_samples_leaf), "
                       "a stronger l2_regularization, and a lower learning_rate with more "
                       "iterations")

    def pros_cons(self, profile):
        return tree_pros_cons(self, profile)

    def search_space(self, ctx: FitContext) -> Space:
        return {
            "learning_rate": Float(0.01, 0.3, log=True),
            "max_iter": Int(50, 1000, log=True),
            "max_leaf_nodes": Int(8, 128, log=True),
            "min_samples_leaf": Int(5, 100, log=True),
            "l2_regularization": Float(1e-8, 10.0, log=True),
        }

    def default_params(self, ctx: FitContext) -> dict:
        return {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31,
                "min_samples_leaf": 20, "l2_regularization": 1e-8}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its binned copy; a histogram (256 bins × 20 bytes per feature)
        # per node of the tree being grown; the trees (one per class and iteration).
        leaves = params.get("max_leaf_nodes", 31)
        per_iteration = ctx.n_classes if ctx.n_classes > 2 else 1
        return 4 * data_bytes + leaves * columns(ctx, data_bytes) * 256 * 20 \
            + params.get("max_iter", 100) * per_iteration * leaves * 2 * 64

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        return shrink(params, self.search_space(ctx), max_leaf_nodes=0.5, max_iter=0.5)

    def build(self, params: dict, ctx: FitContext):
        from sklearn.ensemble import (  # see linear.py
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        cls = (HistGradientBoostingClassifier if ctx.task.is_classification
               else HistGradientBoostingRegressor)
        return cls(**params, early_stopping=False, random_state=ctx.seed)
