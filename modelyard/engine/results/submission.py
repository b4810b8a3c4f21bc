"""A competition's `submission.csv`, in exactly the format of its `sample_submission.csv`.

The sample decides everything: which column holds the ids (found by its values, which
must be the ids of a column of the test file, whatever either column is called), the
column names and their order, the row order, and whether each output is a label, a
probability of one class, or one probability column per class. The result is checked
(row count, ids, no gaps, probabilities in range) before it is offered.

Text that a spreadsheet would run as a formula is neutralised as in every CSV for people
(`escape.py`), except where the sample demands the exact text: its header, its ids, and
labels it shows itself. Those are kept, and the submission says so in its notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.escape import ALL, for_spreadsheets
from modelyard.engine.results.predict import predict, write_table
from modelyard.engine.training.bundle import Predictor

MIN_ID_OVERLAP = 0.9


@dataclass
class SubmissionFormat:
    """How the sample asks for answers."""

    columns: list[str]
    id_column: str  # in the sample
    test_id_column: str  # the test file's column holding the same ids
    outputs: list[str]
    mode: str  # "labels" | "probabilities" (one column per class) | "probability" | "values"
    class_of: dict[str, Any] = field(default_factory=dict)  # output column -> class

    def describe(self) -> list[str]:
        """The format in words, for a person to confirm."""
        same = self.id_column == self.test_id_column
        lines = [f"ids from the column “{self.id_column}”" + (
            "" if same else f" (the test file calls it “{self.test_id_column}”)")]
        if self.mode == "probabilities":
            lines.append("one probability column per class: " + ", ".join(
                f"{c} = P({self.class_of[c]})" for c in self.outputs))
        elif self.mode == "probability":
            lines.append(f"“{self.outputs[0]}” = the probability of "
                         f"“{self.class_of[self.outputs[0]]}”")
        elif self.mode == "labels":
            lines.append(f"“{self.outputs[0]}” = the predicted label")
        else:
            lines.append(f"“{self.outputs[0]}” = the predicted value")
        return lines


@dataclass
class Submission:
    frame: pd.DataFrame
    format: SubmissionFormat
    path: Path | None = None
    notes: list[str] = field(default_factory=list)  # formula-like text changed or kept


def id_key(values: pd.Series) -> pd.Series:
    """Ids as comparable text: `7`, `7.0`, `007` and ` 7` are one id (a CSV reader may
    have turned any of them into the number 7); other text is compared as written."""
    text = values.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.notna() & np.isfinite(numbers) & (numbers == numbers.round()) \
        & (numbers.abs() < 2**53)
    return text.where(~whole, numbers.where(whole).fillna(0).astype("int64").astype(str))


def read_sample(path: Path) -> pd.DataFrame:
    """The sample submission as written (every cell text), so ids keep their spelling."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"{path}: no such file.", "Give the path of sample_submission.csv.")
    try:
        sample = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path.name} could not be read as CSV: {exc}.",
                            "Give the competition's sample_submission.csv.") from exc
    if sample.shape[1] < 2 or sample.empty:
        raise BadInputError(f"{path.name} needs an id column, at least one answer column and "
                            "rows.", "Give the competition's sample_submission.csv.")
    return sample


def _id_columns(sample: pd.DataFrame, test: pd.DataFrame, preferred: str | None
                ) -> tuple[str, str]:
    """(sample column, test column) holding the same ids: the pair whose values overlap
    most, ties going to the model's id column and then to the leftmost."""
    best: tuple[float, int, int, str, str] | None = None
    # Only columns whose values are unique can hold ids.
    test_keys = {c: set(id_key(test[c])) for c in test.columns
                 if test[c].notna().all() and test[c].is_unique}
    for i, s_col in enumerate(sample.columns):
        keys = id_key(sample[s_col])
        if keys.duplicated().any():
            continue  # ids are unique
        for t_col, t_keys in test_keys.items():
            overlap = keys.isin(t_keys).mean()
            score = (overlap, int(t_col == preferred), -i)
            if overlap >= MIN_ID_OVERLAP and (best is None or score > best[:3]):
                best = (*score, s_col, t_col)
    if best is None:
        raise BadInputError(
            "No column of the sample submission holds the ids of a test-file column "
            f"(sample columns: {', '.join(sample.columns[:8])}).",
            "Check that the sample submission belongs to this test file.")
    return best[3], best[4]


def _class_columns(outputs: list[str], classes: list[Any], target: str) -> dict[str, Any]:
    """Output columns named after classes (`A`, `proba_A`, `<target>_A`, `Class_A`, ...)."""
    found = {}
    for col in outputs:
        hits = [c for c in classes if col == str(c) or col.lower() in (
            f"proba_{c}".lower(), f"{target}_{c}".lower(), f"class_{c}".lower(),
            f"p_{c}".lower(), f"prob_{c}".lower())]
        if len(hits) == 1:
            found[col] = hits[0]
    return found


