"""Train against test: how far each column's distribution moved, and shared rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from modelyard.schemas import ColumnKind, Profile

_COMPARED = {ColumnKind.numeric, ColumnKind.boolean, ColumnKind.categorical,
             ColumnKind.datetime}


def compare(profile: Profile, train: pl.LazyFrame, test: pl.LazyFrame,
            train_sample: pl.DataFrame) -> None:
    """Fill each column's `drift` (0..1), `train_test_overlap` and the test findings."""
    from modelyard.engine.intake.profile import load_sample

    target = profile.target.column if profile.target else None
    test_schema = test.collect_schema()
    train_schema = train.collect_schema()
    features = [c.name for c in profile.columns if c.name != target]
    missing = [n for n in features if n not in test_schema]
    if missing:
        profile.findings["test_missing_columns"] = missing[:50]
    common = [n for n in features if n in test_schema]
    if not common:
        return
    test_sample = load_sample(test, profile.test_rows or 0, len(test_schema))
    for col in profile.columns:
        if col.name not in common or col.kind not in _COMPARED:
            continue
        a, b = train_sample[col.name], test_sample[col.name]
        if col.kind is ColumnKind.categorical or a.n_unique() <= 20:
            col.drift = _total_variation(a, b)
        else:
            col.drift = _ks(a, b)
    profile.train_test_overlap = _overlap(train, test, common, train_schema, test_schema)


def _floats(s: pl.Series) -> np.ndarray:
    if s.dtype.is_temporal():
        s = s.cast(pl.Int64)
    try:
        arr = s.cast(pl.Float64, strict=False).to_numpy()
    except pl.exceptions.PolarsError:
        return np.array([])
    return arr[~np.isnan(arr)]


def _ks(a: pl.Series, b: pl.Series) -> float | None:
    """Kolmogorov-Smirnov distance: the largest gap between the two cumulative shares."""
    x, y = np.sort(_floats(a)), np.sort(_floats(b))
    if not x.size or not y.size:
        return None
    grid = np.concatenate([x, y])
    gap = np.abs(np.searchsorted(x, grid, side="right") / x.size
                 - np.searchsorted(y, grid, side="right") / y.size)
    return round(float(gap.max()), 4)


def _total_variation(a: pl.Series, b: pl.Series) -> float | None:
    """Half the summed difference of each value's share (gaps count as a value)."""
    if not a.len() or not b.len():
        return None
    fa = a.cast(pl.String).fill_null("\0").value_counts(normalize=True, name="p")
    fb = b.cast(pl.String).fill_null("\0").value_counts(normalize=True, name="q")
    name = fa.columns[0]
    fb = fb.rename({fb.columns[0]: name})
    joined = fa.join(fb, on=name, how="full", coalesce=True).fill_null(0.0)
    return round(float((joined["p"] - joined["q"]).abs().sum() / 2), 4)


def _overlap(train: pl.LazyFrame, test: pl.LazyFrame, common: list[str],
             train_schema: pl.Schema, test_schema: pl.Schema) -> int:
    """Test rows that also appear in train (on the columns both have)."""
    differ = [n for n in common if train_schema[n] != test_schema[n]]

    def keyed(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = [pl.col(n).cast(pl.String) if n in differ else pl.col(n) for n in common]
        return lf.select(pl.struct(cols).hash(5).alias("__key__"))

    seen = keyed(train).unique()
    return int(keyed(test).join(seen, on="__key__", how="semi").select(pl.len())
               .collect().item())
