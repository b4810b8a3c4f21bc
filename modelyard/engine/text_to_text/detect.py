"""Whether a text target is made from an input text column (text to text), not a class.

A text-to-text target is short, mostly different from row to row (far more values than
classes), and its characters overlap those of one other text column, row by row or over
the whole column (numbers spelled out share few characters with their digits, but the
dates around them do). The detection reads the profile's sample only.
"""

from __future__ import annotations

import polars as pl

from modelyard.schemas import ColumnKind, ColumnProfile, Profile

# A target with fewer distinct values than this, or a smaller share of distinct values,
# is a set of classes; one longer than MAX_MEAN_CHARS on average is a document.
MIN_DISTINCT = 30
MIN_UNIQUE_SHARE = 0.3
MAX_MEAN_CHARS = 200
# How much the characters must overlap: per row (Jaccard of character sets, averaged)
# or over the whole column (Jaccard of the two alphabets).
ROW_OVERLAP = 0.15
COLUMN_OVERLAP = 0.3
_STRING_KINDS = (ColumnKind.text, ColumnKind.categorical, ColumnKind.id)


def _stringy(col: ColumnProfile) -> bool:
    return col.kind in _STRING_KINDS and col.dtype in ("String", "Categorical", "str")


def _short_and_varied(col: ColumnProfile, n_rows: int) -> bool:
    rows = max(1, n_rows - col.n_missing)
    mean = float(col.text_length.get("mean") or 0.0)
    return (_stringy(col) and col.n_distinct >= MIN_DISTINCT
            and col.n_distinct / rows >= MIN_UNIQUE_SHARE and 0 < mean <= MAX_MEAN_CHARS)


def overlap(inputs: list[str], outputs: list[str]) -> tuple[float, float]:
    """(mean per-row Jaccard of lower-cased character sets, Jaccard of the alphabets)."""
    rows, seen_in, seen_out = [], set(), set()
    for a, b in zip(inputs, outputs, strict=True):
        ca, cb = set(a.lower()) - {" "}, set(b.lower()) - {" "}
        seen_in |= ca
        seen_out |= cb
        if ca or cb:
            rows.append(len(ca & cb) / len(ca | cb))
    alphabet = len(seen_in & seen_out) / max(1, len(seen_in | seen_out))
    return (sum(rows) / len(rows) if rows else 0.0), alphabet


def input_column(profile: Profile, sample: pl.DataFrame, target: str) -> str | None:
    """The column `target` is a transformation of, when `target` is a text-to-text
    output; None when it looks like anything else."""
    col = profile.column(target)
    if not _short_and_varied(col, profile.n_rows) or target not in sample.columns:
        return None
    best, best_score = None, 0.0
    for other in profile.columns:
        if other.name == target or other.name not in sample.columns:
            continue
        if not _short_and_varied(other, profile.n_rows) and not (
                _stringy(other) and other.kind is ColumnKind.text):
            continue
        both = sample.select(pl.col(other.name).cast(pl.String),
                             pl.col(target).cast(pl.String)).drop_nulls()
        if not both.height:
            continue
        row, alphabet = overlap(both[:, 0].to_list(), both[:, 1].to_list())
        if row < ROW_OVERLAP and alphabet < COLUMN_OVERLAP:
            continue
        if row + alphabet > best_score:
            best, best_score = other.name, row + alphabet
    return best


def find_pair(profile: Profile, sample: pl.DataFrame) -> tuple[str, str] | None:
    """(input, output) for a table whose last qualifying text column is made from
    another one; used when no target was named or guessed."""
    for col in reversed(profile.columns):
        if (found := input_column(profile, sample, col.name)) is not None:
            return found, col.name
    return None
