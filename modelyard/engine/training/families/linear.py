"""Logistic regression / ridge on scaled, one-hot features."""

from __future__ import annotations

import numpy as np

from modelyard.engine.training.families.base import (
    CLASS_WEIGHT,
    FitContext,
    Float,
    ModelFamily,
    Space,
    class_weight,
)
from modelyard.schemas import ColumnKind, Profile, Task


class Linear(ModelFamily):
    name = "linear"
    preprocessing = "scaled"
    title = "Linear model"
    summary = "adds up one weight per feature"
    speed = "fast"
    accuracy = "good when effects add up simply"
    interpretability = "high: one weight per feature"
    memory = "small"
    why = "Fast and easy to explain; strong when effects add up simply."
    pros = ("fast to train and to predict", "easy to explain: one weight per feature")
    cons = ("misses interactions and curved effects",)
    # C is searched for classification, alpha for regression.
    hold_back = {"C": "at most", "alpha": "at least"}
    explains_rows = True

    def hold_back_advice(self, task: Task) -> str:
        return f"a stronger penalty ({'smaller C' if task.is_classification else 'larger alpha'})"

    def pros_cons(self, profile: Profile) -> tuple[list[str], list[str]]:
        pros, cons = list(self.pros), list(self.cons)
        if any(c.kind is ColumnKind.categorical for c in profile.columns):
            cons.append("turns each category into its own column")
        return pros[:3], cons[:3]

    def own_importance(self, model):
        if not hasattr(model, "coef_"):
            return None
        return (np.abs(np.atleast_2d(model.coef_)).mean(axis=0),
                "|coefficient| on standardised features")

    def row_contributions(self, model, prepared, n_out: int):
        # Coefficient × value on the prepared (standardised) features, the intercept last.
        x = np.asarray(prepared, dtype=float)[0]
        coef = np.atleast_2d(model.coef_)
        intercept = np.atleast_1d(model.intercept_)
        return np.column_stack([coef * x, intercept])

    def search_space(self, ctx: FitContext) -> Space:
        if ctx.task.is_classification:
            return {"C": Float(1e-4, 1e3, log=True), "class_weight": CLASS_WEIGHT}
        return {"alpha": Float(1e-4, 1e3, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"C": 1.0, "class_weight": "none"} if ctx.task.is_classification \
            else {"alpha": 1.0}

    def build(self, params: dict, ctx: FitContext):
        # sklearn is imported here, not at the top: the registry is read by every CLI
        # command and page, and importing sklearn (with scipy) costs seconds there.
        from sklearn.linear_model import LogisticRegression, Ridge

        if ctx.task.is_classification:
            return LogisticRegression(C=params["C"], max_iter=2000, random_state=ctx.seed,
                                      class_weight=class_weight(params))
        return Ridge(alpha=params["alpha"], random_state=ctx.seed)
