"""scikit-learn's HistGradientBoosting: fast boosting with missing values built in."""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from engine.training.families.base import FitContext, Float, Int, ModelFamily, Space


class HistGradientBoosting(ModelFamily):
    name = "hist_gradient_boosting"
    preprocessing = "ordinal"

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

    def build(self, params: dict, ctx: FitContext):
        cls = (HistGradientBoostingClassifier if ctx.task.is_classification
               else HistGradientBoostingRegressor)
        return cls(**params, early_stopping=False, random_state=ctx.seed)
