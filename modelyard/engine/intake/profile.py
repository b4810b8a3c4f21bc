"""Profile a table with Polars: column kinds and statistics, then the target analysis.

Exact counts (rows, gaps, distinct values, min/max/mean/std, top values, duplicates) come
from streaming passes over the whole table; shapes (quantiles, histograms, correlations,
associations with the target) come from a deterministic sample of at most
`SAMPLE_ROWS` rows, recorded in `Profile.sampled_rows`. Nothing materialises the table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from modelyard.engine.intake import association, drift
from modelyard.engine.intake.formats import Progress, no_progress
from modelyard.engine.intake.images import IMAGE_SUFFIXES
from modelyard.engine.intake.target import Hints, candidates, guess_target, task_for
from modelyard.engine.intake.warnings import warnings_for
from modelyard.schemas import (
    ColumnKind,
    ColumnProfile,
    Correlations,
    Profile,
    TargetGuess,
    Task,
)

_ID_NAMES = ("id", "uuid", "guid", "key", "index", "passengerid", "customerid", "rowid",
             "unnamed:0", "")
TOP_VALUES = 10
SAMPLE_ROWS = 100_000
SAMPLE_CELLS = 6_000_000
EXACT_DISTINCT_ROWS = 2_000_000
HIST_BINS = 20
QUANTILES = {"5%": 0.05, "25%": 0.25, "50%": 0.5, "75%": 0.75, "95%": 0.95}
MAX_CORRELATED = 30
_IMAGE_PATTERN = r"(?i)\.(" + "|".join(s[1:] for s in sorted(IMAGE_SUFFIXES)) + r")$"
_STATS_BATCH = 400  # columns per aggregation pass: wide tables stay plannable


def profile_table(lf: pl.LazyFrame, target: str | None = None, *,
                  test: pl.LazyFrame | None = None, hints: Hints | None = None,
                  source: dict[str, Any] | None = None,
                  progress: Progress = no_progress) -> Profile:
    """Compute a Profile in a few passes over `lf`, never materialising the table."""
    schema = lf.collect_schema()
    names = schema.names()
    n_rows = int(lf.select(pl.len()).collect().item())
    progress(0.05, "Counting values")
    stats = _stats(lf, schema, n_rows)
    sample = load_sample(lf, n_rows, len(names))
    progress(0.4, "Describing columns")
    columns = [_column(lf, name, schema[name], n_rows, stats, sample) for name in names]
    duplicates = 0
    if n_rows:
        unique = lf.select(row_hash(names).n_unique()).collect().item()
        duplicates = n_rows - int(unique)
    profile = Profile(n_rows=n_rows, n_cols=len(names), columns=columns,
                      duplicate_rows=duplicates, source=source or {},
                      sampled_rows=sample.height if sample.height < n_rows else None)
    profile.correlations = _correlations(sample, profile)
    profile.time_column = _time_column(lf, profile)
    progress(0.7, "Looking for the target")
    if test is not None:
        profile.test_rows = int(test.select(pl.len()).collect().item())
        hints = hints or Hints()
        test_names = set(test.collect_schema().names())
        hints.missing_from_test = [n for n in names if n not in test_names]
    analyse_target(profile, lf, sample, explicit=target, hints=hints)
    if test is not None:
        progress(0.85, "Comparing train and test")
        drift.compare(profile, lf, test, sample)
    profile.modality = modality_of(profile)
    profile.warnings = warnings_for(profile)
    progress(1.0, "Profile ready")
    return profile


# -- statistics -------------------------------------------------------------------------
def row_hash(names: list[str], seed: int = 7) -> pl.Expr:
    """One 64-bit hash per row, combined from per-column hashes (faster than hashing a
    struct of the row; a collision among a few million rows is vanishingly unlikely)."""
    if len(names) > 64:  # a deep chain of expressions plans slowly: hash the row whole
        return pl.struct(pl.col(names)).hash(seed)
    combined = None
    for name in names:
        h = pl.col(name).hash(seed)
        combined = h if combined is None else (combined * 1_000_003) ^ h
    return combined if combined is not None else pl.lit(0, dtype=pl.UInt64)


def _stats(lf: pl.LazyFrame, schema: pl.Schema, n_rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = schema.names()
    for start in range(0, len(names), _STATS_BATCH):
        aggs = []
        for name in names[start:start + _STATS_BATCH]:
            col, dtype = pl.col(name), schema[name]
            distinct = col.n_unique() if n_rows <= EXACT_DISTINCT_ROWS else col.approx_n_unique()
            aggs += [col.null_count().alias(f"{name}\0nulls"), distinct.alias(f"{name}\0distinct")]
            if dtype.is_numeric():
                aggs += [
                    col.min().cast(pl.Float64).alias(f"{name}\0min"),
                    col.max().cast(pl.Float64).alias(f"{name}\0max"),
                    col.mean().cast(pl.Float64).alias(f"{name}\0mean"),
                    col.std().cast(pl.Float64).alias(f"{name}\0std"),
                ]
            elif dtype == pl.Boolean:
                aggs.append(col.cast(pl.Float64).mean().alias(f"{name}\0mean"))
            elif dtype in (pl.String, pl.Categorical):
                length = col.cast(pl.String).str.len_chars()
                aggs += [length.min().cast(pl.Float64).alias(f"{name}\0lenmin"),
                         length.mean().alias(f"{name}\0len"),
                         length.max().cast(pl.Float64).alias(f"{name}\0lenmax")]
        if aggs:
            out.update(lf.select(aggs).collect().row(0, named=True))
    return out


def load_sample(lf: pl.LazyFrame, n_rows: int, n_cols: int) -> pl.DataFrame:
    """The same rows every time: every k-th row by a hash of its position."""
    size = sample_size(n_rows, n_cols)
    if n_rows <= size:
        return lf.collect()
    step = math.ceil(n_rows / size)
    return (lf.with_row_index("__row__")
            .filter(pl.col("__row__").hash(11) % step == 0)
            .drop("__row__").collect())


def sample_size(n_rows: int, n_cols: int) -> int:
    return min(n_rows, SAMPLE_ROWS, max(2_000, SAMPLE_CELLS // max(1, n_cols)))


def _column(lf: pl.LazyFrame, name: str, dtype: pl.DataType, n_rows: int,
            stats: dict[str, Any], sample: pl.DataFrame) -> ColumnProfile:
    n_distinct = int(stats[f"{name}\0distinct"])
    n_missing = int(stats[f"{name}\0nulls"])
    # n_unique counts null as a value; a person does not.
    if n_missing and n_distinct:
        n_distinct -= 1
    kind = _kind(name, dtype, n_rows, n_distinct + (1 if n_missing else 0), stats, sample)
    top, top_share = _top_values(lf, sample, name, kind, dtype, n_distinct, n_rows)
    col = ColumnProfile(
        name=name, dtype=str(dtype), kind=kind, n_missing=n_missing,
        missing_share=(n_missing / n_rows) if n_rows else 0.0, n_distinct=n_distinct,
        top_values=top, top_share=top_share,
        min=stats.get(f"{name}\0min"), max=stats.get(f"{name}\0max"),
        mean=stats.get(f"{name}\0mean"), std=stats.get(f"{name}\0std"),
    )
    if f"{name}\0len" in stats and stats[f"{name}\0len"] is not None:
        col.text_length = {"min": stats[f"{name}\0lenmin"], "mean": stats[f"{name}\0len"],
                           "max": stats[f"{name}\0lenmax"]}
    if dtype.is_numeric() and n_distinct > 1:
        values = sample[name].drop_nulls().drop_nans() if dtype.is_float() \
            else sample[name].drop_nulls()
        if values.len():
            arr = values.cast(pl.Float64).to_numpy()
            col.quantiles = {k: float(v) for k, v in
                             zip(QUANTILES, np.quantile(arr, list(QUANTILES.values())),
                                 strict=True)}
            lo, hi = col.min, col.max
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                counts, edges = np.histogram(arr, bins=HIST_BINS, range=(lo, hi))
                col.histogram = [(float(edges[i]), float(edges[i + 1]), int(c))
                                 for i, c in enumerate(counts)]
    return col


def _kind(name: str, dtype: pl.DataType, n_rows: int, n_distinct: int,
          stats: dict[str, Any], sample: pl.DataFrame) -> ColumnKind:
    if n_distinct <= 1:
        return ColumnKind.constant
    if dtype == pl.Boolean:
        return ColumnKind.boolean
    if dtype.is_temporal():
        return ColumnKind.datetime
    unique_share = n_distinct / n_rows if n_rows else 0.0
    lowered = name.lower().replace("_", "").replace(" ", "")
    looks_like_id = lowered in _ID_NAMES or name.lower().endswith(("_id", " id")) or \
        lowered.endswith("id") and len(lowered) > 2 and name[-2:] == "Id"
    if dtype.is_integer():
        if looks_like_id and unique_share > 0.95:
            return ColumnKind.id
        lo, hi = stats.get(f"{name}\0min"), stats.get(f"{name}\0max")
        # 0..n-1 or 1..n, every value once: a row number.
        if (n_rows > 50 and n_distinct == n_rows and lo is not None and hi is not None
                and hi - lo == n_rows - 1 and lo in (0, 1)):
            return ColumnKind.id
    if dtype.is_numeric():
        return ColumnKind.numeric
    if dtype in (pl.String, pl.Categorical):
        values = sample[name].drop_nulls().cast(pl.String)
        if values.len() and values.str.contains(_IMAGE_PATTERN).mean() >= 0.9:
            return ColumnKind.image
        mean_len = stats.get(f"{name}\0len")
        words = values.str.count_matches(r"\s+").mean() if values.len() else 0
        if mean_len is not None and mean_len >= 30 and unique_share > 0.5 and (words or 0) >= 3:
            return ColumnKind.text
        if unique_share > 0.95 and n_rows > 50:
            return ColumnKind.id
        return ColumnKind.categorical
    return ColumnKind.categorical


def _top_values(lf, sample, name, kind, dtype, n_distinct, n_rows):
    """Exact counts of the most common values where they mean something, else the top
    value's share estimated from the sample (for near-constant columns)."""
    exact = kind in (ColumnKind.categorical, ColumnKind.boolean, ColumnKind.constant) or (
        dtype.is_numeric() and n_distinct <= 20)
    if exact and n_distinct:
        counts = (lf.group_by(pl.col(name)).agg(pl.len().alias("__n__")).drop_nulls(name)
                  .sort(["__n__", name], descending=[True, False]).limit(TOP_VALUES).collect())
        top = [(_label(v), int(n)) for v, n in counts.iter_rows()]
        return top, (top[0][1] / n_rows if top and n_rows else None)
    values = sample[name].drop_nulls()
    if not values.len():
        return [], None
    counts = values.value_counts(sort=True)
    share = counts.row(0)[1] / sample.height
    return [], float(share)


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)


