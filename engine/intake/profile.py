"""Profile a table with Polars: column kinds, statistics, a target guess, warnings."""

from __future__ import annotations

import polars as pl

from engine.intake.target import guess_target
from engine.schemas import ColumnKind, ColumnProfile, Profile, Warning_

_ID_NAMES = ("id", "uuid", "guid", "key", "index", "passengerid", "customerid", "rowid")
TOP_VALUES = 5


def profile_table(lf: pl.LazyFrame, target: str | None = None) -> Profile:
    """Compute a Profile in a few passes over `lf`, never materialising the table."""
    schema = lf.collect_schema()
    names = schema.names()
    aggs = [pl.len().alias("__rows__")]
    for name in names:
        col = pl.col(name)
        aggs += [col.null_count().alias(f"{name}\0nulls"),
                 col.n_unique().alias(f"{name}\0distinct")]
        if schema[name].is_numeric():
            aggs += [
                col.min().cast(pl.Float64).alias(f"{name}\0min"),
                col.max().cast(pl.Float64).alias(f"{name}\0max"),
                col.mean().cast(pl.Float64).alias(f"{name}\0mean"),
                col.std().cast(pl.Float64).alias(f"{name}\0std"),
            ]
        elif schema[name] in (pl.String, pl.Categorical):
            aggs.append(col.str.len_chars().mean().alias(f"{name}\0len"))
    stats = lf.select(aggs).collect().row(0, named=True)
    n_rows = int(stats["__rows__"])

    columns = []
    for name in names:
        dtype = schema[name]
        n_distinct = int(stats[f"{name}\0distinct"])
        n_missing = int(stats[f"{name}\0nulls"])
        # n_unique counts null as a value; a person does not.
        if n_missing:
            n_distinct -= 1
        # A single value plus gaps still says something (present or not): not constant.
        kind = _kind(name, dtype, n_rows, n_distinct + (1 if n_missing else 0),
                     stats.get(f"{name}\0len"))
        top = []
        if kind in (ColumnKind.categorical, ColumnKind.boolean) or (
            dtype.is_numeric() and n_distinct <= 20
        ):
            top = _top_values(lf, name)
        columns.append(
            ColumnProfile(
                name=name,
                dtype=str(dtype),
                kind=kind,
                n_missing=n_missing,
                missing_share=(n_missing / n_rows) if n_rows else 0.0,
                n_distinct=n_distinct,
                top_values=top,
                min=stats.get(f"{name}\0min"),
                max=stats.get(f"{name}\0max"),
                mean=stats.get(f"{name}\0mean"),
                std=stats.get(f"{name}\0std"),
            )
        )
    duplicates = n_rows - int(lf.unique().select(pl.len()).collect().item()) if n_rows else 0
    profile = Profile(
        n_rows=n_rows, n_cols=len(names), columns=columns, duplicate_rows=duplicates
    )
    profile.target = guess_target(profile, explicit=target)
    profile.warnings = warnings_for(profile)
    return profile


def _kind(name: str, dtype: pl.DataType, n_rows: int, n_distinct: int, mean_len) -> ColumnKind:
    if n_distinct <= 1:
        return ColumnKind.constant
    if dtype == pl.Boolean:
        return ColumnKind.boolean
    if dtype.is_temporal():
        return ColumnKind.datetime
    unique_share = n_distinct / n_rows if n_rows else 0.0
    looks_like_id = name.lower().replace("_", "") in _ID_NAMES or name.lower().endswith("_id")
    if dtype.is_integer() and looks_like_id and unique_share > 0.95:
        return ColumnKind.id
    if dtype.is_numeric():
        return ColumnKind.numeric
    if dtype in (pl.String, pl.Categorical):
        if mean_len is not None and mean_len >= 30 and unique_share > 0.5:
            return ColumnKind.text
        if unique_share > 0.95 and n_rows > 50:
            return ColumnKind.id
        return ColumnKind.categorical
    return ColumnKind.categorical


def _top_values(lf: pl.LazyFrame, name: str) -> list[tuple[str, int]]:
    counts = (
        lf.group_by(pl.col(name))
        .agg(pl.len().alias("n"))
        .drop_nulls(name)
        .sort(["n", name], descending=[True, False])
        .limit(TOP_VALUES)
        .collect()
    )
    return [(str(v), int(n)) for v, n in counts.iter_rows()]


def warnings_for(profile: Profile) -> list[Warning_]:
    """Plain-language findings, each with what a person can do about it."""
    found: list[Warning_] = []
    target = profile.target.column if profile.target else None
    for col in profile.columns:
        if col.kind is ColumnKind.constant:
            found.append(Warning_(severity="info", column=col.name,
                                  message=f"“{col.name}” has the same value in every row.",
                                  action="It will be ignored: it cannot help a model."))
        elif col.kind is ColumnKind.id and col.name != target:
            found.append(Warning_(severity="info", column=col.name,
                                  message=f"“{col.name}” looks like an identifier (almost every "
                                          "value is unique).",
                                  action="It will be ignored for training and kept to label "
                                         "predictions."))
        if col.missing_share >= 0.5 and col.name != target:
            found.append(Warning_(severity="warning", column=col.name,
                                  message=f"“{col.name}” is missing in "
                                          f"{col.missing_share:.0%} of rows.",
                                  action="Consider ignoring it; otherwise gaps are filled in."))
    if target:
        col = profile.column(target)
        if col.n_missing:
            found.append(Warning_(severity="warning", column=target,
                                  message=f"The target “{target}” is missing in {col.n_missing} "
                                          "rows.",
                                  action="Those rows will be left out of training."))
    if profile.duplicate_rows:
        found.append(Warning_(severity="info", message=f"{profile.duplicate_rows} rows are exact "
                              "duplicates of another row.",
                              action="Usually harmless; remove them if they are mistakes."))
    return found
