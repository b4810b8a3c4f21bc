"""Words that often stand for "no value" (None, NA, null, N/A, nan): when they are missing.

Policy. An empty cell is missing. A cell reading one of `WORDS` is a value by default:
"None" in an `internet_service` column is a real category ("no internet service"), and
turning it into a gap silently changes what a model learns. Two exceptions, both said in
the Profile (`Profile.missing_words`, then a plain-language finding):

- In a column whose other cells are all numbers (or all dates), the words are read as
  missing: that is what they mean there, and a column of numbers stays numbers.
- In a text column, they become missing only when the person says so (`choose`). The
  data set then keeps the table as it was read (`as_read/`) next to the one used, so the
  choice can be undone; the profile, the plan and training read the table used, and the
  Model bundle carries the words so new rows are read the same way before predicting.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from modelyard.engine.errors import IntakeError
from modelyard.schemas import MissingWords

WORDS = ("None", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A")
AS_READ = "as_read"  # the folder, in a data set, holding its tables as first read
TABLES = ("train.parquet", "test.parquet")
_BATCH = 400  # columns per counting pass: wide tables stay plannable


def count_words(lf: pl.LazyFrame, names: list[str] | None = None) -> dict[str, dict[str, int]]:
    """For each text column (of `names`), how many cells read each word; columns without
    any are left out."""
    schema = lf.collect_schema()
    texts = [n for n in (names or schema.names()) if schema.get(n) == pl.String]
    found: list[str] = []
    for start in range(0, len(texts), _BATCH):
        batch = texts[start:start + _BATCH]
        row = lf.select(pl.col(n).is_in(WORDS).sum().alias(n) for n in batch).collect().row(0)
        found += [n for n, hits in zip(batch, row, strict=True) if hits]
    out: dict[str, dict[str, int]] = {}
    for start in range(0, len(found), _BATCH // len(WORDS)):
        batch = found[start:start + _BATCH // len(WORDS)]
        row = lf.select((pl.col(n) == w).sum().alias(f"{n}\0{w}") for n in batch
                        for w in WORDS).collect().row(0, named=True)
        for n in batch:
            out[n] = {w: int(row[f"{n}\0{w}"]) for w in WORDS if row[f"{n}\0{w}"]}
    return out


def _blanked(name: str) -> pl.Expr:
    return pl.when(pl.col(name).is_in(WORDS)).then(None).otherwise(pl.col(name)).alias(name)


def numbers_past_words(path: Path) -> list[MissingWords]:
    """Rewrite the Parquet file `path` so that text columns holding only numbers (or only
    dates) besides the words become numbers (dates), those cells missing; return what
    was read so."""
    from modelyard.engine.intake.formats import parse_dates

    lf = pl.scan_parquet(path)
    counts = count_words(lf)
    if not counts:
        return []
    names = list(counts)
    blank = lf.select(_blanked(n) for n in names)
    # Per column: cells besides the words, those reading as a decimal, as a whole number.
    aggs = []
    for n in names:
        col = pl.col(n)
        aggs += [col.is_not_null().sum().alias(f"{n}\0cells"),
                 col.cast(pl.Float64, strict=False).is_not_null().sum().alias(f"{n}\0float"),
                 col.cast(pl.Int64, strict=False).is_not_null().sum().alias(f"{n}\0int")]
    row = blank.select(aggs).collect().row(0, named=True)
    numbers: dict[str, pl.DataType] = {}
    for n in names:
        cells = row[f"{n}\0cells"]
        if cells and row[f"{n}\0float"] == cells:
            numbers[n] = pl.Int64 if row[f"{n}\0int"] == cells else pl.Float64
    rest = [n for n in names if n not in numbers]
    dates = []
    if rest:
        parsed = parse_dates(blank.select(rest)).collect_schema()
        dates = [n for n in rest if parsed[n].is_temporal()]
    if not numbers and not dates:
        return []
    out = parse_dates(lf.with_columns(_blanked(n) for n in dates)).with_columns(
        _blanked(n).cast(t) for n, t in numbers.items())
    rewrite(out, path)
    return [MissingWords(column=n, counts=counts[n], as_missing=True,
                         values="numbers" if n in numbers else "dates")
            for n in names if n in numbers or n in dates]


def rewrite(lf: pl.LazyFrame, path: Path) -> None:
    """Replace the Parquet file `path` (which `lf` may read) with `lf`, whole or not at
    all."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        lf.sink_parquet(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def found_in(lf: pl.LazyFrame, read_so: list[MissingWords]) -> list[MissingWords]:
    """What the Profile says about these words: the columns read as numbers or dates
    (`read_so`), then the text columns where they are kept as values."""
    kept = [MissingWords(column=n, counts=c) for n, c in count_words(lf).items()]
    return [*read_so, *kept]


