"""A competition-style folder: `train.*`, `test.*`, maybe `sample_submission.csv` and
`images/`, recognised as one data set. The sample submission names the id column and the
columns a prediction must fill, which usually names the target too."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from modelyard.engine.intake.formats import TABLE_SUFFIXES

_SUBMISSION_NAMES = ("sample_submission", "samplesubmission", "sample-submission",
                     "submission_example", "submission_format", "submission")


@dataclass
class Competition:
    folder: Path
    train: Path
    test: Path | None = None
    sample_submission: Path | None = None
    images: Path | None = None
    submission_columns: list[str] = field(default_factory=list)


def _stem(path: Path) -> str:
    return path.name.lower().split(".")[0]


def _is_table(path: Path) -> bool:
    return any(s.lower() in TABLE_SUFFIXES or s.lower() == ".zip" for s in path.suffixes)


def find(folder: Path) -> Competition | None:
    """The competition layout of `folder`, or None when it is not one."""
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    tables = [f for f in files if _is_table(f)]
    train = next((f for f in tables if _stem(f) == "train"), None)
    if train is None:
        return None
    test = next((f for f in tables if _stem(f) == "test"), None)
    submission = next((f for f in tables if _stem(f).replace(" ", "_") in _SUBMISSION_NAMES),
                      None)
    images = next((d for d in (folder / "images", folder / "train_images") if d.is_dir()),
                  None)
    comp = Competition(folder, train, test, submission, images)
    if submission is not None:
        comp.submission_columns = header_of(submission)
    return comp


def header_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return next(csv.reader(fh), [])


def interpret(comp: Competition, train: pl.LazyFrame,
              test_columns: list[str] | None) -> dict:
    """What the sample submission says: the id column and the outputs expected, and
    which training column those outputs stand for."""
    cols = comp.submission_columns
    names = train.collect_schema().names()
    info: dict = {"sample_submission": comp.sample_submission.name
                  if comp.sample_submission else None,
                  "train_file": comp.train.name, "test_file": comp.test.name if comp.test
                  else None, "id_column": None, "output_columns": [], "target": None}
    if not cols:
        return info
    pool = set(test_columns or []) | set(names)
    if cols[0] in pool:
        info["id_column"] = cols[0]
        outputs = cols[1:]
    else:
        outputs = cols
    info["output_columns"] = outputs
    in_train = [c for c in outputs if c in names]
    if len(outputs) == 1 and in_train:
        info["target"] = outputs[0]
    elif len(outputs) > 1 and len(in_train) == len(outputs):
        info["target"] = outputs[0]
        info["multi_output"] = outputs
    elif len(outputs) > 1:
        # One column of probabilities per class: the target is the column with those values.
        wanted = {str(c) for c in outputs}
        for name in names:
            if name in pool - set(names):
                continue
            values = (train.select(pl.col(name).cast(pl.String).unique().head(len(wanted) + 1))
                      .collect().to_series().drop_nulls().to_list())
            if set(values) == wanted:
                info["target"] = name
                info["probabilities_per_class"] = True
                break
    return info
