"""The contract between the planner (rules or LLM), the UI, the worker and the catalog.

Everything here is plain data: enums, bounded numbers, column names. A Plan is never
code; the trusted executor in `engine.training` decides what each field means.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Task(StrEnum):
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"

    @property
    def is_classification(self) -> bool:
        return self is not Task.regression


class Metric(StrEnum):
    roc_auc = "roc_auc"
    log_loss = "log_loss"
    accuracy = "accuracy"
    f1_macro = "f1_macro"
    rmse = "rmse"
    mae = "mae"
    r2 = "r2"

    @property
    def greater_is_better(self) -> bool:
        return self in {Metric.roc_auc, Metric.accuracy, Metric.f1_macro, Metric.r2}

    @property
    def needs_proba(self) -> bool:
        return self in {Metric.roc_auc, Metric.log_loss}

    def fits(self, task: Task) -> bool:
        return self in METRICS_FOR_TASK[task]


METRICS_FOR_TASK: dict[Task, tuple[Metric, ...]] = {
    Task.binary: (Metric.roc_auc, Metric.log_loss, Metric.accuracy, Metric.f1_macro),
    Task.multiclass: (Metric.log_loss, Metric.accuracy, Metric.f1_macro, Metric.roc_auc),
    Task.regression: (Metric.rmse, Metric.mae, Metric.r2),
}


class ColumnKind(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"
    datetime = "datetime"
    text = "text"
    id = "id"
    constant = "constant"
    image = "image"  # a path to an image file
    ignored = "ignored"  # set aside by the person (role "ignore"); never a feature


class ColumnRole(StrEnum):
    """What a person says a column is, overriding what the profile detected."""

    ignore = "ignore"
    id = "id"
    group = "group"
    time = "time"
    text = "text"


class ColumnProfile(BaseModel):
    name: str
    dtype: str
    kind: ColumnKind
    n_missing: int
    missing_share: float
    n_distinct: int
    top_values: list[tuple[str, int]] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    # Added with the in-depth profile; all optional so older profile.json files still load.
    role: ColumnRole | None = None
    detected_kind: ColumnKind | None = None  # the kind before `role` overrode it
    quantiles: dict[str, float] = Field(default_factory=dict)  # "5%", "25%", "50%", ...
    histogram: list[tuple[float, float, int]] = Field(default_factory=list)  # (lo, hi, n)
    text_length: dict[str, float] = Field(default_factory=dict)  # min, mean, max chars
    top_share: float | None = None  # share of rows holding the most common value
    association: float | None = None  # 0..1 strength of the link with the target
    association_method: str = ""
    alone_score: float | None = None  # held-out score of this column alone predicting
    drift: float | None = None  # 0..1 train/test distribution difference


class TargetGuess(BaseModel):
    column: str
    task: Task
    confidence: float = Field(ge=0, le=1)
    reason: str


class Warning_(BaseModel):
    """A data-quality finding a person can act on."""

    severity: str  # "info" | "warning" | "error"
    column: str | None = None
    message: str
    action: str = ""
    code: str = ""  # stable kind of finding, e.g. "constant", "leakage", "multi_label"
    suggested_role: ColumnRole | None = None  # the one-click fix, when there is one


class ImageSummary(BaseModel):
    n_images: int
    n_classes: int
    class_counts: list[tuple[str, int]] = Field(default_factory=list)
    width: dict[str, float] = Field(default_factory=dict)  # min, median, max
    height: dict[str, float] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)  # "name: why", at most a few
    n_skipped: int = 0
    n_test_images: int = 0


class Correlations(BaseModel):
    columns: list[str] = Field(default_factory=list)
    values: list[list[float | None]] = Field(default_factory=list)


class Profile(BaseModel):
    n_rows: int
    n_cols: int
    modality: str = "tabular"
    columns: list[ColumnProfile]
    target: TargetGuess | None = None
    warnings: list[Warning_] = Field(default_factory=list)
    duplicate_rows: int = 0
    # Added with the in-depth profile; defaults keep older profile.json files loading.
    source: dict[str, Any] = Field(default_factory=dict)  # format, encoding, delimiter, ...
    sampled_rows: int | None = None  # rows behind the sample-based statistics
    target_candidates: list[TargetGuess] = Field(default_factory=list)
    class_balance: list[tuple[str, int]] = Field(default_factory=list)
    correlations: Correlations | None = None
    time_column: str | None = None  # the rows look ordered by this column
    test_rows: int | None = None
    train_test_overlap: int = 0
    images: ImageSummary | None = None
    competition: dict[str, Any] | None = None  # id column, expected output columns
    # Set-ups we recognise but cannot train yet: "multi_label", "forecasting", ...
    findings: dict[str, Any] = Field(default_factory=dict)

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# A numeric target with more distinct values than this is a quantity, not a class.
MAX_CLASSES = 100
# Column kinds the tabular models do not use as features (free text they do: TF-IDF).
UNUSED_KINDS = frozenset({ColumnKind.id, ColumnKind.constant, ColumnKind.ignored,
                          ColumnKind.image})


class ValidationKind(StrEnum):
    kfold = "kfold"
    stratified_kfold = "stratified_kfold"
    holdout = "holdout"
    group_kfold = "group_kfold"  # rows sharing `group_column` stay in one fold
    time_split = "time_split"  # train on the past, validate on what follows (`time_column`)


class Validation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ValidationKind = ValidationKind.stratified_kfold
    n_splits: int = Field(default=5, ge=2, le=10)
    holdout_fraction: float = Field(default=0.2, ge=0.05, le=0.5)
    group_column: str | None = None
    time_column: str | None = None

    @model_validator(mode="after")
    def _needs_its_column(self) -> Validation:
        if self.kind is ValidationKind.group_kfold and not self.group_column:
            raise ValueError("group_kfold needs group_column: the column whose rows must "
                             "stay together")
        if self.kind is ValidationKind.time_split and not self.time_column:
            raise ValueError("time_split needs time_column: the column that orders rows in "
                             "time")
        return self


class FamilyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A registered family's name (engine/training/families). Checked by plan_problems,
    # not here: this module imports nothing from the engine.
    family: str = Field(pattern=r"^[a-z0-9_]+$", max_length=40)
    max_trials: int = Field(default=50, ge=1, le=1000)
    reason: str = ""
    # What this family is good and bad at for this data (speed, accuracy, memory, ...).
    pros: list[str] = Field(default_factory=list, max_length=8)
    cons: list[str] = Field(default_factory=list, max_length=8)
    # Narrower ranges for numeric settings the family searches, {setting: [low, high]},
    # either end null for "no limit": the search stays inside them (the review sets these
    # for a family that memorises).
    limits: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict,
                                                                 max_length=20)

    @field_validator("limits")
    @classmethod
    def _ordered_limits(cls, limits: dict[str, tuple[float | None, float | None]]):
        for name, (low, high) in limits.items():
            ends = [x for x in (low, high) if x is not None]
            if not ends or not all(math.isfinite(x) for x in ends) or (
                    len(ends) == 2 and low > high):
                raise ValueError(f"limits of {name!r} must be [low, high] with low ≤ high "
                                 "(null for no limit at that end)")
        return limits


class Plan(BaseModel):
    """A typed, validated training recipe."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str
    target: str
    task: Task
    metric: Metric
    validation: Validation = Field(default_factory=Validation)
    families: list[FamilyChoice] = Field(min_length=1, max_length=8)
    excluded_columns: list[str] = Field(default_factory=list, max_length=10_000)
    budget_seconds: int = Field(default=300, ge=5, le=7 * 24 * 3600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    rationale: str = ""
    # The person's request in their own words, and how the planner read it.
    goal: str = ""
    goal_reading: str = ""
    # Why each choice was made, keyed by field name ("target", "metric", ...).
    reasons: dict[str, str] = Field(default_factory=dict)

    @field_validator("families")
    @classmethod
    def _distinct_families(cls, value: list[FamilyChoice]) -> list[FamilyChoice]:
        names = [f.family for f in value]
        if len(set(names)) != len(names):
            raise ValueError("each model family may appear only once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if not self.metric.fits(self.task):
            fitting = ", ".join(m.value for m in METRICS_FOR_TASK[self.task])
            raise ValueError(
                f"metric {self.metric.value} does not fit a {self.task.value} task "
                f"(choose one of: {fitting})"
            )
        if self.task is Task.regression and self.validation.kind is ValidationKind.stratified_kfold:
            self.validation.kind = ValidationKind.kfold
        if self.target in self.excluded_columns:
            raise ValueError(f"the target {self.target!r} cannot also be excluded")
        return self


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
