"""Turn a file, folder or zip on disk into a Dataset: Parquet (+ images) and a Profile.

What a path holds decides the route: a table file (`formats`), a zip (unpacked safely
by `archives`, then treated as the folder it holds), a competition folder
(`competition`), or images (`images`). The dataset folder is built under a temporary
name and renamed into place at the end: a failed intake leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from modelyard.engine.errors import IntakeError, did_you_mean
from modelyard.engine.intake import audio, competition, guards, images, mixed
from modelyard.engine.intake.archives import extract_zip
from modelyard.engine.intake.formats import (
    MAX_COLUMNS,
    TABLE_SUFFIXES,
    Progress,
    kind_of,
    no_progress,
    sniff,
    table_sheet,
    to_parquet,
)
from modelyard.engine.intake.missing_words import found_in
from modelyard.engine.intake.profile import profile_table
from modelyard.engine.intake.roles import apply_roles
from modelyard.engine.intake.target import Hints
from modelyard.engine.intake.warnings import warnings_for
from modelyard.schemas import ColumnKind, Profile, dump
from modelyard.storage import datasets as dataset_store
from modelyard.storage.paths import Home, new_id

__all__ = ["ingest", "content_hash", "content_key", "convert", "load_profile", "preview",
           "same_content", "table_path"]


@dataclass
class Built:
    profile: Profile
    source_format: str
    table: str = "train.parquet"
    roles: dict[str, str] | None = None


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, or of a folder's relative paths and file contents."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    for f in files:
        if f is not path:
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def content_key(path: Path, sheet: str | None = None) -> str:
    """What identifies the data a path holds: its content hash, and for a workbook the
    sheet read (the same file gives a different data set per sheet)."""
    digest = content_hash(path)
    if path.is_file() and kind_of(path) == "excel":
        digest += f"#sheet={sheet or table_sheet(path)}"
    return digest


def same_content(meta: dict[str, Any], test_path: str | Path | None) -> bool:
    """Whether a data set found by its content key also has the test file given (or,
    given none, has none of its own beside the data)."""
    test_hash = content_hash(Path(test_path).expanduser()) if test_path else None
    if "test_content_hash" in meta:
        return meta["test_content_hash"] == test_hash
    return test_hash is None and not meta.get("test_source")


def reuse_note(meta: dict[str, Any]) -> str:
    """What a person is told when a data set is reused rather than added again."""
    added = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("created_at") or 0))
    return f"Using data set “{meta['name']}” (same content, added {added})."


def _check_readable(path: Path, *, folder_ok: bool = True) -> None:
    # stat before open: opening a FIFO would wait for a writer for ever.
    st = guards.require_regular(path)
    if stat.S_ISDIR(st.st_mode):
        if not folder_ok:
            raise IntakeError(f"{path} is a folder, not a file.", "Point to a table file.")
        if not os.access(path, os.R_OK | os.X_OK):
            raise IntakeError(f"{path}: this process may not read the folder.",
                              "Check its permissions.")
        guards.require_plain_folder(path)
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(1)
    except PermissionError as exc:
        raise IntakeError(f"{path}: this process may not read the file.",
                          "Check its permissions.") from exc
    if not head:
        raise IntakeError(f"{path.name} is empty.", "Choose a file that has a header and rows.")


def convert(path: Path, dest: Path) -> None:
    """Write the table file `path` as Parquet at `dest`, streaming."""
    to_parquet(sniff(Path(path)), Path(dest), Path(dest).parent)


def _stage(progress: Progress, lo: float, hi: float) -> Progress:
    return lambda f, message: progress(lo + (hi - lo) * max(0.0, min(1.0, f)), message)


def ingest(
    home: Home,
    path: str | Path,
    *,
    name: str | None = None,
    target: str | None = None,
    test_path: str | Path | None = None,
    sheet: str | None = None,
    header: bool | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ingest a table, folder or zip (and optionally a test table); return the meta."""
    progress = progress or no_progress
    path = Path(path).expanduser()
    _check_readable(path)
    test = Path(test_path).expanduser() if test_path else None
    if test is not None:
        # A folder (or zip) of test images goes with a folder of training images.
        _check_readable(test, folder_ok=path.is_dir() or kind_of(path) == "zip")

    dataset_id = new_id("ds")
    staging = home.datasets / f".{dataset_id}.partial"
    work = staging / ".work"
    work.mkdir(parents=True)
    try:
        progress(0.0, f"Reading {path.name}")
        digest = content_key(path, sheet)
        opts = dict(target=target, test=test, sheet=sheet, header=header, progress=progress)
        if path.is_file() and kind_of(path) == "zip":
            root = extract_zip(path, work / "unzipped", _stage(progress, 0.0, 0.2))
            built = _from_folder(root, path.name, staging, work, **opts)
        elif path.is_dir():
            built = _from_folder(path, path.name, staging, work, **opts)
        else:
            built = _from_table(path, staging, work, **opts)
        shutil.rmtree(work)
        meta = _meta(dataset_id, name or _default_name(path), path, digest, built, test,
                     target, sheet)
        meta["test_content_hash"] = content_hash(test) if test is not None else None
        dataset_store.write_meta(home, meta, dump(built.profile), folder=staging)
        staging.rename(home.dataset_dir(dataset_id))
        progress(1.0, "Done")
        return meta
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _default_name(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        if suffix.lower() in TABLE_SUFFIXES or suffix.lower() in (".zip", ".gzip"):
            name = name[: -len(suffix)]
        else:
            break
    return name or path.name


# -- tables -----------------------------------------------------------------------------
def _convert_checked(path: Path, dest: Path, work: Path, *, sheet, header, progress,
                     shown: str | None = None):
    shown = shown or path.name
    source = sniff(path, sheet=sheet, header=header)
    if source.format == "zip":
        raise IntakeError(f"{shown} is a zip archive inside a data set.",
                          "Unpack it and point to the table itself.")
    source = to_parquet(source, dest, work, progress)
    if source.format == "excel" and len(source.sheets) > 1:
        shown = f"The sheet “{source.sheet}” of {shown}"
    n_cols = len(source.columns)
    if n_cols > MAX_COLUMNS:
        raise IntakeError(f"{shown} has {n_cols:,} columns; Modelyard handles at most "
                          f"{MAX_COLUMNS:,}.", "Keep the columns you need and retry.")
    n_rows = pl.scan_parquet(dest).select(pl.len()).collect().item()
    if n_rows == 0:
        others = [s for s in source.sheets if s != source.sheet]
        raise IntakeError(f"{shown} has a header but no rows.",
                          f"Choose another sheet ({', '.join(others)})." if others else
                          "Choose a file with data in it.")
    return source


def _from_table(path: Path, staging: Path, work: Path, *, target, test, sheet, header,
                progress, hints_for: Callable | None = None,
                image_column: str | None = None) -> Built:
    train_path = staging / "train.parquet"
    source = _convert_checked(path, train_path, work, sheet=sheet, header=header,
                              progress=_stage(progress, 0.0, 0.5))
    if len(source.columns) == 1:
        others = [s for s in source.sheets if s != source.sheet]
        where = f"The sheet “{source.sheet}” of {path.name}" if others else path.name
        raise IntakeError(f"{where} has a single column (“{source.columns[0]}”): there is "
                          "nothing to learn from besides the target.",
                          f"Choose another sheet ({', '.join(others)})." if others else
                          "If its values are separated by another character, save it as a "
                          "CSV with commas; otherwise add the columns to learn from.")
    test_lf = None
    if test is not None:
        tsource = _convert_checked(test, staging / "test.parquet", work, sheet=None,
                                   header=header, progress=_stage(progress, 0.5, 0.6))
        shared = set(tsource.columns) & set(source.columns)
        if not shared:
            raise IntakeError(f"The test file {test.name} shares no column with "
                              f"{path.name}.", "Check that it is the test file of this data.")
        test_lf = pl.scan_parquet(staging / "test.parquet")
    lf = pl.scan_parquet(train_path)
    names = source.columns
    from modelyard.engine.multilabel.plan import mark_label_columns, named_labels

    label_columns = named_labels(target, names)
    for column in label_columns or []:
        _check_target(lf, column, names, path.name)
    if label_columns:
        target = label_columns[0]
    elif target is not None:
        _check_target(lf, target, names, path.name)
    hints, extra = hints_for(lf, test_lf) if hints_for else (None, None)
    profile = profile_table(lf, target=target, test=test_lf, hints=hints,
                            source=source.describe(), progress=_stage(progress, 0.6, 1.0))
    profile.missing_words = found_in(lf, source.words_read_as_missing)
    if label_columns:
        mark_label_columns(profile, label_columns)
    if profile.missing_words or label_columns:
        profile.warnings = warnings_for(profile)
    if extra:
        profile.competition = extra
        if extra.get("multi_output"):
            profile.findings["multi_output"] = extra["multi_output"]
        profile.warnings = warnings_for(profile)
    _take_images(profile, path, staging, test, image_column, progress)
    return Built(profile, source.format)


def _take_images(profile: Profile, path: Path, staging: Path, test: Path | None,
                 image_column: str | None, progress) -> None:
    """A table with a column of image paths is mixed data: its images are copied into
    the dataset (engine/intake/mixed.py) and the profile says what was found."""
    columns = mixed.image_columns(profile)
    if image_column and image_column not in columns:
        columns.append(image_column)
    if not columns or profile.images is not None:
        return
    from modelyard.engine.intake.profile import modality_of

    # Inside a folder or zip given whole, a cell may name a file by its name alone.
    summary = mixed.take_images(staging / "train.parquet", columns, path.parent, staging,
                                shown=path.name, use_index=image_column is not None,
                                progress=_stage(progress, 0.6, 0.9))
    test_file = staging / "test.parquet"
    if test is not None and test_file.exists():
        present = [c for c in columns if c in pl.read_parquet_schema(test_file)]
        if present:
            found = mixed.take_images(test_file, present, test.parent, staging,
                                      folder="test_images", shown=test.name)
            summary.n_test_images = found.n_with_image
            summary.skipped += found.skipped[: max(0, 10 - len(summary.skipped))]
            summary.n_skipped += found.n_skipped
    mixed.mark_image_columns(profile, columns)
    profile.mixed = summary
    profile.modality = modality_of(profile)
    profile.warnings = warnings_for(profile)


def _check_target(lf: pl.LazyFrame, target: str, names: list[str], shown: str) -> None:
    if target not in names:
        raise IntakeError(
            f"There is no column “{target}” in {shown}.",
            f"{did_you_mean(target, names)}Columns are: {', '.join(names[:20])}"
            f"{' …' if len(names) > 20 else ''}.",
        )
    if lf.select(pl.col(target).is_not_null().any()).collect().item() is False:
        raise IntakeError(f"The target “{target}” is empty in every row of {shown}.",
                          "Choose another target column.")


# -- folders ----------------------------------------------------------------------------
def _test_images(test: Path | None, work: Path, staging: Path,
                 progress) -> images.ImageSet | None:
    """The test images that go with an image data set: a folder or a zip of them."""
    if test is None:
        return None
    root = test
    if test.is_file():
        if kind_of(test) != "zip":
            raise IntakeError(f"{test.name} is not a folder or zip of images.",
                              "Give the test images as a folder (or a zip) of image files.")
        root = extract_zip(test, work / "test_unzipped", no_progress)
    found = images.from_test_folder(root, staging, _stage(progress, 0.7, 0.8))
    if not found.rows:
        raise IntakeError(f"{test.name} holds no readable images.",
                          "Give a folder of .png or .jpg files to predict.")
    return found



def _from_folder(root: Path, shown: str, staging: Path, work: Path, *, target, test, sheet,
                 header, progress) -> Built:
    comp = competition.find(root)
    if comp is not None:
        return _from_competition(comp, staging, work, target=target, sheet=sheet,
                                 header=header, progress=progress)
    tables = sorted(f for f in root.iterdir() if f.is_file() and not f.name.startswith(".")
                    and any(s.lower() in TABLE_SUFFIXES for s in f.suffixes))
    if audio.holds_audio(root):
        return _from_audio_folder(root, shown, tables, staging, work, target=target,
                                  test=test, sheet=sheet, header=header, progress=progress)
    class_dirs = images.class_folders(root)
    if len(tables) == 1:
        table = _read_small(tables[0], work, sheet=sheet, header=header)
        index = images.ImageIndex(root)
        link = images.link_columns(table, index) if table is not None and len(index) else None
        if link is not None and mixed.has_other_columns(table, *link):
            # Images next to columns to learn from: a mixed table, not a labels table.
            return _from_table(tables[0], staging, work, target=target, test=test,
                               sheet=sheet, header=header, progress=progress,
                               image_column=link[0])
        if link is not None:
            found = images.from_table(table, link[0], link[1], index, staging,
                                      _stage(progress, 0.1, 0.7), tables[0].name)
            return _from_images(found, _test_images(test, work, staging, progress), staging,
                                shown, "images + labels table",
                                label_source=f"the “{link[1]}” column of {tables[0].name}",
                                target=target, progress=progress)
        if not class_dirs:
            return _from_table(tables[0], staging, work, target=target, test=test, sheet=sheet,
                               header=header, progress=progress)
    if class_dirs:
        found = images.from_class_folders(root, staging, _stage(progress, 0.1, 0.7))
        return _from_images(found, _test_images(test, work, staging, progress), staging,
                            shown, "image folders",
                            label_source="each image's folder name is its label",
                            target=target, progress=progress)
    if tables:
        raise IntakeError(f"{shown} holds {len(tables)} tables "
                          f"({', '.join(t.name for t in tables[:4])}) and no train/test pair.",
                          "Choose one of the files, or name them train.csv and test.csv.")
    raise IntakeError(f"{shown} holds no table and no images Modelyard can read.",
                      "Point to a CSV, Parquet, JSON or Excel file, or a folder of images "
                      "with one subfolder per class.")


def _read_small(path: Path, work: Path, *, sheet=None, header=None) -> pl.DataFrame | None:
    """A labels table, read whole (it has one row per image)."""
    dest = work / f"{path.name}.parquet"
    try:
        _convert_checked(path, dest, work, sheet=sheet, header=header, progress=no_progress)
    except IntakeError:
        return None
    return pl.read_parquet(dest)


def _from_images(found: images.ImageSet, test_found: images.ImageSet | None, staging: Path,
                 shown: str, layout: str, *, label_source: str, target, progress,
                 extra: dict | None = None) -> Built:
    images.require_images(found, shown)
    found.frame().write_parquet(staging / "manifest.parquet")
    if test_found is not None and test_found.rows:
        test_found.frame().write_parquet(staging / "test_manifest.parquet")
    lf = pl.scan_parquet(staging / "manifest.parquet")
    labelled = found.frame()["label"].is_not_null().any()
    profile = profile_table(lf, target=target or ("label" if labelled else None),
                            source={"format": layout, "file": shown},
                            progress=_stage(progress, 0.7, 1.0))
    if profile.target is not None and target is None:
        profile.target.reason = label_source
        profile.target.confidence = 0.95
    profile.images = images.summary(found, test_found)
    profile.competition = extra
    profile.modality = "image"
    profile.warnings = warnings_for(profile)
    return Built(profile, layout, table="manifest.parquet")


def _from_competition(comp: competition.Competition, staging: Path, work: Path, *, target,
                      sheet, header, progress) -> Built:
    if comp.sample_submission is not None:
        shutil.copyfile(comp.sample_submission, staging / "sample_submission.csv")
    if comp.images is not None:
        built = _competition_images(comp, staging, work, target=target, progress=progress)
        if built is not None:
            return built

    def hints_for(lf: pl.LazyFrame, test_lf: pl.LazyFrame | None):
        test_cols = test_lf.collect_schema().names() if test_lf is not None else None
        info = competition.interpret(comp, lf, test_cols)
        hints = Hints(submission_outputs=[info["target"]] if info["target"] else [])
        return hints, info

    built = _from_table(comp.train, staging, work, target=target, test=comp.test, sheet=sheet,
                        header=header, progress=progress, hints_for=hints_for)
    id_col = (built.profile.competition or {}).get("id_column")
    if id_col in built.profile.column_names and built.profile.column(id_col).kind is not \
            ColumnKind.id:
        built.roles = {id_col: "id"}
        apply_roles(built.profile, built.roles)
        built.profile.warnings = warnings_for(built.profile)
    built.source_format = "competition folder"
    built.profile.source["layout"] = "competition folder"
    return built


def _competition_images(comp, staging, work, *, target, progress) -> Built | None:
    train = _read_small(comp.train, work)
    if train is None:
        return None
    index = images.ImageIndex(comp.folder)
    link = images.link_columns(train, index)
    if link is None:
        return None
    info = competition.interpret(comp, train.lazy(), None)
    label_col = info.get("target") if info.get("target") in train.columns else link[1]
    found = images.from_table(train, link[0], label_col, index, staging,
                              _stage(progress, 0.1, 0.6), comp.train.name)
    test_found = None
    if comp.test is not None:
        test = _read_small(comp.test, work)
        test_link = images.link_columns(test, index) if test is not None else None
        if test_link is not None:
            test_found = images.from_table(test, test_link[0], None, index, staging,
                                           _stage(progress, 0.6, 0.7), comp.test.name)
    return _from_images(found, test_found, staging, comp.folder.name, "competition folder "
                        "with images", label_source=f"the “{label_col}” column of "
                        f"{comp.train.name}", target=target, progress=progress, extra=info)


# -- sound ------------------------------------------------------------------------------
def _from_audio_folder(root: Path, shown: str, tables: list[Path], staging: Path,
                       work: Path, *, target, test, sheet, header, progress) -> Built:
    """Recordings in one folder per class, or listed with their labels in one table."""
    found, layout, label_source = None, "sound folders", "each recording's folder name"
    if len(tables) == 1:
        table = _read_small(tables[0], work, sheet=sheet, header=header)
        index = images.ImageIndex(root)
        link = images.link_columns(table, index) if table is not None else None
        if link is not None:
            found = audio.from_table(table, link[0], link[1], index, staging,
                                     _stage(progress, 0.1, 0.7), tables[0].name)
            layout = "recordings + labels table"
            label_source = f"the “{link[1]}” column of {tables[0].name}"
    if found is None:
        if not audio.class_folders(root):
            raise IntakeError(f"{shown} holds recordings but no class folders and no table "
                              "of labels.", "Put the recordings of each class in their own "
                              "subfolder (yes/, no/, …), or add a CSV with a path and a "
                              "label column.")
        found = audio.from_class_folders(root, staging, _stage(progress, 0.1, 0.7))
    audio.require_audio_clips(found, shown)
    test_found = _test_audio(test, work, staging, progress)
    found.frame().write_parquet(staging / "manifest.parquet")
    if test_found is not None:
        test_found.frame().write_parquet(staging / "test_manifest.parquet")
    lf = pl.scan_parquet(staging / "manifest.parquet")
    labelled = found.frame()["label"].is_not_null().any()
    profile = profile_table(lf, target=target or ("label" if labelled else None),
                            source={"format": layout, "file": shown},
                            progress=_stage(progress, 0.8, 1.0))
    if profile.target is not None and target is None:
        profile.target.reason = label_source
        profile.target.confidence = 0.95
    profile.audio = audio.summary(found, test_found)
    profile.modality = "audio"
    # The manifest's other columns are bookkeeping (path, hash, duration): never a target.
    profile.target_candidates = [c for c in profile.target_candidates if c.column == "label"]
    profile.warnings = warnings_for(profile)
    return Built(profile, layout, table="manifest.parquet")


def _test_audio(test: Path | None, work: Path, staging: Path,
                progress) -> audio.AudioSet | None:
    """The test recordings that go with a sound data set: a folder or a zip of them."""
    if test is None:
        return None
    root = test
    if test.is_file():
        if kind_of(test) != "zip":
            raise IntakeError(f"{test.name} is not a folder or zip of recordings.",
                              "Give the test recordings as a folder (or a zip).")
        root = extract_zip(test, work / "test_unzipped", no_progress)
    found = audio.from_test_folder(root, staging, _stage(progress, 0.7, 0.8))
    if not found.rows:
        why = f" ({found.skipped[0]})" if found.skipped else ""
        raise IntakeError(f"{test.name} holds no readable recordings{why}.",
                          "Give a folder of .wav, .flac, .ogg or .mp3 files to predict.")
    return found


# -- meta and reading back ----------------------------------------------------------------
def _meta(dataset_id: str, name: str, source: Path, digest: str, built: Built,
          test: Path | None, target: str | None, sheet: str | None) -> dict[str, Any]:
    profile = built.profile
    return {
        "id": dataset_id,
        "name": name,
        "created_at": time.time(),
        "source": str(source.resolve()),
        "test_source": str(test.resolve()) if test else None,
        "content_hash": digest,
        "n_rows": profile.n_rows,
        "n_cols": profile.n_cols,
        "target": profile.target.column if profile.target else None,
        "task": profile.target.task.value if profile.target else None,
        "modality": profile.modality,
        "has_test": test is not None or (profile.test_rows is not None)
        or bool(profile.images and profile.images.n_test_images)
        or bool(profile.audio and profile.audio.n_test_clips),
        "roles": built.roles or {},
        "target_chosen": target is not None,
        "format": built.source_format,
        "sheet": sheet or profile.source.get("sheet"),
        "table": built.table,
    }


def load_profile(home: Home, dataset_id: str) -> Profile:
    return Profile.model_validate(dataset_store.read_profile(home, dataset_id))


def table_path(home: Home, dataset_id: str) -> Path:
    """The dataset's main table: train.parquet, or an image set's manifest."""
    folder = home.dataset_dir(dataset_id)
    train = folder / "train.parquet"
    return train if train.exists() else folder / "manifest.parquet"


def preview(home: Home, dataset_id: str, offset: int = 0, limit: int = 100):
    """Rows `offset`..`offset+limit` of a dataset's main table, as pandas."""
    return (pl.scan_parquet(table_path(home, dataset_id))
            .slice(offset, limit).collect().to_pandas())