# -- the person's choice -------------------------------------------------------------------
def choose(home, dataset_id: str, as_missing: bool) -> dict[str, Any]:
    """Read the words in the data set's text columns as missing (or, undoing it, as the
    values they are): rewrite the tables used from those first read, profile again, and
    record the choice in `dataset.json` ("missing_words": {column: words}). Returns the
    new meta."""
    from modelyard.engine.intake.ingest import load_profile
    from modelyard.engine.intake.profile import profile_table
    from modelyard.engine.intake.roles import update as update_roles
    from modelyard.engine.intake.target import Hints
    from modelyard.schemas import dump
    from modelyard.storage import datasets as dataset_store

    folder = home.dataset_dir(dataset_id)
    profile = load_profile(home, dataset_id)
    if profile.images is not None or not (folder / "train.parquet").exists():
        raise IntakeError("This data set has no table to read again.",
                          "Only tables hold cells such as “None” or “NA”.")
    texts = [w for w in profile.missing_words if w.values == "text"]
    if not texts:
        raise IntakeError("No text column of this data set has cells such as “None” or "
                          "“NA”.", "There is nothing to change.")
    chosen = {w.column: sorted(w.counts) for w in texts} if as_missing else {}
    _rewrite(folder, chosen)

    lf = pl.scan_parquet(folder / "train.parquet")
    test = folder / "test.parquet"
    hints = Hints()
    if profile.competition and profile.competition.get("target"):
        hints.submission_outputs = [profile.competition["target"]]
    fresh = profile_table(lf, test=pl.scan_parquet(test) if test.exists() else None,
                          hints=hints, source=profile.source)
    fresh.competition = profile.competition
    if outputs := profile.findings.get("multi_output"):
        fresh.findings["multi_output"] = outputs
    fresh.missing_words = [w.model_copy(update={"as_missing": w.column in chosen})
                           if w.values == "text" else w for w in profile.missing_words]
    dataset_store.update_meta(home, dataset_id, {"missing_words": chosen}, dump(fresh))
    # Roles, the chosen target and task, and the findings follow as before.
    return update_roles(home, dataset_id)


def _rewrite(folder: Path, chosen: dict[str, list[str]]) -> None:
    """The tables used: those first read, with `chosen` words blanked; the first read
    ones are kept aside (`as_read/`) while any choice applies."""
    kept = folder / AS_READ
    if not kept.exists():
        if not chosen:
            return
        staging = folder / f".{AS_READ}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in TABLES:
            if (folder / name).exists():
                shutil.copyfile(folder / name, staging / name)
        staging.rename(kept)
    for name in TABLES:
        original = kept / name
        if not original.exists():
            continue
        lf = pl.scan_parquet(original)
        present = set(lf.collect_schema().names())
        blanks = [pl.when(pl.col(c).is_in(words)).then(None).otherwise(pl.col(c)).alias(c)
                  for c, words in chosen.items() if c in present]
        tmp = folder / f".{name}.partial"
        (lf.with_columns(blanks) if blanks else lf).sink_parquet(tmp)
        tmp.replace(folder / name)
    if not chosen:
        shutil.rmtree(kept)


def words_to_blank(profile) -> dict[str, list[str]]:
    """The words read as missing in text columns, by column: what a Model bundle carries
    so that new rows are read as the training rows were."""
    return {w.column: sorted(w.counts) for w in profile.missing_words
            if w.as_missing and w.values == "text"}

