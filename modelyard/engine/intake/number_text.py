"""Numbers written as text: decimal commas, thousands separators, currency and percent signs.

A spreadsheet saved in Germany writes `1.234,50` in a file separated by semicolons; one
from the US quotes `"1,234"`; an export from a shop writes `$12.99` or `12 %`. Polars reads
each of these columns as text, and text with a different value in almost every row looks
like an identifier: the column most worth learning from would be ignored.

Policy. A text column becomes numbers only when every one of its cells (besides empty
ones and the words `missing_words.WORDS`, which become gaps) reads as a number written
one of these ways, all in one convention:

- **point** decimals, thousands grouped by `,`, a space or `'` (`1,234.5`, `1 234.5`);
- **comma** decimals, thousands grouped by `.`, a space or `'` (`1.234,5`, `1 234,5`);
- either with one currency sign (`$ € £ ¥ ₹`) before or after, or a `%` after (read as
  written: `12 %` is 12).

When both conventions read every cell (`1,234` alone could be either), the file decides:
in a comma-separated file a comma inside a number has to be quoted, so it groups
thousands; in a file separated by `;`, tabs or `|`, a comma is the decimal mark, as the
locales that write decimal commas do. The same file read again, or the next file from
the same place, is therefore read the same way, which matters because predicting on new
rows reads them through this module too. Each column read so is said in the Profile.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from modelyard.engine.intake.missing_words import WORDS, count_words, rewrite
from modelyard.schemas import MissingWords

_BATCH = 200  # columns per counting pass
_SAMPLE_ROWS = 2_000
_SIGNS = "$€£¥₹"
_GROUP = {"point": "[, \u00a0\u202f']", "comma": "[. \u00a0\u202f']"}
_DECIMAL = {"point": r"\.", "comma": ","}


def _core(convention: str) -> str:
    """A bare number in `convention`: digits grouped by threes or not, a decimal part."""
    group, decimal = _GROUP[convention], _DECIMAL[convention]
    return (rf"[+-]?(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)(?:{decimal}\d+)?"
            rf"|[+-]?{decimal}\d+")


def _pattern(convention: str) -> str:
    core = _core(convention)
    return (rf"^(?:[+-]?[{_SIGNS}]\s?(?:{core})|(?:{core})\s?[{_SIGNS}]"
            rf"|(?:{core})\s?%|{core})$")


# More than a plain number: a sign, a comma, thousands grouped by a space or `'`, or by
# points twice (`1.234.567`; a single `1.234` is a plain decimal, read so elsewhere).
_MARKED = rf"[{_SIGNS}%,]|\d[ \u00a0\u202f']\d{{3}}|\d\.\d{{3}}\.\d{{3}}"


def _cells(name: str) -> pl.Expr:
    """The column's cells, trimmed, with empty ones and the missing words as gaps."""
    col = pl.col(name).str.strip_chars()
    return pl.when(col.is_in(WORDS) | (col == "")).then(None).otherwise(col).alias(name)


def _as_number(name: str, convention: str) -> pl.Expr:
    """The cells of `name` as Float64 (gaps where they were gaps)."""
    col = _cells(name).str.replace_all(rf"[{_SIGNS}%]", "").str.strip_chars()
    col = col.str.replace_all(_GROUP[convention], "")
    if convention == "comma":
        col = col.str.replace(",", ".", literal=True)
    return col.cast(pl.Float64, strict=False)


def _ways(examples: list[str], convention: str) -> str:
    """How the numbers were written, in words: 'a decimal comma, thousands separators'."""
    cells = pl.Series(examples, dtype=pl.String)
    ways = []
    if convention == "comma" and cells.str.contains(",").any():
        ways.append("a decimal comma")
    if cells.str.contains(rf"\d{_GROUP[convention]}\d{{3}}").any():
        ways.append("thousands separators")
    if cells.str.contains(rf"[{_SIGNS}]").any():
        ways.append("currency signs")
    if cells.str.contains("%").any():
        ways.append("percent signs (read as written: 12 % is 12)")
    return ", ".join(ways)


def read_numbers(path: Path, delimiter: str | None = None
                 ) -> tuple[dict[str, str], list[MissingWords]]:
    """Rewrite the Parquet file `path` so that its text columns of numbers written as
    text (see the module's policy) become numbers. Returns, per column read so, how its
    numbers were written (with an example), and the missing words found among them.
    `delimiter` is the file's, when it was delimited text; it settles ambiguous columns."""
    lf = pl.scan_parquet(path)
    schema = lf.collect_schema()
    texts = [n for n, t in schema.items() if t == pl.String]
    if not texts:
        return {}, []
    ambiguous = "point" if delimiter in (None, ",") else "comma"
    patterns = {c: _pattern(c) for c in ("point", "comma")}
    # The first rows rule out most text columns (categories, words) cheaply; only the
    # columns that could be numbers are counted over the whole file.
    head = lf.select(_cells(n) for n in texts).head(_SAMPLE_ROWS).collect()
    candidates = [n for n in texts if _could_be_numbers(head[n], patterns.values())]
    chosen: dict[str, str] = {}
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start:start + _BATCH]
        aggs = []
        for n in batch:
            cells = _cells(n)
            aggs += [cells.is_not_null().sum().alias(f"{n}\0cells"),
                     cells.str.contains(_MARKED).sum().alias(f"{n}\0marked"),
                     *(cells.str.contains(p).sum().alias(f"{n}\0{c}")
                       for c, p in patterns.items())]
        row = lf.select(aggs).collect().row(0, named=True)
        for n in batch:
            cells = row[f"{n}\0cells"]
            if not cells or not row[f"{n}\0marked"]:
                continue  # empty, or plain numbers besides words: `numbers_past_words`
            fits = [c for c in patterns if row[f"{n}\0{c}"] == cells]
            if fits:
                chosen[n] = ambiguous if len(fits) == 2 else fits[0]
    if not chosen:
        return {}, []
    names = list(chosen)
    found: dict[str, str] = {}
    for n in names:
        examples = head[n].drop_nulls().unique(maintain_order=True).head(50).to_list()
        ways = _ways(examples, chosen[n])
        marked = [e for e in examples if not e.lstrip("+-").isdigit()]
        example = max(marked or examples or ["?"], key=len)  # the one showing the most
        found[n] = f"{ways}, for example “{example}”"
    missing = [MissingWords(column=n, counts=counts, as_missing=True, values="numbers")
               for n, counts in count_words(lf, names).items()]
    out = lf.with_columns(_as_number(n, chosen[n]).alias(n) for n in names)
    integral = out.select((pl.col(n).is_null() | (pl.col(n) == pl.col(n).round())).all()
                          for n in names).collect().row(0)
    out = out.with_columns(pl.col(n).cast(pl.Int64) for n, whole
                           in zip(names, integral, strict=True)
                           if whole and not _has_decimals(head[n], chosen[n]))
    rewrite(out, path)
    return found, missing


def _could_be_numbers(cells: pl.Series, patterns) -> bool:
    present = cells.drop_nulls()
    return present.is_empty() or any(present.str.contains(p).all() for p in patterns)


def _has_decimals(cells: pl.Series, convention: str) -> bool:
    """Whether any sampled cell writes a decimal part (`12,00` stays a decimal number)."""
    return bool(cells.drop_nulls().str.contains(rf"{_DECIMAL[convention]}\d+\s*[%{_SIGNS}]?$")
                .any())
