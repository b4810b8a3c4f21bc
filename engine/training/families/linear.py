"""Logistic regression / ridge on scaled, one-hot features."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge

from engine.training.families.base import FitContext, Float, ModelFamily, Space


class Linear(ModelFamily):
    name = "linear"
    preprocessing = "scaled"

    def search_space(self, ctx: FitContext) -> Space:
        if ctx.task.is_classification:
            return {"C": Float(1e-4, 1e3, log=True)}
        return {"alpha": Float(1e-4, 1e3, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"C": 1.0} if ctx.task.is_classification else {"alpha": 1.0}

    def build(self, params: dict, ctx: FitContext):
        if ctx.task.is_classification:
            return LogisticRegression(C=params["C"], max_iter=2000, random_state=ctx.seed)
        return Ridge(alpha=params["alpha"], random_state=ctx.seed)
