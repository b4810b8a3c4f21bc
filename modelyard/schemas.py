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
    forecast = "forecast"  # future values of a series from its past (Plan.forecast)
    # Several yes/no labels per row (several 0/1 columns, or one column of delimited
    # labels): trained by engine/multilabel, one model per label.
    multilabel = "multilabel"
    text_to_text = "text_to_text"  # an output text made from an input text column

    @property
    def is_classification(self) -> bool:
        return self in (Task.binary, Task.multiclass)


class Metric(StrEnum):
    roc_auc = "roc_auc"
    log_loss = "log_loss"
    accuracy = "accuracy"
    f1_macro = "f1_macro"
    rmse = "rmse"
    mae = "mae"
    r2 = "r2"
    mase = "mase"  # forecast error over the in-sample seasonal naive error
    smape = "smape"  # symmetric mean absolute percentage error, 0..200
    # Multi-label: F1 over every (row, label) cell, and the share of cells wrong.
    f1_micro = "f1_micro"
    hamming_loss = "hamming_loss"
    exact_match = "exact_match"  # share of outputs exactly right
    cer = "cer"  # character error rate: edits to fix the output / characters wanted

    @property
    def greater_is_better(self) -> bool:
        return self in {Metric.roc_auc, Metric.accuracy, Metric.f1_macro, Metric.r2,
                        Metric.f1_micro,
                        Metric.exact_match}

    @property
    def needs_proba(self) -> bool:
        return self in {Metric.roc_auc, Metric.log_loss}

    def fits(self, task: Task) -> bool:
        return self in METRICS_FOR_TASK[task]


METRICS_FOR_TASK: dict[Task, tuple[Metric, ...]] = {
    Task.binary: (Metric.roc_auc, Metric.log_loss, Metric.accuracy, Metric.f1_macro),
    Task.multiclass: (Metric.log_loss, Metric.accuracy, Metric.f1_macro, Metric.roc_auc),
    Task.regression: (Metric.rmse, Metric.mae, Metric.r2),
    Task.forecast: (Metric.mase, Metric.smape, Metric.rmse),
    # f1_macro is the mean of the labels' F1, roc_auc the mean of the labels' ROC AUC.
    Task.multilabel: (Metric.f1_micro, Metric.f1_macro, Metric.hamming_loss, Metric.roc_auc),
    Task.text_to_text: (Metric.exact_match, Metric.cer),
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


class MissingWords(BaseModel):
    """Cells of one column reading a word that often means "no value" (None, NA, null):
    among numbers or dates they are read as missing; in text, only when the person says
    so (`engine/intake/missing_words.py`)."""

    column: str
    counts: dict[str, int]  # the word as written -> how many cells read it
    values: str = "text"  # what the column's other cells are: "text", "numbers", "dates"
    as_missing: bool = False


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


class MixedSummary(BaseModel):
    """A table whose rows point at images (engine/intake/mixed.py): how many rows have a
    readable image, and which files were left out."""

    image_columns: list[str] = Field(default_factory=list)
    n_rows: int = 0
    n_with_image: int = 0  # rows with a readable image in every image column
    skipped: list[str] = Field(default_factory=list)  # "name: why", at most a few
    n_skipped: int = 0
    width: dict[str, float] = Field(default_factory=dict)  # min, median, max
    height: dict[str, float] = Field(default_factory=dict)
    n_test_images: int = 0


class AudioSummary(BaseModel):
    """What intake learnt of a folder of recordings (engine/intake/audio.py)."""

    n_clips: int
    n_classes: int
    class_counts: list[tuple[str, int]] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict)  # min, median, max
    sample_rates: list[tuple[int, int]] = Field(default_factory=list)  # (rate, clips)
    channels: list[tuple[int, int]] = Field(default_factory=list)  # (channels, clips)
    silent: list[str] = Field(default_factory=list)  # paths, at most a few
    n_silent: int = 0
    clipped: list[str] = Field(default_factory=list)
    n_clipped: int = 0
    duplicates: list[list[str]] = Field(default_factory=list)  # groups of same-content paths
    n_duplicates: int = 0  # clips that repeat an earlier one
    skipped: list[str] = Field(default_factory=list)  # "name: why", at most a few
    n_skipped: int = 0
    n_test_clips: int = 0


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
    # Set-ups that need their own kind of model ("multi_label", "forecasting",
    # "text_to_text") or that cannot be trained yet ("multi_output"), ...
    findings: dict[str, Any] = Field(default_factory=dict)
    missing_words: list[MissingWords] = Field(default_factory=list)
    audio: AudioSummary | None = None  # a folder of recordings (modality "audio")
    mixed: MixedSummary | None = None  # a table with image paths (modality "mixed")

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