def _correlations(sample: pl.DataFrame, profile: Profile) -> Correlations | None:
    numeric = [c.name for c in profile.columns
               if c.kind in (ColumnKind.numeric, ColumnKind.boolean)][:MAX_CORRELATED]
    if len(numeric) < 2 or sample.height < 3:
        return None
    frame = sample.select(pl.col(numeric).cast(pl.Float64))
    exprs = [pl.corr(a, b).alias(f"{i}\0{j}") for i, a in enumerate(numeric)
             for j, b in enumerate(numeric) if j > i]
    row = frame.select(exprs).row(0)
    values: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(numeric))]
                                        for i in range(len(numeric))]
    k = 0
    for i in range(len(numeric)):
        for j in range(i + 1, len(numeric)):
            v = row[k]
            k += 1
            v = None if v is None or not math.isfinite(v) else round(float(v), 4)
            values[i][j] = values[j][i] = v
    return Correlations(columns=numeric, values=values)


def _time_column(lf: pl.LazyFrame, profile: Profile) -> str | None:
    """A date column the rows are sorted by, else the most varied date column."""
    dates = [c for c in profile.columns if c.kind is ColumnKind.datetime and c.n_distinct > 1]
    if not dates:
        return None
    sorted_flags = _sorted_flags(lf, [c.name for c in dates])
    ordered = [c for c in dates if sorted_flags.get(c.name)]
    pool = ordered or dates
    best = max(pool, key=lambda c: c.n_distinct)
    if ordered:
        profile.findings["time_sorted"] = True
    return best.name


