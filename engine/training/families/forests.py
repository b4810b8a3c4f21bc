"""Random forest and extra trees: robust, little tuning, good uncertainty of their own."""

from __future__ import annotations

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from engine.training.families.base import Choice, FitContext, Float, Int, ModelFamily, Space


class _Forest(ModelFamily):
    preprocessing = "ordinal"
    classifier: type
    regressor: type

    def search_space(self, ctx: FitContext) -> Space:
        return {
            "n_estimators": Int(50, 500, log=True),
            "max_features": Float(0.1, 1.0),
            "min_samples_leaf": Int(1, 20, log=True),
            "bootstrap": Choice((True, False)),
        }

    def default_params(self, ctx: FitContext) -> dict:
        return {"n_estimators": 200, "max_features": 0.5 if not ctx.task.is_classification
                else 0.3, "min_samples_leaf": 1, "bootstrap": True}

    def build(self, params: dict, ctx: FitContext):
        cls = self.classifier if ctx.task.is_classification else self.regressor
        return cls(**params, n_jobs=ctx.n_jobs, random_state=ctx.seed)


class RandomForest(_Forest):
    name = "random_forest"
    classifier = RandomForestClassifier
    regressor = RandomForestRegressor


class ExtraTrees(_Forest):
    name = "extra_trees"
    classifier = ExtraTreesClassifier
    regressor = ExtraTreesRegressor
