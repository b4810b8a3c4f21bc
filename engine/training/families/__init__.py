"""The registry of model families: adding one is a small module and one line here."""

from __future__ import annotations

from engine.schemas import Family
from engine.training.families.base import FitContext, ModelFamily
from engine.training.families.dummy import Dummy
from engine.training.families.lightgbm import LightGBM
from engine.training.families.linear import Linear

REGISTRY: dict[Family, ModelFamily] = {
    Family.dummy: Dummy(),
    Family.linear: Linear(),
    Family.lightgbm: LightGBM(),
}


def get(family: Family | str) -> ModelFamily:
    return REGISTRY[Family(family)]


__all__ = ["REGISTRY", "FitContext", "ModelFamily", "get"]