def read_format(sample: pd.DataFrame, test: pd.DataFrame, predictor: Predictor
                ) -> SubmissionFormat:
    """What the sample asks for, judged against the test file and the model."""
    meta = predictor.meta
    id_col, test_id = _id_columns(sample, test, meta.get("id_column"))
    outputs = [c for c in sample.columns if c != id_col]
    columns = list(sample.columns)
    classes = predictor.classes
    if not classes:
        if len(outputs) != 1:
            raise BadInputError(f"The sample submission has {len(outputs)} answer columns; a "
                                "regression model fills exactly one.",
                                "Check that the sample belongs to this task.")
        return SubmissionFormat(columns, id_col, test_id, outputs, "values")
    by_class = _class_columns(outputs, classes, meta["target"])
    if len(outputs) > 1:
        if len(by_class) != len(outputs):
            unknown = [c for c in outputs if c not in by_class]
            raise BadInputError(
                f"The sample submission's columns {', '.join(unknown[:5])} match none of the "
                f"model's classes ({', '.join(map(str, classes[:10]))}).",
                "Check that the sample belongs to this target.")
        return SubmissionFormat(columns, id_col, test_id, outputs, "probabilities", by_class)
    out = outputs[0]
    shown = sample[out][sample[out] != ""]
    as_numbers = pd.to_numeric(shown, errors="coerce")
    # Labels if the sample shows class labels; a probability if it shows numbers between
    # 0 and 1 that are not all labels (a 0/1 target's sample of 0s is labels).
    is_labels = bool(len(shown)) and shown.isin({str(c) for c in classes}).all()
    fractional = (bool(len(shown)) and as_numbers.notna().all()
                  and bool(((as_numbers > 0) & (as_numbers < 1)).any()))
    if fractional and not is_labels:
        if len(classes) != 2:
            raise BadInputError(
                f"The sample submission gives one probability per row (“{out}”), but the "
                f"model has {len(classes)} classes.", "Use a sample with one column per class.")
        positive = by_class.get(out, classes[1])
        return SubmissionFormat(columns, id_col, test_id, outputs, "probability",
                                {out: positive})
    return SubmissionFormat(columns, id_col, test_id, outputs, "labels")


def build(sample: pd.DataFrame, test: pd.DataFrame, predictions: pd.DataFrame,
          fmt: SubmissionFormat, predictor: Predictor) -> pd.DataFrame:
    """The submission rows in the sample's order, ids spelled as in the sample;
    `predictions` are row for row with `test`."""
    position = pd.Series(np.arange(len(test)), index=id_key(test[fmt.test_id_column]))
    position = position[~position.index.duplicated()]
    rows = position.reindex(id_key(sample[fmt.id_column])).to_numpy()
    found = ~pd.isna(rows)
    picked = predictions.iloc[rows[found].astype(int)].reset_index(drop=True)
    out = pd.DataFrame({fmt.id_column: sample[fmt.id_column].to_numpy()})
    target = predictor.meta["target"]
    for col in fmt.outputs:
        values = pd.Series([np.nan] * len(sample), dtype=object)
        if fmt.mode in ("probabilities", "probability"):
            values = pd.Series(np.full(len(sample), np.nan))
            values[found] = picked[f"proba_{fmt.class_of[col]}"].to_numpy()
        else:
            values[found] = picked[target].to_numpy()
        out[col] = values.to_numpy()
    return out[fmt.columns]


def validate(submission: pd.DataFrame, sample: pd.DataFrame, test: pd.DataFrame,
             fmt: SubmissionFormat) -> list[str]:
    """Everything that would get the submission rejected, in words; empty when none."""
    problems = []
    if list(submission.columns) != list(sample.columns):
        problems.append(f"columns {list(submission.columns)} differ from the sample's "
                        f"{list(sample.columns)}")
    if len(submission) != len(sample):
        problems.append(f"{len(submission)} rows where the sample has {len(sample)}")
    sample_ids, test_ids = set(id_key(sample[fmt.id_column])), set(
        id_key(test[fmt.test_id_column]))
    if not_in_test := sorted(sample_ids - test_ids):
        problems.append(f"{len(not_in_test)} id(s) of the sample are not in the test file "
                        f"(e.g. {', '.join(not_in_test[:3])})")
    if not_in_sample := sorted(test_ids - sample_ids):
        problems.append(f"{len(not_in_sample)} id(s) of the test file are not in the sample "
                        f"(e.g. {', '.join(not_in_sample[:3])})")
    if len(test) != len(sample):
        problems.append(f"the test file has {len(test)} rows, the sample {len(sample)}")
    gaps = submission[fmt.outputs].isna().sum()
    for col, n in gaps[gaps > 0].items():
        problems.append(f"{n} missing value(s) in “{col}”")
    if fmt.mode in ("probabilities", "probability"):
        values = submission[fmt.outputs].astype(float)
        if ((values < 0) | (values > 1)).any().any():
            problems.append("probabilities outside 0..1")
    return problems


def make_submission(predictor: Predictor, sample_path: Path, test: pd.DataFrame,
                    out_path: Path | None = None,
                    predictions: pd.DataFrame | None = None, on_progress=None) -> Submission:
    """Predict the test rows, write them in the sample's format, and check the result; a
    submission that would be rejected raises, naming every problem, and is not written."""
    sample = read_sample(sample_path)
    fmt = read_format(sample, test, predictor)
    if predictions is None:
        predictions = predict(predictor, test, on_progress=on_progress)
    frame = build(sample, test, predictions, fmt, predictor)
    problems = validate(frame, sample, test, fmt)
    if problems:
        raise BadInputError("The submission would not be accepted: " + "; ".join(problems)
                            + ".", "Check that the sample submission and the test file belong "
                            "together.")
    keep = sample_demands(sample, fmt)
    path = notes = None
    if out_path is not None:
        path = write_table(frame, out_path, keep_names=True, keep=keep)
        if path.suffix.lower() not in (".parquet", ".pq"):
            notes = for_spreadsheets(frame, keep_names=True, keep=keep)[1].notes(
                path.name, "the sample submission spells them so")
    return Submission(frame, fmt, path, notes or [])


def sample_demands(sample: pd.DataFrame, fmt: SubmissionFormat) -> dict[str, Any]:
    """The text the sample demands exactly, as `escape.for_spreadsheets` keeps it: the ids
    (all of them) and, for labels, the labels the sample itself shows."""
    keep: dict[str, Any] = {fmt.id_column: ALL}
    if fmt.mode == "labels":
        keep.update({c: set(sample[c]) for c in fmt.outputs})
    return keep
