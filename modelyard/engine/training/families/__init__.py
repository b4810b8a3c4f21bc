"""The registry of model families: adding one is a small module and one line in
`FAMILY_CLASSES`. Everything else (the `Family` names, the planners, the review, the plan
check, the explanations, the export) reads the families from here.
"""

from __future__ import annotations

from enum import StrEnum

from modelyard.engine.training.families.base import FitContext, ModelFamily
from modelyard.engine.training.families.catboost import CatBoost
from modelyard.engine.training.families.dummy import Dummy
from modelyard.engine.training.families.forests import ExtraTrees, RandomForest
from modelyard.engine.training.families.fusion import LateFusion
from modelyard.engine.training.families.histgb import HistGradientBoosting
from modelyard.engine.training.families.images import ConvNeXtNano, EfficientNetB0, ResNet18
from modelyard.engine.training.families.lightgbm import LightGBM
from modelyard.engine.training.families.linear import Linear
from modelyard.engine.training.families.mlp import MLP
from modelyard.engine.training.families.neighbors import KNearestNeighbors, SupportVectorMachine
from modelyard.engine.training.families.realmlp import RealMLP
from modelyard.engine.training.families.series import SERIES_FAMILIES
from modelyard.engine.training.families.tabicl import TabICL
from modelyard.engine.training.families.tabm import TabM
from modelyard.engine.training.families.tabpfn import TabPFN
from modelyard.engine.training.families.text_to_text import (
    CharTransformerFamily,
    CopyInput,
    FrequentOutput,
    T5Small,
)
from modelyard.engine.training.families.xgboost import XGBoost

# One line per family; the order is the order people see them in.
FAMILY_CLASSES: list[type[ModelFamily]] = [
    Dummy,
    Linear,
    LightGBM,
    XGBoost,
    CatBoost,
    HistGradientBoosting,
    RandomForest,
    ExtraTrees,
    KNearestNeighbors,
    SupportVectorMachine,
    MLP,
    ResNet18,
    EfficientNetB0,
    ConvNeXtNano,
    *SERIES_FAMILIES,
    CopyInput,
    FrequentOutput,
    CharTransformerFamily,
    T5Small,
    LateFusion,
    TabPFN,
    TabICL,
    RealMLP,
    TabM,
]

REGISTRY: dict[str, ModelFamily] = {cls.name: cls() for cls in FAMILY_CLASSES}
# The names a Plan may use, as an enum for code and JSON schemas (a Plan stores the name).
Family = StrEnum("Family", [(cls.name, cls.name) for cls in FAMILY_CLASSES])


def get(family: str) -> ModelFamily:
    """The registered family of this name (KeyError when there is none)."""
    return REGISTRY[str(family)]


def known(family: str) -> bool:
    return str(family) in REGISTRY


def named(modality: str) -> list[str]:
    """The names of the families that train on this modality ("tabular", "image",
    "series")."""
    return [name for name, f in REGISTRY.items() if f.modality == modality]


def is_image(family: str) -> bool:
    return known(family) and get(family).modality == "image"


def title(family: str) -> str:
    """The family's name for people; the name itself when it is not registered."""
    return get(family).title if known(family) else str(family)


__all__ = ["FAMILY_CLASSES", "REGISTRY", "Family", "FitContext", "ModelFamily", "get",
           "is_image", "known", "named", "title"]