class ForecastSetup(BaseModel):
    """How a forecasting Plan reads its table: which column is time, which names the
    series (None: one series), how far ahead to forecast and how to backtest."""

    model_config = ConfigDict(extra="forbid")

    time_column: str
    series_column: str | None = None
    horizon: int = Field(ge=1, le=10_000)
    # A pandas offset alias ("MS", "D", "W-SUN", "h", ...); inferred from the time column
    # when the plan is made, editable.
    frequency: str | None = Field(default=None, max_length=20)
    # Expanding-window backtests: each window trains on everything before it and scores
    # the next `horizon` steps; the windows end where the history ends.
    windows: int = Field(default=3, ge=1, le=20)
    # Columns known in advance (a price list, holidays): their future values come with
    # the history's next rows when forecasting.
    covariates: list[str] = Field(default_factory=list, max_length=50)
class Labels(BaseModel):
    """The labels of a multi-label Plan: several 0/1 columns (`columns`), or the Plan's
    target column holding delimited labels ("drama|comedy") split at `separator`."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(default_factory=list, max_length=500)
    separator: str | None = Field(default=None, min_length=1, max_length=5)
    # Delimited labels: the labels seen in training, in order (filled when known).
    names: list[str] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _one_way(self) -> Labels:
        if bool(self.columns) == bool(self.separator):
            raise ValueError("name the labels either as several 0/1 columns (columns) or "
                             "as one column of delimited labels (separator), not both")
        if self.columns and len(set(self.columns)) != len(self.columns):
            raise ValueError("each label column may appear only once")
        return self


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
    # Set for a forecast task only (absent in plans written before forecasting).
    forecast: ForecastSetup | None = None
    # A multi-label Plan's labels (task multilabel); None for every other task, and in
    # plans written before multi-label existed.
    labels: Labels | None = None

    @property
    def label_columns(self) -> list[str]:
        """The columns that hold what is predicted: the target, or every label column."""
        if self.labels is not None and self.labels.columns:
            return list(self.labels.columns)
        return [self.target]
    # Text to text: the column the output text is made from (None for other tasks).
    input_column: str | None = None

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
        if (self.task is Task.forecast) != (self.forecast is not None):
            raise ValueError("a forecast task needs its forecast set-up (time column, "
                             "horizon), and only a forecast task has one")
        if self.forecast is not None:
            # Backtests are time splits; the set-up's windows decide, this mirrors them
            # for the readers of `validation`.
            self.validation = Validation(
                kind=ValidationKind.time_split, time_column=self.forecast.time_column,
                n_splits=min(10, max(2, self.forecast.windows)))
        if (self.task is Task.multilabel) != (self.labels is not None):
            raise ValueError("a multilabel task needs its labels (labels), and only a "
                             "multilabel task has them")
        if self.labels is not None:
            if self.labels.columns and self.target != self.labels.columns[0]:
                raise ValueError("with label columns, the target is the first of them")
            if excluded := set(self.labels.columns) & set(self.excluded_columns):
                raise ValueError(f"label columns cannot also be excluded: "
                                 f"{', '.join(sorted(excluded))}")
            # Folds cannot keep the balance of several labels at once: shuffled folds.
            if self.validation.kind is ValidationKind.stratified_kfold:
                self.validation.kind = ValidationKind.kfold
        if self.task is Task.text_to_text and not self.input_column:
            raise ValueError("a text_to_text task needs input_column: the text column the "
                             "output is made from")
        if self.input_column is not None and self.input_column == self.target:
            raise ValueError("input_column must differ from the target")
        return self


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


# -- Records written by the launcher and the worker, read by the catalog and the pages --
#
# These are the contract between processes: the launcher and the worker write them into
# the run folder, the journal reader and the catalog sync read them back, the review and
# the pages display them. Files written by older versions must still read, so every field
# an older file may lack has a default, and unknown fields are kept (extra="allow") so a
# newer writer's additions survive a read-modify-write by an older reader.


class RunStatus(StrEnum):
    """Where a Run is in its life; `run.json` holds one of these."""

    queued = "queued"
    starting = "starting"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


ACTIVE_STATUSES = frozenset({RunStatus.queued, RunStatus.starting, RunStatus.running})
TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled})


class RunRecord(BaseModel):
    """What `run.json` holds: the Plan, the status and the worker's process identity."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: RunStatus
    name: str | None = None
    dataset_id: str | None = None
    dataset_dir: str | None = None
    plan_id: str | None = None
    plan: dict[str, Any] = Field(default_factory=dict)
    created_at: float | None = None
    queued_at: float | None = None
    launched_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float | None = None
    budget_seconds: float | None = None
    total_budget_seconds: float | None = None
    sessions: int = 1
    greater_is_better: bool | None = None
    # The launcher's child (the process group) and its start time, so that a reused pid
    # is not mistaken for the worker; the worker records its own pid too.
    pid: int | None = None
    pid_create_time: float | None = None
    worker_pid: int | None = None
    threads: int | None = None
    best_model: str | None = None
    best_score: float | None = None
    message: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    # The settings this Run was launched with, resolved (flag, environment, settings
    # file, default); empty in runs recorded before settings were.
    settings: dict[str, Any] = Field(default_factory=dict)
    # A database URL when the Run's search is shared with workers on other hosts
    # (engine/training/sharing.py); None: the Optuna journal file in the run folder.
    study_storage: str | None = None


