"""The label matrix of a multi-label Plan, and the set-ups that cannot train, said so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelyard.engine.errors import PlanError
from modelyard.schemas import Plan

# Fewer rows than this with (or without) a label, and its folds cannot learn it.
MIN_PER_SIDE = 3
# Values a 0/1 label column may hold (as read from CSV, Parquet or Excel).
_YES = {"1", "1.0", "true", "yes", "y", "t"}
_NO = {"0", "0.0", "false", "no", "n", "f"}


def split_labels(values: pd.Series, separator: str) -> list[list[str]]:
    """Each cell's labels, stripped; an empty or missing cell has none."""
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append([])
            continue
        out.append([t.strip() for t in str(value).split(separator) if t.strip()])
    return out


def as_zero_one(values: pd.Series, name: str) -> np.ndarray:
    """A 0/1 column as integers; anything else is a clear error naming the column."""
    if values.isna().any():
        raise PlanError(f"The label column “{name}” is empty in {int(values.isna().sum())} "
                        "row(s).", "Fill those cells with 0 or 1, or drop those rows.")
    words = values.astype(str).str.strip().str.lower()
    bad = sorted(set(words) - _YES - _NO)
    if bad:
        shown = ", ".join(f"“{b}”" for b in bad[:5])
        raise PlanError(f"The label column “{name}” holds values other than 0 and 1: "
                        f"{shown}.", "Multi-label columns must be 0/1 (or yes/no, true/"
                        "false). To predict one of several values, make it the only "
                        "target (a classification).")
    return words.isin(_YES).to_numpy().astype(np.int8)


def label_matrix(table: pd.DataFrame, plan: Plan) -> tuple[np.ndarray, list[str]]:
    """(rows × labels) 0/1 matrix and the label names, checked (`check_labels`)."""
    labels = plan.labels
    if labels is None:
        raise PlanError("This plan names no labels.", "Choose the label columns again.")
    if labels.columns:
        Y = np.column_stack([as_zero_one(table[c], c) for c in labels.columns])
        names = list(labels.columns)
    else:
        from sklearn.preprocessing import MultiLabelBinarizer

        lists = split_labels(table[plan.target], labels.separator)
        binarizer = MultiLabelBinarizer()
        Y = binarizer.fit_transform(lists).astype(np.int8)
        names = [str(c) for c in binarizer.classes_]
    check_labels(Y, names, plan)
    return Y, names


def check_labels(Y: np.ndarray, names: list[str], plan: Plan) -> None:
    """Refuse set-ups that cannot train, with the fix: one label, or a label that is
    (nearly) always on or always off."""
    where = (f"“{plan.target}”" if plan.labels and plan.labels.separator
             else "the label columns")
    if len(names) < 2:
        raise PlanError(f"{where} hold a single label ({', '.join(names) or 'none'}): "
                        "that is a yes/no question, not a multi-label one.",
                        "Train it as a single target (binary classification), or add the "
                        "other labels.")
    positives = Y.sum(axis=0)
    never = [n for n, p in zip(names, positives, strict=True) if p == 0]
    always = [n for n, p in zip(names, positives, strict=True) if p == len(Y)]
    if never or always:
        said = ([f"“{n}” is never 1" for n in never[:5]]
                + [f"“{n}” is always 1" for n in always[:5]])
        raise PlanError(f"Some labels have a single value in every row: {'; '.join(said)}. "
                        "There is nothing to learn for them.",
                        "Leave those labels out of the plan (or add rows where they "
                        "differ).")
    rare = [(n, int(min(p, len(Y) - p))) for n, p in zip(names, positives, strict=True)
            if min(p, len(Y) - p) < MIN_PER_SIDE]
    if rare:
        said = ", ".join(f"“{n}” ({k})" for n, k in rare[:5])
        raise PlanError(f"Some labels differ in too few rows for cross-validation to learn "
                        f"them: {said} (each label needs at least {MIN_PER_SIDE} rows with "
                        f"it and {MIN_PER_SIDE} without).",
                        "Leave those labels out of the plan, or add rows.")


def join_labels(Y: np.ndarray, names: list[str], separator: str) -> list[str]:
    """Each row's predicted labels joined with the separator the data used."""
    return [separator.join(n for n, on in zip(names, row, strict=True) if on) for row in Y]
