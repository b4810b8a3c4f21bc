"""k-nearest neighbours and support-vector machines: for small data sets only."""

from __future__ import annotations

from modelyard.engine.training.families.base import (
    Choice,
    FitContext,
    Float,
    Int,
    ModelFamily,
    Space,
)
from modelyard.schemas import Profile


class KNearestNeighbors(ModelFamily):
    name = "knn"
    preprocessing = "scaled"
    title = "Nearest neighbours"
    summary = "predicts from the most similar rows"
    speed = "no training, slow predictions on big tables"
    accuracy = "good on small, smooth data"
    interpretability = "high: shows the similar rows"
    memory = "keeps every training row"
    why = "Predicts from the most similar rows; simple, good on small, smooth data."
    pros = ("simple: predicts from the most similar rows", "no training time")
    cons = ("compares each prediction against every training row",)
    max_rows = 200_000
    # Every validation row against every training row (brute force on one-hot data).
    time_exponent = 2.0
    flexible = True
    hold_back = {"n_neighbors": "at least"}
    hold_back_words = "more neighbours (n_neighbors) with uniform weights"

    def pros_cons(self, profile: Profile) -> tuple[list[str], list[str]]:
        cons = [f"each prediction compares against all {profile.n_rows} rows"]
        if len(profile.columns) > 30:
            cons.append("weak when there are many columns")
        return list(self.pros), cons

    def search_space(self, ctx: FitContext) -> Space:
        return {"n_neighbors": Int(1, 100, log=True), "weights": Choice(("uniform", "distance")),
                "p": Choice((1, 2))}

    def default_params(self, ctx: FitContext) -> dict:
        return {"n_neighbors": 5, "weights": "uniform", "p": 2}

    def build(self, params: dict, ctx: FitContext):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor  # linear.py

        cls = KNeighborsClassifier if ctx.task.is_classification else KNeighborsRegressor
        return cls(**params, n_jobs=ctx.n_jobs)


class SupportVectorMachine(ModelFamily):
    name = "svm"
    preprocessing = "scaled"
    title = "Support-vector machine"
    summary = "finds the widest margin between classes"
    speed = "slow beyond a few thousand rows"
    accuracy = "strong on small data"
    interpretability = "low"
    memory = "grows with the square of the rows"
    why = "Support-vector machine: strong on small data sets with clear margins."
    pros = ("strong on small data sets with clear margins",)
    cons = ("training time grows with the square of the rows", "hard to explain")
    max_rows = 20_000
    # A kernel matrix: between quadratic and cubic in the rows.
    time_exponent = 2.0
    flexible = True
    hold_back = {"C": "at most", "gamma": "at most"}
    hold_back_words = "a softer margin (smaller C) and a smoother boundary (smaller gamma)"

    def pros_cons(self, profile: Profile) -> tuple[list[str], list[str]]:
        return list(self.pros), [f"training time grows with the square of the rows "
                                 f"({profile.n_rows} here)", "hard to explain"]

    def search_space(self, ctx: FitContext) -> Space:
        return {"C": Float(1e-3, 1e3, log=True), "gamma": Float(1e-4, 1.0, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"C": 1.0, "gamma": 0.01}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The kernel cache and the dual problem grow with the square of the rows.
        return 4 * data_bytes + 8 * ctx.n_rows**2 // 4

    def build(self, params: dict, ctx: FitContext):
        from sklearn.calibration import CalibratedClassifierCV  # see linear.py
        from sklearn.svm import SVC, SVR

        if ctx.task.is_classification:
            # Platt-scaled probabilities from one SVC (what `probability=True` did).
            return CalibratedClassifierCV(SVC(**params, random_state=ctx.seed),
                                          method="sigmoid", ensemble=False, cv=3)
        return SVR(**params)