def _sorted_flags(lf: pl.LazyFrame, names: list[str]) -> dict[str, bool]:
    exprs = [(pl.col(n).drop_nulls().cast(pl.Int64).diff().drop_nulls() >= 0).all().alias(n)
             for n in names]
    return lf.select(exprs).collect().row(0, named=True)


# -- target ----------------------------------------------------------------------------
def analyse_target(profile: Profile, lf: pl.LazyFrame, sample: pl.DataFrame, *,
                   explicit: str | None = None, task: Task | None = None,
                   hints: Hints | None = None) -> None:
    """Guess (or take) the target, then measure each column against it."""
    profile.target_candidates = candidates(profile, hints)[:5]
    profile.target = guess_target(profile, explicit=explicit, hints=hints)
    if profile.target is not None and task is not None:
        profile.target.task = task
    profile.class_balance = []
    for key in ("multi_label", "forecasting", "text_to_text"):
        profile.findings.pop(key, None)
    for col in profile.columns:
        col.association, col.association_method, col.alone_score = None, "", None
    label_columns = profile.findings.pop("multi_label_columns", None)
    if _text_to_text(profile, sample, explicit, task):
        return
    if profile.target is None:
        return
    name = profile.target.column
    if sep := association.multi_label_separator(sample[name]):
        profile.findings["multi_label"] = sep
        # Taken as multi-label unless the person chose another task (the Data page and
        # the plan say so, and offer the other reading).
        if task is None:
            profile.target.task = Task.multilabel
            profile.class_balance = _label_balance(lf, name, sep)
    if task is Task.multilabel and not sep and not (label_columns
                                                    and label_columns[0] == name):
        from modelyard.engine.errors import IntakeError

        raise IntakeError(f"“{name}” does not list several labels per row (such as "
                          "“drama|comedy”).", "Choose another task, or name several 0/1 "
                          "label columns as targets.")
    if label_columns and label_columns[0] == name and task in (None, Task.multilabel):
        from modelyard.engine.multilabel.plan import mark_label_columns

        mark_label_columns(profile, label_columns)
        return
    if profile.target.task is Task.multilabel:
        # Association is measured against one target; the labels are several (and a
        # label column would read as a leak of the others).
        return
    time = profile.column(profile.time_column) if profile.time_column else None
    if (time is not None and profile.findings.get("time_sorted") and profile.n_rows >= 30
            and profile.target.task is Task.regression
            and time.n_distinct >= 0.3 * profile.n_rows):
        profile.findings["forecasting"] = True
    if profile.target.task.is_classification:
        counts = (lf.group_by(pl.col(name)).agg(pl.len().alias("__n__")).drop_nulls(name)
                  .sort(["__n__", name], descending=[True, False]).limit(1_000).collect())
        profile.class_balance = [(_label(v), int(n)) for v, n in counts.iter_rows()]
    association.measure(profile, sample)


