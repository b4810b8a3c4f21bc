"""The registry of model families: adding one is a small module and one line here."""

from __future__ import annotations

from modelyard.engine.training.families.base import FitContext, ModelFamily
from modelyard.engine.training.families.dummy import Dummy
from modelyard.engine.training.families.forests import ExtraTrees, RandomForest
from modelyard.engine.training.families.histgb import HistGradientBoosting
from modelyard.engine.training.families.lightgbm import LightGBM
from modelyard.engine.training.families.linear import Linear
from modelyard.engine.training.families.mlp import MLP
from modelyard.engine.training.families.neighbors import KNearestNeighbors, SupportVectorMachine
from modelyard.engine.training.families.xgboost import XGBoost
from modelyard.schemas import Family

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
