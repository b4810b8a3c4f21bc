"""Free-text columns read for a person: how long the texts are in each class, and a few
short examples of each class, from a bounded sample of the data set's Parquet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from modelyard.schemas import ColumnKind, Profile, Task

# Rows read at most: enough for stable averages and examples, quick on any table.
SAMPLE_ROWS = 50_000
NO_CLASS = "(all rows)"


@dataclass
class TextLook:
    """One text column: length per class (or overall) and examples per class."""

    column: str
    target: str | None
    rows_read: int
    lengths: list[dict[str, object]] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)


def text_columns(profile: Profile) -> list[str]:
    """The columns the profile reads as free text."""
    return [c.name for c in profile.columns if c.kind is ColumnKind.text]


def class_target(profile: Profile) -> str | None:
    """The target column when it holds classes (binary or multiclass), else None."""
    t = profile.target
    if t is None or t.task not in (Task.binary, Task.multiclass):
        return None
    return t.column if t.column in profile.column_names else None


def shorten(text: str, max_chars: int) -> str:
    """`text` on one line, cut at a word boundary to at most `max_chars` (with …)."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= max_chars:
        return flat
    cut = flat[: max_chars - 1]
    if " " in cut[max_chars // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def look_at_text(table: Path, column: str, target: str | None = None, *,
                 per_class: int = 3, max_chars: int = 160, max_classes: int = 10,
                 seed: int = 0) -> TextLook:
    """Lengths (characters, words) per class and `per_class` examples of each of the
    `max_classes` most common classes, shortened to `max_chars`; without a target, the
    same for all rows. Reads at most SAMPLE_ROWS rows."""
    wanted = [column] + ([target] if target and target != column else [])
    frame = (pl.scan_parquet(table).select(wanted).head(SAMPLE_ROWS).collect())
    rows_read = frame.height
    text = pl.col(column).cast(pl.String)
    frame = frame.with_columns(text.alias("_text")).filter(
        pl.col("_text").is_not_null() & (pl.col("_text").str.strip_chars() != ""))
    if target and target != column:
        frame = frame.filter(pl.col(target).is_not_null()).with_columns(
            pl.col(target).cast(pl.String).alias("_class"))
    else:
        target = None
        frame = frame.with_columns(pl.lit(NO_CLASS).alias("_class"))
    frame = frame.with_columns(pl.col("_text").str.len_chars().alias("_chars"),
                               pl.col("_text").str.count_matches(r"\S+").alias("_words"))
    stats = (frame.group_by("_class")
             .agg(pl.len().alias("rows"), pl.col("_chars").mean().alias("mean"),
                  pl.col("_chars").median().alias("median"),
                  pl.col("_chars").min().alias("min"), pl.col("_chars").max().alias("max"),
                  pl.col("_words").mean().alias("words"))
             .sort(["rows", "_class"], descending=[True, False]).head(max_classes))
    look = TextLook(column, target, rows_read)
    for row in stats.iter_rows(named=True):
        look.lengths.append({"class": row["_class"], "rows": row["rows"],
                             "mean characters": round(row["mean"], 1),
                             "median characters": row["median"],
                             "shortest": row["min"], "longest": row["max"],
                             "mean words": round(row["words"], 1)})
        members = frame.filter(pl.col("_class") == row["_class"])
        picked = members.sample(n=min(per_class, members.height), seed=seed) \
            if members.height > per_class else members
        look.samples[row["_class"]] = [shorten(t, max_chars) for t in picked["_text"]]
    return look