def _label_balance(lf: pl.LazyFrame, name: str, sep: str) -> list[tuple[str, int]]:
    """Rows holding each label of a delimited-labels column, most common first."""
    counts = (lf.select(pl.col(name).cast(pl.String).str.split(sep).list.eval(
                  pl.element().str.strip_chars()).list.unique().alias("__l__"))
              .explode("__l__").drop_nulls("__l__").filter(pl.col("__l__") != "")
              .group_by("__l__").agg(pl.len().alias("__n__"))
              .sort(["__n__", "__l__"], descending=[True, False]).limit(1_000).collect())
    return [(str(v), int(n)) for v, n in counts.iter_rows()]
def _text_to_text(profile: Profile, sample: pl.DataFrame, explicit: str | None,
                  task: Task | None) -> bool:
    """Whether the target is an output text made from an input text column (recorded in
    `findings["text_to_text"]`, the target's task set so); with no target named, a pair
    of such columns is looked for when the guess is not a plain target."""
    from modelyard.engine.intake.target import CHOSEN
    from modelyard.engine.text_to_text.detect import find_pair, input_column

    if task is not None and task is not Task.text_to_text:
        return False
    guess = profile.target
    pair = None
    if guess is not None:
        found = input_column(profile, sample, guess.column)
        pair = (found, guess.column) if found else None
    if pair is None and explicit is None and (
            guess is None or profile.column(guess.column).kind is not ColumnKind.categorical):
        pair = find_pair(profile, sample)
    if pair is None:
        return False
    source, target = pair
    profile.findings["text_to_text"] = {"input": source}
    if guess is None or guess.column != target:
        profile.target = TargetGuess(column=target, task=Task.text_to_text, confidence=0.7,
                                     reason=f"it is a short text made from “{source}”")
    else:
        profile.target.task = Task.text_to_text
        if profile.target.reason != CHOSEN:
            profile.target.reason = f"it is a short text made from “{source}”"
    return True


def modality_of(profile: Profile) -> str:
    """tabular, text, tabular+text, image, mixed or text_to_text, from the kinds of the feature
    columns (and the target, for text to text)."""
    if profile.images is not None:
        return "image"
    if profile.mixed is not None:  # a table whose rows point at images
        return "mixed"
    if profile.findings.get("text_to_text"):
        return "text_to_text"
    target = profile.target.column if profile.target else None
    features = [c for c in profile.columns if c.name != target
                and c.kind not in (ColumnKind.id, ColumnKind.constant, ColumnKind.ignored)]
    if any(c.kind is ColumnKind.image for c in features):
        return "image"
    texts = [c for c in features if c.kind is ColumnKind.text]
    if texts and len(texts) == len(features):
        return "text"
    return "tabular+text" if texts else "tabular"


__all__ = ["profile_table", "analyse_target", "load_sample", "modality_of", "task_for",
           "warnings_for"]
