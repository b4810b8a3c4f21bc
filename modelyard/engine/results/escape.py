"""Values from the data, made harmless where people open them: CSV cells in spreadsheets,
column names and values in Markdown and HTML documents. Data is untrusted input: a column
can be called `=HYPERLINK("http://x","click")` or `<img src=x onerror=alert(1)>`.

Policy and its trade-offs:

- **CSV files meant for people** (predictions, submissions, leaderboard.csv) go through
  `for_spreadsheets` / `safe_row`. A text cell (or column name) that starts with `=`, `+`,
  `-`, `@`, a tab or a carriage return is one a spreadsheet may run as a formula; it gets
  a leading `'` (OWASP's advice on CSV injection), which spreadsheets show as text. A
  number is never touched: -1.5 is not a formula, and neither is text that reads as a
  plain number ("-1.5": CSV has no types, so its bytes are those of the number). Parquet
  files keep every value exact: spreadsheets do not open them.
- **A format may demand the exact text** (a competition's header and ids): the writer says
  which columns and values to keep, and is told which formula-like ones it kept, to say so.
- **Markdown** (`md_text`, for prose and table cells): `<`, `>`, `&` become entities, so no
  tag or entity from the data is ever HTML; backticks, `*`, `|`, `[` and `]` (and `!`
  before `[`, a backslash before punctuation) are backslash-escaped, so the data makes no
  code, emphasis, table cell, link or image; a line break becomes a space and a leading
  `#`, `>`, `-`, `+`, `=` or `1.` is escaped, so no heading, quote or list starts inside a
  value. `_` is left alone: snake_case names are the common case, and `a_b` makes no
  emphasis. A bare URL stays visible text (GitHub may still link it, but the reader sees
  where it goes). `md_code` writes a value as inline code, whatever backticks it holds.
- **HTML**: `html.escape`, quotes included. Chart labels (`plotly_text`) too: plotly
  renders `<b>` and `<a href>` in labels, titles and legends.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# -- CSV for spreadsheets -------------------------------------------------------------------
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet reads as a plain number; never a formula (no leading +: "+1" is one).
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
ALL = None  # in `keep`: every value of the column
Keep = Mapping[str, Collection[str] | None]


def formula_like(value: Any) -> bool:
    """A text value a spreadsheet may run as a formula."""
    return (isinstance(value, str) and value.startswith(FORMULA_START)
            and not _NUMBER.fullmatch(value))


def neutralise(value: Any) -> Any:
    """`value` with a leading `'` if it is formula-like; anything else as it is."""
    return "'" + value if formula_like(value) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """One CSV row for `csv.writer`, formula-like text neutralised."""
    return [neutralise(v) for v in values]


@dataclass
class Neutralised:
    """What `for_spreadsheets` did: cells given a `'`, and formula-like values it kept."""

    cells: int = 0
    kept: list[str] = field(default_factory=list)

    def notes(self, what: str, why: str = "the format requires them") -> list[str]:
        """For a person: what was changed in `what` (a file name), and what was kept."""
        said = []
        if self.cells:
            said.append(f"{self.cells} cell(s) of {what} start with =, +, -, @, a tab or a "
                        "line break and were written with a leading ' so that a spreadsheet "
                        "shows them as text instead of running them as formulas")
        if self.kept:
            shown = ", ".join(f"“{v[:40]}”" for v in self.kept[:3])
            said.append(f"{len(self.kept)} value(s) of {what} that a spreadsheet could run "
                        f"as a formula were kept as they are because {why} ({shown}); "
                        "open the file in a spreadsheet with care")
        return said


def for_spreadsheets(frame: pd.DataFrame, *, keep_names: bool = False,
                     keep: Keep | None = None) -> tuple[pd.DataFrame, Neutralised]:
    """`frame` with formula-like text cells and column names neutralised, except the names
    (with `keep_names`) and the values of `keep` ({column: values, or ALL}) that a format
    demands exactly; numbers are never touched."""
    keep = keep or {}
    done = Neutralised()
    out = frame.copy()
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(
                values):
            continue
        risky = values.map(formula_like).astype(bool)
        if not risky.any():
            continue
        kept_here = risky & (values.isin(list(keep[col])) if keep.get(col) is not None
                             else col in keep)
        done.kept += [str(v) for v in values[kept_here].unique()]
        change = risky & ~kept_here
        done.cells += int(change.sum())
        out[col] = values.astype(object).where(~change, "'" + values[change].astype(str))
    if not keep_names:
        renamed = [neutralise(c) for c in frame.columns]
        done.cells += sum(a != b for a, b in zip(renamed, frame.columns, strict=True))
        out.columns = renamed
    else:
        done.kept += [c for c in frame.columns if formula_like(c)]
    return out, done


def copy_for_spreadsheets(source: Path, dest: Path) -> Neutralised:
    """A CSV file copied cell for cell (its text kept byte for byte otherwise), formula-like
    cells neutralised: for files written elsewhere, whose types are gone."""
    done = Neutralised()
    tmp = dest.with_name(f".{dest.name}.partial")
    with open(source, newline="", encoding="utf-8") as src, \
            open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(src):
            safe = safe_row(row)
            done.cells += sum(a != b for a, b in zip(safe, row, strict=True))
            writer.writerow(safe)
    tmp.replace(dest)
    return done


# -- Markdown and HTML ----------------------------------------------------------------------
@dataclass(frozen=True)
class Strong:
    """A part of a document's text shown in bold: the only markup; the rest is plain text."""

    text: str


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# A backslash escapes only ASCII punctuation (before anything else it is shown as it is).
_MD_SPECIAL = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)|[`*|\[\]]|!(?=\[)|[&<>]")
# What opens a block at the start of a line: a heading, a list item, a setext underline.
_MD_BLOCK = re.compile(r"^(\s*)(?:(#{1,6}|[+-])(?=\s|$)|([=-]+)(?=\s*$)|(\d{1,9})(?=[.)](?:\s|$)))")


def _unblock(m: re.Match) -> str:
    if m.group(4):  # "1." / "1)": the escape goes before the dot
        return f"{m.group(1)}{m.group(4)}\\"
    return f"{m.group(1)}\\{m.group(2) or m.group(3)}"


def md_text(value: Any) -> str:
    """`value` as Markdown text that renders as exactly that text (see the policy)."""
    text = " ".join(str("" if value is None else value).splitlines())
    text = _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(), "\\" + m.group()), text)
    # A value at the start of a line must not open a block (`>` is an entity by now).
    return _MD_BLOCK.sub(_unblock, text, count=1)


def md_code(value: Any, *, in_table: bool = False) -> str:
    """`value` as inline code: fenced by more backticks than it holds in a row, so it
    cannot close the span. In a table a `|` is escaped (GitHub splits cells even inside
    code); elsewhere code shows every character as it is."""
    text = " ".join(str("" if value is None else value).splitlines())
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plotly_text(value: Any) -> str:
    """`value` for a chart's labels, names and titles: plotly reads `<b>`, `<a href>` and
    entities in them, so `<`, `>` and `&` become entities (plotly shows them as written)."""
    return html.escape(str("" if value is None else value), quote=False)


def html_text(value: Any) -> str:
    """`value` as HTML text (quotes escaped too: safe in attributes as well)."""
    return html.escape(str("" if value is None else value), quote=True)
