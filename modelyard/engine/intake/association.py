"""How strongly each column goes with the target, and whether it alone gives it away.

All on the profile's sample. `association` is a 0..1 strength (Cramér's V between
categories, the correlation ratio η between a number and categories, |Spearman| between
numbers). `alone_score` is honest: the column's values are mapped to a prediction on one
half of the rows and scored on the other half (accuracy above the majority baseline,
scaled to 0..1, for classes; R² for numbers), so an identifier that "predicts" its own
rows scores nothing. A score near 1 means the column leaks the answer.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from modelyard.schemas import ColumnKind, Profile

MEASURED = {ColumnKind.numeric, ColumnKind.boolean, ColumnKind.categorical,
            ColumnKind.datetime}
MAX_MEASURED = 1_000
_BINS = 64
MULTI_LABEL_SEPARATORS = ("|", ";", ",")


def measure(profile: Profile, sample: pl.DataFrame) -> None:
    """Fill `association`, `association_method` and `alone_score` of each column."""
    target = profile.target.column if profile.target else None
    if target is None or target not in sample.columns:
        return
    frame = sample.filter(pl.col(target).is_not_null())
    if frame.height < 20:
        return
    classification = profile.target.task.is_classification
    y_raw = frame[target]
    if classification:
        y = y_raw.cast(pl.String).rank("dense").cast(pl.Int64).to_numpy() - 1
    else:
        y = y_raw.cast(pl.Float64).to_numpy()
    # Two halves, the same every time.
    half = (np.arange(frame.height) * 2654435761 % 2**32) % 2 == 0
    measured = 0
    for col in profile.columns:
        if (col.name == target or col.kind not in MEASURED or col.role is not None
                or col.name not in frame.columns):
            continue
        if measured >= MAX_MEASURED:
            break
        measured += 1
        x = frame[col.name]
        codes, numeric = _codes(x, col.kind, half)
        if classification:
            col.association, col.association_method = _class_association(codes, y, x,
                                                                          numeric)
            col.alone_score = _alone_classes(codes, y, half)
        else:
            col.association, col.association_method = _number_association(codes, y, x,
                                                                           numeric)
            col.alone_score = _alone_number(codes, y, half)
        same = _copy_of_target(x, y_raw, codes, y, classification) \
            if (col.alone_score or 0) >= 0.9 else ""
        if same:
            col.association_method = same
            col.alone_score = 1.0


def _as_float(x: pl.Series) -> np.ndarray:
    if x.dtype.is_temporal():
        x = x.cast(pl.Int64)
    return x.cast(pl.Float64).fill_nan(None).to_numpy()


def _codes(x: pl.Series, kind: ColumnKind, fit: np.ndarray) -> tuple[np.ndarray, bool]:
    """Integer groups: categories as they are; numbers in quantile bins learnt on `fit`.
    Gaps form a group of their own (being missing can itself say a lot)."""
    numeric = kind is not ColumnKind.categorical
    if numeric:
        arr = _as_float(x)
        values, inverse = np.unique(arr, return_inverse=True)  # NaN sorts last, once
        if values.size <= _BINS:
            return inverse.astype(np.int64), True
        known = arr[fit & ~np.isnan(arr)]
        if known.size == 0:
            return np.zeros(len(arr), dtype=np.int64), True
        edges = np.unique(np.quantile(known, np.linspace(0, 1, _BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, np.nan_to_num(arr, nan=np.inf), side="right")
        codes[np.isnan(arr)] = len(edges) + 1
        return codes.astype(np.int64), True
    hashed = x.cast(pl.String).fill_null("\0missing").hash(3).to_numpy()
    return np.unique(hashed, return_inverse=True)[1].astype(np.int64), False


def _class_association(codes, y, x: pl.Series, numeric: bool) -> tuple[float | None, str]:
    if numeric:
        arr = _as_float(x)
        ok = ~np.isnan(arr)
        return _eta(y[ok], arr[ok]), "correlation ratio (η)"
    return _cramers_v(codes, y), "Cramér's V"


def _number_association(codes, y, x: pl.Series, numeric: bool) -> tuple[float | None, str]:
    if numeric:
        arr = _as_float(x)
        ok = ~np.isnan(arr) & ~np.isnan(y)
        if ok.sum() < 3:
            return None, ""
        frame = pl.DataFrame({"x": arr[ok], "y": y[ok]})
        rho = frame.select(pl.corr("x", "y", method="spearman")).item()
        return (None if rho is None or not math.isfinite(rho) else round(abs(rho), 4)), \
            "|Spearman correlation|"
    ok = ~np.isnan(y)
    return _eta(codes[ok], y[ok]), "correlation ratio (η)"


def _eta(groups: np.ndarray, values: np.ndarray) -> float | None:
    """Correlation ratio: the share of the spread of `values` that `groups` explains."""
    if values.size < 3:
        return None
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return None
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse)
    means = sums / np.maximum(counts, 1)
    between = float((counts * (means - values.mean()) ** 2).sum())
    return round(math.sqrt(max(0.0, min(1.0, between / total))), 4)


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    r, c = int(a.max()) + 1, int(b.max()) + 1
    if r < 2 or c < 2 or r * c > 50_000_000:
        return None
    table = np.bincount(a * c + b, minlength=r * c).reshape(r, c).astype(float)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    r, c = table.shape
    if r < 2 or c < 2:
        return None
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    # Bias-corrected (Bergsma 2013): many categories over few rows look associated
    # by chance alone.
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    rc, cc = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    denominator = min(rc - 1, cc - 1)
    if denominator <= 0:
        return None
    return round(math.sqrt(max(0.0, min(1.0, phi2 / denominator))), 4)


def _alone_classes(codes: np.ndarray, y: np.ndarray, fit: np.ndarray) -> float | None:
    test = ~fit
    if fit.sum() < 10 or test.sum() < 10:
        return None
    majority = np.bincount(y[fit]).argmax()
    # The most common class per group, learnt on one half.
    table = pl.DataFrame({"c": codes[fit], "y": y[fit]})
    mode = (table.group_by("c", "y").len().sort(["c", "len", "y"], descending=[False, True,
                                                                               False])
            .unique("c", keep="first"))
    best = np.full(int(codes.max()) + 1, majority, dtype=np.int64)
    best[mode["c"].to_numpy()] = mode["y"].to_numpy()
    predicted = best[codes[test]]
    accuracy = float((predicted == y[test]).mean())
    base = float((y[test] == majority).mean())
    if base >= 1.0:
        return None
    return round(max(0.0, (accuracy - base) / (1 - base)), 4)


def _alone_number(codes: np.ndarray, y: np.ndarray, fit: np.ndarray) -> float | None:
    ok = ~np.isnan(y)
    train, test = fit & ok, ~fit & ok
    if train.sum() < 10 or test.sum() < 10:
        return None
    size = int(codes.max()) + 1
    sums = np.bincount(codes[train], weights=y[train], minlength=size)
    counts = np.bincount(codes[train], minlength=size)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), float(y[train].mean()))
    predicted = means[codes[test]]
    actual = y[test]
    total = float(((actual - actual.mean()) ** 2).sum())
    if total <= 0:
        return None
    return round(max(0.0, 1 - float(((actual - predicted) ** 2).sum()) / total), 4)


def _copy_of_target(x: pl.Series, y_raw: pl.Series, codes, y, classification: bool) -> str:
    """"identical" or "one-to-one" when the column is the target under another name."""
    if x.null_count():
        return ""
    try:
        if x.cast(pl.String).equals(y_raw.cast(pl.String)):
            return "identical"
    except pl.exceptions.PolarsError:
        pass
    if classification:
        pairs = pl.DataFrame({"x": codes, "y": y}).unique().height
        nx, ny = len(np.unique(codes)), len(np.unique(y))
        if nx == ny == pairs and nx >= 2 and nx < len(y) / 2:
            return "one-to-one"
        return ""
    if x.dtype.is_numeric():
        arr = _as_float(x)
        ok = ~np.isnan(arr) & ~np.isnan(y)
        if ok.sum() > 3 and np.std(arr[ok]) > 0 and np.std(y[ok]) > 0:
            r = float(np.corrcoef(arr[ok], y[ok])[0, 1])
            if abs(r) > 0.99999:
                return "one-to-one"
    return ""


def multi_label_separator(values: pl.Series) -> str | None:
    """The separator when most values list several labels ("drama|comedy"), else None."""
    text = values.drop_nulls().cast(pl.String)
    if text.len() < 10:
        return None
    for sep in MULTI_LABEL_SEPARATORS:
        has = text.str.contains(sep, literal=True)
        if has.mean() < 0.2:
            continue
        tokens = text.str.split(sep).explode().str.strip_chars()
        n_tokens, n_values = tokens.n_unique(), text.n_unique()
        # Few labels combined in many ways; a free-text sentence would have many words.
        if n_tokens < n_values and n_tokens <= 200 and text.str.len_chars().mean() < 80:
            return sep
    return None
