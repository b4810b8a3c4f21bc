"""The contract every model family fulfils, and search-space parameters as data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from modelyard.schemas import Profile, Task


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


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether an NVIDIA GPU is there for the families that can train on one."""
    from modelyard.engine.system import gpus

    return bool(gpus())


def columns(ctx: FitContext, data_bytes: int) -> int:
    """About how many 8-byte columns the data has (for estimates that scale with them)."""
    return max(1, data_bytes // max(1, 8 * ctx.n_rows))


def tree_pros_cons(family: ModelFamily, profile: Profile) -> tuple[list[str], list[str]]:
    """A tree family's words for this data: trees cope with gaps, and overfit small tables."""
    pros, cons = list(family.pros), list(family.cons)
    if any(c.n_missing for c in profile.columns):
        pros.append("copes with the missing values in this data")
    if profile.n_rows < 500:
        cons.append(f"can overfit a small table ({profile.n_rows} rows)")
    return pros[:3], cons[:3]


@dataclass(frozen=True)
class FitContext:
    """What a family may know when building an estimator."""

    task: Task
    n_rows: int
    n_classes: int
    n_jobs: int
    seed: int


class ModelFamily(ABC):
    """One pluggable family: every fact about it, a search space, its defaults, and an
    estimator factory. Nothing outside the family's module is keyed by its name: the
    planners, the review, the plan check, the explanations and the export read these
    attributes from the registry, and the contract suite fails when one is missing.

    `preprocessing` names what the features need before the estimator:
    "scaled" (impute, scale, one-hot), "native" (categories as pandas categories,
    missing values left for the model), "ordinal" (category codes) or "none". It never
    depends on the searched parameters: the trainer prepares each fold once per kind
    and every trial of that kind reuses it (`folds.py`).
    """

    name: ClassVar[str]  # the registered name a Plan uses: lowercase, digits, underscores
    preprocessing: ClassVar[str] = "scaled"
    modality: ClassVar[str] = "tabular"  # the kind of data set it trains on: tabular, image
    # Words for people: a title, then what it is, how fast, how accurate, how explainable
    # and how hungry for memory it is (the prompt and the plan card), and one sentence a
    # plan gives as its reason to choose the family.
    title: ClassVar[str]
    summary: ClassVar[str]
    speed: ClassVar[str]
    accuracy: ClassVar[str]
    interpretability: ClassVar[str]
    memory: ClassVar[str]
    why: ClassVar[str]
    # Its strengths and weaknesses whatever the data (`pros_cons` adds data-specific ones).
    pros: ClassVar[tuple[str, ...]]
    cons: ClassVar[tuple[str, ...]]
    # The most rows it can finish on: its cost grows too fast beyond (None: no limit).
    max_rows: ClassVar[int | None] = None
    # How its fit-and-predict time grows with the rows, as t ~ rows ** time_exponent:
    # a trial on many rows is judged by a fit on a sample before it starts (see
    # `Trainer._estimate`), scaled up by this power.
    time_exponent: ClassVar[float] = 1.0
    # Whether a planner offers it without a GPU: the table networks cost 30-360 times
    # LightGBM's time on a CPU (bench/RESULTS.md), so on a CPU only a person adds them.
    offered_on_cpu: ClassVar[bool] = True
    # Whether it can learn far more than a linear model (and so overfit): the review
    # trims the search of flexible families when a run overfits.
    flexible: ClassVar[bool] = False
    # The searched settings a review may limit to hold it back when it memorises, and
    # which way: "at most" caps a setting that adds capacity, "at least" floors one that
    # adds regularisation; and what holds it back, in words.
    hold_back: ClassVar[dict[str, str]] = {}
    # Settings a fit learns on its validation fold (a booster's number of rounds) rather
    # than searched: a Plan's limits on them cap or floor what is learnt.
    learnt: ClassVar[tuple[str, ...]] = ()
    # Whether a fit can end its boosting at a time and keep the model it has (`until` in
    # `fit_params`): a trial's share of the time then bounds it (`Trainer._trial_seconds`).
    cuts_short: ClassVar[bool] = False
    hold_back_words: ClassVar[str] = "a simpler configuration"
    # Whether a fitted model gives per-row contributions (`row_contributions`).
    explains_rows: ClassVar[bool] = False
    # Whether its search takes a Plan's `limits` (the image search does not).
    takes_limits: ClassVar[bool] = True
    # Proven starting configurations, tried in order right after the defaults and before
    # the search proposes its own: partial settings over `default_params`, from a
    # published zero-shot portfolio where one exists (see `portfolio.py`).
    portfolio: ClassVar[tuple[dict[str, Any], ...]] = ()
    # pip packages a bundle of it needs beyond scikit-learn and the data libraries.
    packages: ClassVar[tuple[str, ...]] = ()

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

    def fit_params(self, deadline: float | None, valid: tuple[Any, Any] | None = None,
                   until: float | None = None) -> dict[str, Any]:
        """Extra arguments for `fit` during the search: a family that can stop mid-fit
        returns the hook that stops it at `deadline` (raising `OutOfTime`); one that
        stops early takes `valid`, the fold's prepared validation rows and their
        targets, to learn its number of rounds on (see `learnt_params`); one that
        `cuts_short` ends its boosting at `until` and keeps the model it has."""
        return {}

    def fit(self, model: Any, X: Any, y: Any, deadline: float | None = None,
            valid: tuple[Any, Any] | None = None, until: float | None = None) -> Any:
        """Fit `model` on one fold of the search, with `fit_params`' hooks."""
        return model.fit(X, y, **self.fit_params(deadline, valid=valid, until=until))

    def learnt_params(self, model: Any) -> dict[str, Any]:
        """What a fit on a fold learnt that the final model should use (a booster's
        number of rounds found by early stopping), as parameters for `build`; the
        trainer averages them over the folds. Empty when it learns nothing."""
        return {}

    def unavailable(self, task: Task) -> str | None:
        """Why it cannot train here for `task` (a missing package or weights file, and
        what to do), or None when it can. Most families always can."""
        return None

    def fits_table(self, profile: Profile, target: str, task: Task) -> str | None:
        """Why it cannot train on this table here (unavailable, or the table is beyond
        the sizes it handles), or None when it can; the rule planner leaves it out then."""
        return self.unavailable(task)

    def run_note(self, task: Task) -> str | None:
        """A line the Run's journal writes when the family is in its plan (the
        pretrained weights it uses); None for nothing to say."""
        return None

    def plan_reason(self, task: Task) -> str:
        """The plan's reason to choose it (what a person reads on the Plan page)."""
        return self.why

    def hold_back_advice(self, task: Task) -> str:
        """What makes it memorise less, in words (for the review and its prompt)."""
        return self.hold_back_words

    def pros_cons(self, profile: Profile) -> tuple[list[str], list[str]]:
        """Its strengths and weaknesses for this data, at most three of each."""
        return list(self.pros)[:3], list(self.cons)[:3]

    def own_importance(self, model: Any) -> tuple[Any, str] | None:
        """The fitted model's own importance per prepared feature and what it measures;
        None when it has none."""
        raw = getattr(model, "feature_importances_", None)
        return None if raw is None else (raw, "impurity decrease")

    def row_contributions(self, model: Any, prepared: Any, n_out: int) -> Any:
        """Per-output contributions of each prepared feature to the first row's raw
        prediction, the bias last: shape (n_out, n_features + 1). Only where
        `explains_rows` is true."""
        raise NotImplementedError(f"{self.name} gives no per-row contributions")
