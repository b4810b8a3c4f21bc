"""New rows in, predictions out: the file read as training files are read, its columns
checked against the model's (each problem named with what will happen), then predicted in
batches with progress."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.escape import Keep, for_spreadsheets
from modelyard.engine.training.bundle import Predictor
from modelyard.engine.training.data import read_table

Progress = Callable[[float, str], None]
BATCH_ROWS = 20_000


@dataclass
class ColumnIssue:
    column: str
    problem: str  # "missing" | "extra" | "type" | "no id"
    detail: str
    consequence: str


@dataclass
class InputCheck:
    """What a new table looks like next to the training columns."""

    rows: int
    issues: list[ColumnIssue] = field(default_factory=list)
    usable: list[str] = field(default_factory=list)  # model columns the file has

    @property
    def missing(self) -> list[str]:
        return [i.column for i in self.issues if i.problem == "missing"]

    @property
    def ok(self) -> bool:
        """Nothing to warn about."""
        return not [i for i in self.issues if i.problem != "extra"]

    def rows_for_display(self) -> list[dict[str, str]]:
        return [{"column": i.column, "problem": i.problem, "detail": i.detail,
                 "what will happen": i.consequence} for i in self.issues]

    def lines(self) -> list[str]:
        return [f"{i.column}: {i.detail} → {i.consequence}" for i in self.issues]


def read_input(path: Path, workdir: Path | None = None) -> pd.DataFrame:
    """A table file (CSV, TSV, Parquet, JSON, Excel, gzip) read exactly as training files
    are: the same sniffing, column-name cleaning and type inference."""
    from modelyard.engine.intake.ingest import convert

    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path}: no such file.", "Check the path and try again.")
    if path.is_dir():
        raise BadInputError(f"{path} is a folder, not a table.", "Point to a table file.")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        dest = Path(tmp) / "input.parquet"
        convert(path, dest)
        frame = read_table(dest)
    if frame.empty:
        raise BadInputError(f"{path.name} has no rows.", "Choose a file with rows to predict.")
    return frame


def check_input(predictor: Predictor, frame: pd.DataFrame) -> InputCheck:
    """Missing, extra and wrongly typed columns, each with what will happen to it."""
    meta = predictor.meta
    check = InputCheck(rows=len(frame))
    columns = set(frame.columns)
    for col in predictor.features:
        if col not in columns:
            check.issues.append(ColumnIssue(
                col, "missing", "the model uses this column; the file lacks it",
                "treated as unknown in every row: predictions are less reliable"))
            continue
        check.usable.append(col)
        issue = _type_issue(col, frame[col], meta)
        if issue:
            check.issues.append(issue)
    id_column = meta.get("id_column")
    if id_column and id_column not in columns:
        check.issues.append(ColumnIssue(
            id_column, "no id", "the id column of the training data is absent",
            "predictions are in the file's row order, without ids"))
    known = set(predictor.features) | {id_column, meta.get("target")}
    label_columns = set(meta.get("labels") or []) if not meta.get("separator") else set()
    for col in frame.columns:
        if col == meta.get("target") or col in label_columns:
            check.issues.append(ColumnIssue(col, "extra", "this is what the model predicts",
                                            "ignored: the model predicts it anew"))
        elif col not in known:
            check.issues.append(ColumnIssue(col, "extra", "not used by the model",
                                            "ignored"))
    if predictor.features and not check.usable:
        raise BadInputError(
            "None of the model's columns is in this file "
            f"(it needs {', '.join(predictor.features[:8])}"
            f"{', …' if len(predictor.features) > 8 else ''}).",
            "Check that this is the right file for this model.")
    return check


def _type_issue(col: str, values: pd.Series, meta: dict[str, Any]) -> ColumnIssue | None:
    # The dtype first: `dropna` per column is most of this check's time on a single row.
    numeric = col in meta["numeric"] and not pd.api.types.is_numeric_dtype(values)
    dates = col in meta.get("datetime", []) and not pd.api.types.is_datetime64_any_dtype(values)
    if not (numeric or dates):
        return None
    present = values.dropna()
    if numeric and len(present):
        bad = int(pd.to_numeric(present, errors="coerce").isna().sum())
        if bad:
            examples = ", ".join(map(repr, present[pd.to_numeric(present, errors="coerce")
                                                    .isna()].astype(str).unique()[:3]))
            return ColumnIssue(col, "type", f"numbers expected; {bad} value(s) are not "
                               f"numbers (e.g. {examples})", "those values are treated as "
                               "unknown")
        return ColumnIssue(col, "type", "numbers written as text", "read as numbers")
    if dates and len(present):
        bad = int(pd.to_datetime(present, errors="coerce", format="mixed").isna().sum())
        if bad:
            return ColumnIssue(col, "type", f"dates expected; {bad} value(s) are not dates",
                               "those values are treated as unknown")
    return None


def prepare(predictor: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with what `check_input` announced done: missing model columns added as
    unknown, numbers written as text read as numbers."""
    out = frame.copy()
    for col in predictor.features:
        if col not in out.columns:
            out[col] = np.nan
        elif col in predictor.meta["numeric"] and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def predict(predictor: Predictor, frame: pd.DataFrame, *, batch_rows: int = BATCH_ROWS,
            on_progress: Progress | None = None) -> pd.DataFrame:
    """Predictions row for row (id column, prediction, `proba_<class>`), in batches so
    that progress can be shown and memory stays bounded. A forecaster reads the whole
    table as histories and returns each series' next steps."""
    if predictor.is_forecast:
        return predictor.predict_frame(frame)
    ready = prepare(predictor, frame)
    n = len(ready)
    batches = max(1, math.ceil(n / batch_rows))
    parts, began = [], time.monotonic()
    for i in range(batches):
        parts.append(predictor.predict_frame(ready.iloc[i * batch_rows:(i + 1) * batch_rows]))
        if on_progress:
            done = min(n, (i + 1) * batch_rows)
            on_progress(done / max(n, 1), f"predicted {done:,} of {n:,} rows "
                                          f"({time.monotonic() - began:.1f} s)")
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def write_table(frame: pd.DataFrame, path: Path, *, keep_names: bool = False,
                keep: Keep | None = None) -> Path:
    """CSV (full float precision; text a spreadsheet would run as a formula neutralised,
    except what `keep_names`/`keep` say a format demands: `escape.for_spreadsheets`), or
    Parquet for a `.parquet` name (every value exact)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(tmp, index=False)
    else:
        for_spreadsheets(frame, keep_names=keep_names, keep=keep)[0].to_csv(tmp, index=False)
    tmp.replace(path)
    return path


# -- one row, by hand ---------------------------------------------------------------------------
def form_fields(predictor: Predictor, profile=None) -> list[dict[str, Any]]:
    """One field per model column for a what-if form: its kind and a typical value from
    the data set's Profile (the median, the most common category); free text starts
    empty."""
    by_name = {c.name: c for c in profile.columns} if profile is not None else {}
    fields = []
    for col in predictor.features:
        info = by_name.get(col)
        if col in predictor.meta.get("text", []):
            fields.append({"name": col, "kind": "text", "default": ""})
        elif col in predictor.meta["categorical"]:
            options = [str(v) for v, _ in (info.top_values if info else [])]
            fields.append({"name": col, "kind": "choice", "options": options,
                           "default": options[0] if options else ""})
        elif col in predictor.meta.get("datetime", []):
            fields.append({"name": col, "kind": "date", "default": None})
        else:
            default = None
            if info is not None:
                default = info.quantiles.get("50%", info.mean)
            fields.append({"name": col, "kind": "number",
                           "default": float(default) if default is not None else 0.0,
                           "min": info.min if info else None,
                           "max": info.max if info else None})
    return fields


def predict_one(predictor: Predictor, values: dict[str, Any]) -> pd.DataFrame:
    """The prediction for one row given as {column: value}; blanks count as unknown."""
    texts = predictor.meta.get("text", [])
    as_strings = [*predictor.meta["categorical"], *texts]
    row = {}
    for col in predictor.features:
        value = values.get(col)
        if value in ("", None):
            row[col] = None if col in as_strings else np.nan
        elif col in texts:
            row[col] = str(value)
        elif col in predictor.meta.get("datetime", []):
            row[col] = pd.Timestamp(value)
        elif col in predictor.meta["categorical"]:
            row[col] = str(value)
        else:
            row[col] = float(value)
    frame = pd.DataFrame([row])
    for col in as_strings:
        frame[col] = frame[col].astype(object)
    return predictor.predict_frame(frame)
