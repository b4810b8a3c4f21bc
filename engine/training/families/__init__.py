"""The registry of model families: adding one is a small module and one line here."""

from __future__ import annotations

from engine.schemas import Family
from engine.training.families.base import FitContext, ModelFamily
from engine.training.families.dummy import Dummy
from engine.training.families.forests import ExtraTrees, RandomForest
from engine.training.families.histgb import HistGradientBoosting
from engine.training.families.lightgbm import LightGBM
from engine.training.families.linear import Linear
from engine.training.families.mlp import MLP
from engine.training.families.neighbors import KNearestNeighbors, SupportVectorMachine
from engine.training.families.xgboost import XGBoost

REGISTRY: dict[Family, ModelFamily] = {
    Family.dummy: Dummy(),
    Family.linear: Linear(),
    Family.lightgbm: LightGBM(),
    Family.xgboost: XGBoost(),
    Family.hist_gradient_boosting: HistGradientBoosting(),
    Family.random_forest: RandomForest(),
    Family.extra_trees: ExtraTrees(),
    Family.knn: KNearestNeighbors(),
    Family.svm: SupportVectorMachine(),
    Family.mlp: MLP(),
}


def get(family: Family | str) -> ModelFamily:
    return REGISTRY[Family(family)]


__all__ = ["REGISTRY", "FitContext", "ModelFamily", "get"]
