"""Logistic regression / ridge on scaled, one-hot features."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge

from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    FitContext,
    Float,
    ModelFamily,
    Space,
    class_weight,
)


class Linear(ModelFamily):
    name = "linear"
    preprocessing = "scaled"

    def search_space(self, ctx: FitContext) -> Space:
        if ctx.task.is_classification:
            return {"C": Float(1e-4, 1e3, log=True), "class_weight": CLASS_WEIGHT}
        return {"alpha": Float(1e-4, 1e3, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"C": 1.0, "class_weight": "none"} if ctx.task.is_classification \
            else {"alpha": 1.0}

    def build(self, params: dict, ctx: FitContext):
        if ctx.task.is_classification:
            return LogisticRegression(C=params["C"], max_iter=2000, random_state=ctx.seed,
                                      class_weight=class_weight(params))
        return Ridge(alpha=params["alpha"], random_state=ctx.seed)
