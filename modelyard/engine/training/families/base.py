"""The contract every model family fulfils, and search-space parameters as data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from modelyard.schemas import Task


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]


Space = dict[str, Float | Int | Choice]

# Reweighting classes helps some metrics on imbalanced data and hurts others: searched.
CLASS_WEIGHT = Choice(("none", "balanced"))


def class_weight(params: dict[str, Any]) -> str | None:
    """The estimator's `class_weight` from the searched "none"/"balanced" choice."""
    return None if params.get("class_weight", "none") == "none" else "balanced"


def without(params: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in names}


def shrink(params: dict[str, Any], space: Space, **factors: float) -> dict[str, Any] | None:
    """`params` with each named integer parameter multiplied by its factor, kept inside
    the search space (Optuna replays a queued trial through it); None if none moved."""
    out = dict(params)
    for name, factor in factors.items():
        spec = space.get(name)
        if not isinstance(spec, Int) or name not in params:
            continue
        value = int(params[name] * factor)
        if factor > 1 and value == params[name]:
            value += 1
        out[name] = min(spec.high, max(spec.low, value))
    return None if out == params else out


def columns(ctx: FitContext, data_bytes: int) -> int:
    """About how many 8-byte columns the data has (for estimates that scale with them)."""
    return max(1, data_bytes // max(1, 8 * ctx.n_rows))


@dataclass(frozen=True)
class FitContext:
    """What a family may know when building an estimator."""

    task: Task
    n_rows: int
    n_classes: int
    n_jobs: int
    seed: int


class ModelFamily(ABC):
    """One pluggable family: a search space, its defaults, and an estimator factory.

    `preprocessing` names what the features need before the estimator:
    "scaled" (impute, scale, one-hot), "native" (categories as pandas categories,
    missing values left for the model), "ordinal" (category codes) or "none". It never
    depends on the searched parameters: the trainer prepares each fold once per kind
    and every trial of that kind reuses it (`folds.py`).
    """

    name: ClassVar[str]
    preprocessing: ClassVar[str] = "scaled"

    @abstractmethod
    def search_space(self, ctx: FitContext) -> Space:
        """Bounded hyperparameters to search; empty for families with nothing to tune."""

    @abstractmethod
    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        """The configuration tried first: the library's own sensible defaults."""

    @abstractmethod
    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        """A fresh, unfitted scikit-learn compatible estimator."""

    def memory_bytes(self, params: dict[str, Any], ctx: FitContext, data_bytes: int) -> int:
        """A rough upper bound of the memory one fit needs, checked against free RAM
        before the fit starts (Linux kills a process that runs out, it does not raise)."""
        return 4 * data_bytes

    def smaller(self, params: dict[str, Any], ctx: FitContext) -> dict[str, Any] | None:
        """A configuration like `params` that needs less memory, to retry with after
        `params` ran out of it; None when the family has no such knob or is at its floor."""
        return None

    def fit_params(self, deadline: float | None) -> dict[str, Any]:
        """Extra arguments for `fit` during the search: a family that can stop mid-fit
        returns the hook that stops it at `deadline` (raising `OutOfTime`)."""
        return {}
