"""Turn a file on disk into a Dataset: Parquet + Profile in its own folder.

Conversion streams through Polars (`scan_*` → `sink_parquet`) so a file bigger than
memory never has to fit in it. The folder is built under a temporary name and renamed
into place at the end: a failed intake leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from engine.errors import IntakeError
from engine.intake.profile import profile_table
from engine.schemas import Profile, dump
from storage import datasets as dataset_store
from storage.paths import Home, new_id

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet",
                  ".pq": "parquet"}


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _scan(path: Path) -> pl.LazyFrame:
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise IntakeError(
            f"{path.name}: Modelyard cannot read “{path.suffix or 'no extension'}” files yet.",
            "Use a CSV or Parquet file.",
        )
    if kind == "parquet":
        return pl.scan_parquet(path)
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    return pl.scan_csv(path, separator=separator, infer_schema_length=10_000,
                       try_parse_dates=True)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise IntakeError(f"{path}: no such file.", "Check the path and try again.")
    if path.is_dir():
        raise IntakeError(f"{path} is a folder, not a file.", "Point to a CSV or Parquet file.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1)
    except PermissionError as exc:
        raise IntakeError(f"{path}: this process may not read the file.",
                          "Check its permissions.") from exc
    if not head:
        raise IntakeError(f"{path.name} is empty.", "Choose a file that has a header and rows.")


def convert(path: Path, dest: Path) -> None:
    """Write `path` as Parquet at `dest`, streaming."""
    try:
        _scan(path).sink_parquet(dest)
    except IntakeError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise IntakeError(f"{path.name} could not be read as a table: {_first_line(exc)}",
                          "Check that it is a valid CSV or Parquet file.") from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def ingest(
    home: Home,
    path: str | Path,
    *,
    name: str | None = None,
    target: str | None = None,
    test_path: str | Path | None = None,
) -> dict[str, Any]:
    """Ingest a table (and optionally its test file); return the dataset's meta."""
    path = Path(path).expanduser()
    _check_readable(path)
    test = Path(test_path).expanduser() if test_path else None
    if test is not None:
        _check_readable(test)

    dataset_id = new_id("ds")
    staging = home.datasets / f".{dataset_id}.partial"
    staging.mkdir(parents=True)
    try:
        convert(path, staging / "train.parquet")
        if test is not None:
            convert(test, staging / "test.parquet")
        lf = pl.scan_parquet(staging / "train.parquet")
        names = lf.collect_schema().names()
        if target is not None and target not in names:
            raise IntakeError(
                f"There is no column “{target}” in {path.name}.",
                f"Columns are: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}.",
            )
        profile = profile_table(lf, target=target)
        if profile.n_rows == 0:
            raise IntakeError(f"{path.name} has a header but no rows.",
                              "Choose a file with data in it.")
        meta = _meta(dataset_id, name or path.stem, path, profile, test)
        final = home.dataset_dir(dataset_id)
        staging.rename(final)
        dataset_store.write_meta(home, meta, dump(profile))
        return meta
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _meta(dataset_id: str, name: str, source: Path, profile: Profile, test: Path | None):
    return {
        "id": dataset_id,
        "name": name,
        "created_at": time.time(),
        "source": str(source.resolve()),
        "test_source": str(test.resolve()) if test else None,
        "content_hash": content_hash(source),
        "n_rows": profile.n_rows,
        "n_cols": profile.n_cols,
        "target": profile.target.column if profile.target else None,
        "task": profile.target.task.value if profile.target else None,
        "modality": profile.modality,
        "has_test": test is not None,
        "roles": {},
    }


def load_profile(home: Home, dataset_id: str) -> Profile:
    return Profile.model_validate(dataset_store.read_profile(home, dataset_id))


def preview(home: Home, dataset_id: str, offset: int = 0, limit: int = 100):
    """Rows `offset`..`offset+limit` of a dataset's training table, as pandas."""
    return (pl.scan_parquet(home.dataset_dir(dataset_id) / "train.parquet")
            .slice(offset, limit).collect().to_pandas())
