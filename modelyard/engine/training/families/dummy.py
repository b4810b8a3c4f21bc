"""Baseline that ignores the features: the floor every real model must clear."""

from __future__ import annotations

from modelyard.engine.training.families.base import FitContext, ModelFamily, Space


class Dummy(ModelFamily):
    name = "dummy"
    preprocessing = "none"  # it ignores the features: preparing them would be wasted time
    title = "Baseline"
    summary = "predicts the most common class or the average"
    speed = "instant"
    accuracy = "the score to beat"
    interpretability = "trivial"
    memory = "tiny"
    why = "A baseline that ignores the features: any real model must beat it."
    pros = ("instant", "shows the score any real model must beat")
    cons = ("ignores every feature",)

    def search_space(self, ctx: FitContext) -> Space:
        return {}

    def default_params(self, ctx: FitContext) -> dict:
        return {}

    def build(self, params: dict, ctx: FitContext):
        from sklearn.dummy import DummyClassifier, DummyRegressor  # see linear.py

        if ctx.task.is_classification:
            return DummyClassifier(strategy="prior")
        return DummyRegressor(strategy="mean")
