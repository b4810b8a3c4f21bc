"""Tables whose rows point at images ("mixed" data): a column of image paths next to
numeric, categorical and text columns.

Each path is read relative to the table's folder (for an uploaded zip: the folder the zip
holds), and must stay inside it: a path that climbs out (`../`), or is absolute, is left
out as a file of another place. Every readable image is copied under the dataset folder's
`images/` (`test_images/` for a test table) and the column rewritten to that copy, so a
Dataset survives the original files moving. Missing or undecodable files are named and
left out (that row keeps its other columns and has no image); the whole table is never
refused for them. The copies count against the same cap as an unpacked archive
(`guards.unpack_cap`, `$MODELYARD_MAX_UNPACKED_GB`): a table cannot make intake copy more
than a zip could unpack.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import polars as pl

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import guards
from modelyard.engine.intake.images import ImageIndex, check_image, is_image_name
from modelyard.schemas import ColumnKind, MixedSummary, Profile

_SHOWN_SKIPS = 10
EXAMPLE_ROWS = 6


def image_columns(profile: Profile) -> list[str]:
    """The columns of `profile` that hold image paths (never the target)."""
    target = profile.target.column if profile.target else None
    return [c.name for c in profile.columns if c.kind is ColumnKind.image and c.name != target]


def has_other_columns(table: pl.DataFrame, path_col: str, label_col: str | None) -> bool:
    """Whether a table that lists images also carries columns to learn from beside the
    path and the label (then it is mixed data, not an images + labels table)."""
    rest = [c for c in table.columns if c not in (path_col, label_col)]
    # A column unique in every row is an identifier, not something to learn from.
    return any(table[c].n_unique() < table.height for c in rest)


class _Finder:
    """Resolves a cell to an image file under `root`; the index (by file name or stem,
    as for an images + labels table) only inside an unpacked zip or a folder given."""

    def __init__(self, root: Path, use_index: bool):
        self.root = root.resolve()
        self.index = ImageIndex(root) if use_index else None

    def find(self, value: object) -> tuple[Path | None, str]:
        text = str(value).strip().replace("\\", "/")
        if not text:
            return None, "empty path"
        if PurePosixPath(text).is_absolute() or ".." in PurePosixPath(text).parts:
            return None, "outside the table's folder"
        candidate = (self.root / text).resolve()  # a link is followed to what it names
        if self.index is not None and not candidate.is_file():
            found = self.index.find(text)
            candidate = found.resolve() if found is not None else candidate
        if not candidate.exists():
            return None, "not found"
        if not candidate.is_relative_to(self.root):
            return None, "outside the table's folder"
        if not candidate.is_file():  # a folder, a pipe, a device: never opened
            return None, "not a regular file"
        return candidate, ""


def take_images(table_file: Path, columns: list[str], root: Path, staging: Path, *,
                folder: str = "images", shown: str, use_index: bool = False,
                progress=None) -> MixedSummary:
    """Copy the images the `columns` of the Parquet `table_file` name into
    `staging/folder/`, rewrite those cells to the copies (missing where unusable), and
    say what was found."""
    frame = pl.read_parquet(table_file)
    finder = _Finder(root, use_index)
    meter = guards.Meter(f"The images listed in {shown}")
    done: dict[str, tuple[str | None, str]] = {}  # cell -> (copy, why not)
    sizes: list[tuple[int, int]] = []
    skipped: list[str] = []
    n_skipped = 0
    readable = pl.Series([True] * frame.height)
    for column in columns:
        values = frame[column].cast(pl.String).to_list()
        out: list[str | None] = []
        for i, value in enumerate(values):
            if value is None:
                out.append(None)
                continue
            if value not in done:
                done[value] = _take(value, finder, staging, folder, meter, sizes)
                if done[value][0] is None:
                    n_skipped += 1
                    if len(skipped) < _SHOWN_SKIPS:
                        skipped.append(f"{value}: {done[value][1]}")
            out.append(done[value][0])
            if progress and i % 50 == 0:
                progress(i / max(1, len(values)), f"Copying images ({i:,} of {len(values):,})")
        series = pl.Series(column, out, dtype=pl.String)
        readable = readable & series.is_not_null()
        frame = frame.with_columns(series)
    frame.write_parquet(table_file)

    def spread(values: list[int]) -> dict[str, float]:
        if not values:
            return {}
        s = pl.Series(values)
        return {"min": float(s.min()), "median": float(s.median()), "max": float(s.max())}

    return MixedSummary(image_columns=list(columns), n_rows=frame.height,
                        n_with_image=int(readable.sum()), skipped=skipped,
                        n_skipped=n_skipped, width=spread([w for w, _ in sizes]),
                        height=spread([h for _, h in sizes]))


def _take(value: str, finder: _Finder, staging: Path, folder: str, meter: guards.Meter,
          sizes: list) -> tuple[str | None, str]:
    src, why = finder.find(value)
    if src is None:
        return None, why
    if not is_image_name(src):
        return None, "not an image file"
    try:
        guards.require_regular(src)
    except IntakeError as exc:  # a FIFO or device named by a cell: never opened
        return None, exc.args[0]
    found = check_image(src)
    if isinstance(found, str):
        return None, found
    meter.add(src.stat().st_size)
    rel = src.relative_to(finder.root).as_posix()
    dest = staging / folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    sizes.append(found)
    return f"{folder}/{rel}", ""


def mark_image_columns(profile: Profile, columns: list[str]) -> None:
    """Columns found to name images (by the files they point at) are image columns."""
    for col in profile.columns:
        if col.name in columns:
            col.kind = ColumnKind.image


def examples(dataset_dir: Path, profile: Profile, n: int = EXAMPLE_ROWS
             ) -> list[tuple[dict, list[Path]]]:
    """A few rows with a readable image: (the row's values, its image files)."""
    if profile.mixed is None:
        return []
    columns = profile.mixed.image_columns
    frame = (pl.scan_parquet(dataset_dir / "train.parquet")
             .filter(pl.all_horizontal(pl.col(c).is_not_null() for c in columns))
             .head(n).collect())
    return [(row, [dataset_dir / row[c] for c in columns]) for row in frame.to_dicts()]