class TrialStatus(StrEnum):
    """How a trial ended. `not_chosen` is an ensemble that did not beat its members."""

    complete = "complete"
    pruned = "pruned"
    failed = "failed"
    not_chosen = "not chosen"


class TrialResult(BaseModel):
    """One fitted configuration of a Run: what it was and how it scored."""

    model_config = ConfigDict(extra="allow")

    model: str
    family: str | None = None
    number: int | None = None
    state: TrialStatus
    params: dict[str, Any] = Field(default_factory=dict)
    cv_score: float | None = None
    cv_std: float | None = None
    fold_scores: list[float] = Field(default_factory=list)
    train_score: float | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    # Why it failed or stopped, or its score in words.
    message: str = ""
    finished_at: float | None = None
    # Image trials: epochs trained and where the starting weights came from.
    epochs: int | None = None
    weights: str | None = None
    # Who fitted it, "host (pid N)": set when a Run's search is shared by several workers.
    worker: str | None = None
    # Which layer the model is on: 1 (or None, in older journals) fitted on the data; 2
    # fitted on the first layer's out-of-fold predictions (a blend or a stack).
    layer: int | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _no_params(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("fold_scores", mode="before")
    @classmethod
    def _no_folds(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("message", mode="before")
    @classmethod
    def _no_message(cls, value: Any) -> Any:
        return "" if value is None else value


class EventKind(StrEnum):
    status = "status"
    log = "log"
    progress = "progress"
    trial = "trial"
    epoch = "epoch"
    result = "result"
    resource = "resource"


# The fields every journal line has; everything else on the line is its payload.
EVENT_FIELDS = ("seq", "ts", "kind", "message")


class Event(BaseModel):
    """One line of a Run's journal (`events.jsonl`).

    On disk a line is flat, `{"seq", "ts", "kind", "message", **payload}`, as it has
    always been, so older journals read unchanged; here the payload is `data`. A trial
    event's payload is a TrialResult (`trial`)."""

    seq: int
    ts: float | None = None  # lines of hand-written or very old journals may lack it
    kind: str  # an EventKind; left open so a newer writer's kinds still read
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _payload_from_line(cls, value: Any) -> Any:
        if isinstance(value, dict) and "data" not in value:
            core = {k: value[k] for k in EVENT_FIELDS if k in value}
            core["data"] = {k: v for k, v in value.items() if k not in EVENT_FIELDS}
            return core
        return value

    @classmethod
    def of_trial(cls, result: TrialResult, *, seq: int = 0,
                 ts: float | None = None) -> Event:
        """The journal event of a finished trial (its `finished_at` is the event's time)."""
        # Only what the writer set: a line holds what it always held.
        data = result.model_dump(exclude_unset=True, exclude_none=True,
                                 exclude={"message", "finished_at"})
        return cls(seq=seq, ts=ts, kind=EventKind.trial, message=result.message, data=data)

    @property
    def trial(self) -> TrialResult | None:
        """The trial this event records, or None for other kinds."""
        if self.kind != EventKind.trial:
            return None
        return TrialResult.model_validate(
            {**self.data, "message": self.message, "finished_at": self.ts})

    def line(self) -> dict[str, Any]:
        """The flat dictionary written as one journal line."""
        return {"seq": self.seq, "ts": self.ts, "kind": str(self.kind),
                "message": self.message, **self.data}


class BundleFormatError(ValueError):
    """A bundle's metadata is in a format this version cannot read."""


# Bundle formats this Modelyard reads, each with its step to the next format.
# 0: bundles written before metadata carried `format`; they had no date features.
BUNDLE_FORMAT = 1
MIN_BUNDLE_FORMAT = 0
_BUNDLE_UPGRADES = {0: lambda meta: {"datetime": [], "id_column": None, **meta}}


class BundleMetadata(BaseModel):
    """What a Model bundle's `metadata.json` holds; older formats are upgraded on read."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    format: int = BUNDLE_FORMAT
    kind: str | None = None  # "image" for image bundles; absent for tables
    created_at: float | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None
    model: str | None = None
    family: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    task: str | None = None
    metric: str | None = None
    cv_score: float | None = None
    target: str | None = None
    classes: list[Any] | None = None
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    datetime: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    dtypes: dict[str, str] = Field(default_factory=dict)
    # Words read as missing in text columns, as the training data was read ({column: words}):
    # new rows are read the same way before they are predicted.
    missing_words: dict[str, list[str]] = Field(default_factory=dict)
    id_column: str | None = None
    plan: dict[str, Any] | None = None
    threshold: dict[str, Any] | None = None  # binary: the default and the F1-optimal cut
    weights: str | None = None
    image_size: int | None = None
    # Written by an export: when, by which version, from which Run.
    bundle: dict[str, Any] | None = None
    # How the model predicts, in words ("the average of the 5 models its
    # cross-validation fitted"); and its layer (2: a blend or a stack). None: older.
    delivered: str | None = None
    layer: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, value: Any) -> Any:
        return cls.upgrade(value) if isinstance(value, dict) else value

    @staticmethod
    def upgrade(meta: dict[str, Any]) -> dict[str, Any]:
        """`meta` brought to the current format; BundleFormatError when it cannot be."""
        found = meta.get("format", 0)
        if not isinstance(found, int) or found > BUNDLE_FORMAT:
            raise BundleFormatError(
                f"This model was saved by a newer Modelyard (bundle format {found}; this "
                f"one reads formats {MIN_BUNDLE_FORMAT} to {BUNDLE_FORMAT}).")
        if found < MIN_BUNDLE_FORMAT:
            raise BundleFormatError(
                f"This model was saved in bundle format {found}, which this Modelyard no "
                f"longer reads (it reads {MIN_BUNDLE_FORMAT} to {BUNDLE_FORMAT}).")
        for version in range(found, BUNDLE_FORMAT):
            meta = {**_BUNDLE_UPGRADES[version](meta), "format": version + 1}
        return meta

    def as_dict(self) -> dict[str, Any]:
        """The fields the file holds (no defaults added), as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class ManifestEntry(BaseModel):
    """One file of a Model bundle: its path inside the bundle (with `/`), size, SHA-256."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BundleManifest(BaseModel):
    """What a Model bundle's `manifest.json` holds: every file of the bundle, written
    last (engine/training/manifest.py says what is checked on load, and what is not)."""

    format: int = 1
    algorithm: str = "sha256"
    created_at: float | None = None
    files: list[ManifestEntry] = Field(default_factory=list)
