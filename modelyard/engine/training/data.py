"""Load a Dataset's table for a Plan: features chosen, target encoded, rows kept in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from modelyard.engine.errors import PlanError
from modelyard.schemas import ColumnKind, Plan, Profile

FEATURE_KINDS = {ColumnKind.numeric, ColumnKind.boolean, ColumnKind.categorical}


@dataclass
class Features:
    """Which columns a model sees, and how each is to be treated."""

    numeric: list[str]
    categorical: list[str]
    id_column: str | None = None
    datetime: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.numeric + self.categorical + self.datetime + self.text


@dataclass
class TrainingData:
    X: pd.DataFrame
    y: np.ndarray
    features: Features
    classes: list[Any] = field(default_factory=list)  # original labels, index = class code
    groups: np.ndarray | None = None  # the validation's group column, row for row
    order: np.ndarray | None = None  # the validation's time column, row for row

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def choose_features(plan: Plan, profile: Profile) -> Features:
    numeric, categorical, dates, texts, id_column = [], [], [], [], None
    for col in profile.columns:
        if col.kind is ColumnKind.id and id_column is None and col.name != plan.target:
            id_column = col.name
        if col.name in plan.label_columns or col.name in plan.excluded_columns:
            continue
        if col.kind in (ColumnKind.numeric, ColumnKind.boolean):
            numeric.append(col.name)
        elif col.kind is ColumnKind.categorical:
            categorical.append(col.name)
        elif col.kind is ColumnKind.datetime:
            dates.append(col.name)
        elif col.kind is ColumnKind.text:
            texts.append(col.name)
    if not numeric and not categorical and not dates and not texts:
        raise PlanError("No column is left to learn from.",
                        "Include at least one numeric or categorical column in the plan.")
    return Features(numeric, categorical, id_column, dates, texts)


def read_table(path: Path, columns: list[str] | None = None,
               keep: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pl.read_parquet(path, columns=columns)
    # Boolean features become 0/1 floats so every numeric path treats them alike; the
    # columns in `keep` (the target) keep their values, so labels stay as in the file.
    booleans = pl.col(pl.Boolean).exclude(*keep) if keep else pl.col(pl.Boolean)
    frame = frame.with_columns(booleans.cast(pl.Float64))
    return frame.to_pandas()


def load_training_data(dataset_dir: Path, plan: Plan, profile: Profile,
                       train_path: Path | None = None) -> TrainingData:
    """The Plan's features and target from the data set's `train.parquet` (or from
    `train_path`, a copy of it: a worker joining a Run from another host)."""
    features = choose_features(plan, profile)
    extra = [c for c in (plan.validation.group_column, plan.validation.time_column)
             if c and c not in features.all and c != plan.target]
    table = read_table(train_path or dataset_dir / "train.parquet",
                       features.all + [plan.target] + extra, keep=(plan.target,))
    table = table[table[plan.target].notna()].reset_index(drop=True)
    groups = table[plan.validation.group_column].to_numpy() \
        if plan.validation.group_column else None
    order = table[plan.validation.time_column].to_numpy() \
        if plan.validation.time_column else None
    table = table.drop(columns=extra)
    if table.empty:
        raise PlanError(f"The target “{plan.target}” is missing in every row.",
                        "Choose another target column.")
    y_raw = table.pop(plan.target)
    if plan.task.is_classification:
        classes, codes = np.unique(y_raw.to_numpy(), return_inverse=True)
        if len(classes) < 2:
            raise PlanError(f"The target “{plan.target}” has a single class.",
                            "Choose another target column.")
        return TrainingData(table, codes.astype(np.int64), features,
                            [_plain(c) for c in classes], groups, order)
    return TrainingData(table, y_raw.to_numpy(dtype=np.float64), features,
                        groups=groups, order=order)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for JSON and for predictions)."""
    return value.item() if hasattr(value, "item") else value
