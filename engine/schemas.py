"""The contract between the planner (rules or LLM), the UI, the worker and the catalog.

Everything here is plain data: enums, bounded numbers, column names. A Plan is never
code; the trusted executor in `engine.training` decides what each field means.
"""

from __future__ import annotations

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


class Family(StrEnum):
    """Model families the trusted executor knows how to build and search."""

    dummy = "dummy"
    linear = "linear"
    lightgbm = "lightgbm"
    xgboost = "xgboost"
    hist_gradient_boosting = "hist_gradient_boosting"
    random_forest = "random_forest"
    extra_trees = "extra_trees"
    knn = "knn"
    svm = "svm"
    mlp = "mlp"


class ColumnKind(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"
    datetime = "datetime"
    text = "text"
    id = "id"
    constant = "constant"


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


class Profile(BaseModel):
    n_rows: int
    n_cols: int
    modality: str = "tabular"
    columns: list[ColumnProfile]
    target: TargetGuess | None = None
    warnings: list[Warning_] = Field(default_factory=list)
    duplicate_rows: int = 0

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class ValidationKind(StrEnum):
    kfold = "kfold"
    stratified_kfold = "stratified_kfold"
    holdout = "holdout"


class Validation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ValidationKind = ValidationKind.stratified_kfold
    n_splits: int = Field(default=5, ge=2, le=10)
    holdout_fraction: float = Field(default=0.2, ge=0.05, le=0.5)


class FamilyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: Family
    max_trials: int = Field(default=50, ge=1, le=1000)
    reason: str = ""


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

    def check_against(self, profile: Profile) -> list[str]:
        """Problems of meaning: names that do not exist, a task the target cannot have."""
        problems = []
        names = set(profile.column_names)
        if self.target not in names:
            problems.append(f"target column {self.target!r} does not exist")
        missing = [c for c in self.excluded_columns if c not in names]
        if missing:
            problems.append(f"excluded columns do not exist: {', '.join(map(repr, missing))}")
        if self.target in names:
            col = profile.column(self.target)
            if self.task is Task.regression and col.kind is not ColumnKind.numeric:
                problems.append(f"regression needs a numeric target; {self.target!r} is not")
            if self.task is Task.binary and col.n_distinct != 2:
                problems.append(
                    f"a binary task needs exactly 2 classes; {self.target!r} has "
                    f"{col.n_distinct}"
                )
            if self.task.is_classification and col.n_distinct < 2:
                problems.append(f"{self.target!r} has a single value: nothing to learn")
        return problems


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
