"""k-nearest neighbours and support-vector machines: for small data sets only."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR

from modelyard.engine.training.families.base import (
    Choice,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
)


class KNearestNeighbors(ModelFamily):
    name = "knn"
    preprocessing = "scaled"

    def search_space(self, ctx: FitContext) -> Space:
        return {"n_neighbors": Int(1, 100, log=True), "weights": Choice(("uniform", "distance")),
                "p": Choice((1, 2))}

    def default_params(self, ctx: FitContext) -> dict:
        return {"n_neighbors": 5, "weights": "uniform", "p": 2}

    def build(self, params: dict, ctx: FitContext):
        cls = KNeighborsClassifier if ctx.task.is_classification else KNeighborsRegressor
        return cls(**params, n_jobs=ctx.n_jobs)


class SupportVectorMachine(ModelFamily):
    name = "svm"
    preprocessing = "scaled"

    def search_space(self, ctx: FitContext) -> Space:
        return {"C": Float(1e-3, 1e3, log=True), "gamma": Float(1e-4, 1.0, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"C": 1.0, "gamma": 0.01}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The kernel cache and the dual problem grow with the square of the rows.
        return 4 * data_bytes + 8 * ctx.n_rows**2 // 4

    def build(self, params: dict, ctx: FitContext):
        if ctx.task.is_classification:
            # Platt-scaled probabilities from one SVC (what `probability=True` did).
            return CalibratedClassifierCV(SVC(**params, random_state=ctx.seed),
                                          method="sigmoid", ensemble=False, cv=3)
        return SVR(**params)
