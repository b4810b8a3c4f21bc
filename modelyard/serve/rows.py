"""A request's rows: the body read as JSON records or CSV, checked column by column as the
Predict page checks a file (`engine/results/predict.py`), predicted, and turned into JSON.
Every problem becomes a `RequestProblem` with its HTTP status and a sentence."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.results import predict as page_rules
from modelyard.engine.training.bundle import Predictor
from modelyard.serve.columns import what_to_send

JSON_TYPES = ("application/json",)
SHOWN = 5  # column problems named in a message; all of them are in "problems"
CSV_TYPES = ("text/csv", "application/csv")
SHAPE = ("Send one row as a JSON object {\"column\": value, ...}, several as a list of "
         "such objects, or a CSV table with a header (Content-Type: text/csv).")


@dataclass(eq=False)  # an exception stays hashable
class RequestProblem(Exception):
    """A request this server cannot answer with predictions, and why."""

    status: int
    message: str
    problems: list[dict[str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        found = {"detail": self.message}
        if self.problems:
            found["problems"] = self.problems
        return found


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a text", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def media_type(header: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (header or "").split(";")[0].strip().lower()


def parse(body: bytes, content_type: str | None) -> pd.DataFrame:
    """The rows of a request body: JSON (one object or a list) or CSV."""
    kind = media_type(content_type)
    if kind in JSON_TYPES:
        return _json_rows(body)
    if kind in CSV_TYPES:
        return _csv_rows(body)
    said = f"“{kind}”" if kind else "no content type"
    raise RequestProblem(415, f"This server reads JSON or CSV; the request has {said}. "
                              "Set the header Content-Type: application/json or text/csv.")


def _json_rows(body: bytes) -> pd.DataFrame:
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise RequestProblem(400, "The body is not UTF-8 text. " + SHAPE) from None
    except ValueError as exc:
        raise RequestProblem(400, f"The body is not valid JSON ({exc}). " + SHAPE) from None
    records = [value] if isinstance(value, dict) else value
    if not isinstance(records, list):
        raise RequestProblem(400, f"The body is {_json_kind(value)}, not rows. "
                             + SHAPE)
    if not records:
        raise RequestProblem(400, "The body holds no rows. " + SHAPE)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestProblem(400, f"Row {i} is {_json_kind(record)}, not an object. " + SHAPE)
        for column, cell in record.items():
            if isinstance(cell, dict | list):
                raise RequestProblem(422, f"Row {i}, column “{column}”: one value expected, "
                                     f"got {_json_kind(cell)}.", [{
                                         "column": column, "problem": "type",
                                         "detail": "one value expected per cell",
                                         "what to send": "a number, a text or null"}])
    frame = pd.DataFrame.from_records(records)
    frame.attrs["absent"] = {c: [i for i, r in enumerate(records) if c not in r]
                             for c in frame.columns}
    return frame


def _csv_rows(body: bytes) -> pd.DataFrame:
    # Read as the Predict page reads a file: the same sniffing, name cleaning and types.
    with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_bytes(body)
        try:
            return page_rules.read_input(path, workdir=Path(tmp))
        except BadInputError as exc:
            raise RequestProblem(400, f"The CSV body cannot be read: {exc}") from None


def check(predictor: Predictor, frame: pd.DataFrame, *, strict: bool) -> list[str]:
    """The Predict page's column check; strict: every missing, extra or wrongly typed
    column refused (422); otherwise what will happen to each, as notes."""
    try:
        found = page_rules.check_input(predictor, frame)
    except BadInputError as exc:  # none of the model's columns
        raise RequestProblem(422, str(exc), [
            {"column": c, "problem": "missing", "detail": "the model uses this column",
             "what to send": what_to_send(predictor, c)} for c in predictor.features
        ]) from None
    issues = [i for i in found.issues if i.problem != "no id"]
    issues += _partly_absent(predictor, frame)
    if not issues:
        return []
    problems = [{"column": i.column, "problem": i.problem,
                 "detail": i.detail.replace("the file lacks", "the request lacks"),
                 "what will happen": i.consequence,
                 "what to send": "nothing: leave it out" if i.problem == "extra"
                 else what_to_send(predictor, i.column)} for i in issues]
    if strict:
        named = "; ".join(f"“{p['column']}”: {p['detail']} (send {p['what to send']}; "
                          f"with ?strict=false: {p['what will happen']})"
                          for p in problems[:SHOWN])
        more = len(problems) - SHOWN
        raise RequestProblem(
            422, f"{len(problems)} column problem{'s' if len(problems) > 1 else ''}: {named}"
            + (f"; and {more} more, each listed in “problems”" if more > 0 else "")
            + ". Fix the rows, or add ?strict=false to predict anyway.", problems)
    return [f"{p['column']}: {p['detail']} → {p['what will happen']}" for p in problems]


def _partly_absent(predictor: Predictor, frame: pd.DataFrame) -> list[page_rules.ColumnIssue]:
    """A model column that some JSON rows leave out (the others have it)."""
    absent = frame.attrs.get("absent") or {}
    found = []
    for column in predictor.features:
        rows = absent.get(column) or []
        if rows and len(rows) < len(frame):
            shown = ", ".join(map(str, rows[:5])) + (", …" if len(rows) > 5 else "")
            found.append(page_rules.ColumnIssue(
                column, "missing", f"row {shown} lack{'s' if len(rows) == 1 else ''} it",
                "treated as unknown in those rows"))
    return found


def ready(predictor: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as the pipeline takes it: the page's `prepare`, then numbers (true/false
    too) as floats and dates as dates, as training read them."""
    out = page_rules.prepare(predictor, frame)
    changed = {}
    for column in predictor.meta["numeric"]:
        values = out[column]
        if values.dtype != np.float64:  # ints, true/false, all-null objects
            changed[column] = pd.to_numeric(values.astype(object), errors="coerce"
                                            ).astype(np.float64)
    for column in predictor.meta.get("datetime", []):
        if not pd.api.types.is_datetime64_any_dtype(out[column]):
            changed[column] = pd.to_datetime(out[column], errors="coerce", format="mixed")
    return out.assign(**changed) if changed else out


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Predictions as JSON-ready records: Python values, missing as null."""
    columns = {c: [_plain(v) for v in frame[c].tolist()] for c in frame.columns}
    return [dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
