"""Sound data sets: a folder per class, or recordings plus a table of labels.

Each recording is checked (it must decode, hold sound and be of a sane size), copied
under the dataset folder's `audio/`, and listed in a manifest table: `path` (relative to
the dataset folder), `label`, `seconds`, `sample_rate`, `channels`, `peak`, `clipped`,
`sha256`. Files that are not recordings, or do not decode, are left out and named in the
profile's warnings; the set is refused only when nothing usable is left.

The folder walking and the table matching are the image intake's (`images.py`): one
way to find files, for both kinds.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake.images import ImageIndex, _visible, files_under
from modelyard.schemas import AudioSummary

MANIFEST_SCHEMA = {"path": pl.String, "label": pl.String, "seconds": pl.Float64,
                   "sample_rate": pl.Int64, "channels": pl.Int64, "peak": pl.Float64,
                   "clipped": pl.Boolean, "sha256": pl.String}
_SHOWN = 10


def is_audio_name(path: Path | str) -> bool:
    from modelyard.engine.audio.decode import is_audio_name as named

    return named(path)


@dataclass
class AudioSet:
    rows: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_skipped: int = 0

    def skip(self, name: str, why: str) -> None:
        self.n_skipped += 1
        if len(self.skipped) < _SHOWN:
            self.skipped.append(f"{name}: {why}")

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=MANIFEST_SCHEMA)


def class_folders(root: Path) -> list[Path]:
    """The subfolders holding recordings, when `root` is laid out one folder per class."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and _visible(d, root))
    return [d for d in subdirs if any(is_audio_name(f) for f in files_under(d))]


def holds_audio(root: Path) -> bool:
    """Whether a folder holds more recordings than images (it is a sound data set)."""
    from modelyard.engine.intake.images import is_image_name

    found = files_under(root)
    sounds = sum(is_audio_name(f) for f in found)
    return sounds > 0 and sounds >= sum(is_image_name(f) for f in found)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _add(found: AudioSet, src: Path, rel: str, label: str | None, staging: Path,
         folder: str = "audio") -> None:
    from modelyard.engine.audio.decode import probe

    info = probe(src)
    if isinstance(info, str):
        found.skip(rel, info)
        return
    dest = staging / folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    found.rows.append({"path": f"{folder}/{rel}", "label": label,
                       "seconds": round(info.seconds, 4), "sample_rate": info.sample_rate,
                       "channels": info.channels, "peak": round(info.peak, 5),
                       "clipped": info.clipped, "sha256": _digest(src)})


def _walk(found: AudioSet, todo: list[tuple[Path, str, str | None]], staging: Path,
          folder: str, progress, what: str) -> AudioSet:
    for i, (f, rel, label) in enumerate(todo):
        if not is_audio_name(f):
            found.skip(rel, "not a recording (.wav, .flac, .ogg or .mp3)")
        else:
            _add(found, f, rel, label, staging, folder)
        if i % 25 == 0:
            progress(i / max(1, len(todo)), f"Checking {what} ({i:,} of {len(todo):,})")
    return found


def from_class_folders(root: Path, staging: Path, progress) -> AudioSet:
    """One subfolder per class: the folder's name is the label."""
    found = AudioSet()
    for f in files_under(root):
        if f.parent == root:
            found.skip(f.name, "not inside a class folder")
    todo = [(f, f"{d.name}/{f.relative_to(d).as_posix()}", d.name)
            for d in class_folders(root) for f in files_under(d)]
    return _walk(found, todo, staging, "audio", progress, "recordings")


def from_test_folder(root: Path, staging: Path, progress) -> AudioSet:
    """Unlabelled recordings to predict: every one under `root`, kept under `test_audio/`
    with its path relative to `root` (which predictions report)."""
    todo = [(f, f.relative_to(root).as_posix(), None) for f in files_under(root)]
    return _walk(AudioSet(), todo, staging, "test_audio", progress, "test recordings")


def from_table(table: pl.DataFrame, path_col: str, label_col: str | None, index: ImageIndex,
               staging: Path, progress, shown: str) -> AudioSet:
    """Recordings listed in a table: one row per recording, its label in `label_col`."""
    found = AudioSet()
    labels: Iterable = table[label_col].to_list() if label_col else [None] * table.height
    todo = []
    for value, label in zip(table[path_col].to_list(), labels, strict=True):
        src = index.find(value)
        if src is None:
            found.skip(str(value), f"listed in {shown} but not found")
        else:
            todo.append((src, src.relative_to(index.root).as_posix(),
                         None if label is None else str(label)))
    return _walk(found, todo, staging, "audio", progress, "recordings")


def require_audio_clips(found: AudioSet, shown: str) -> None:
    if not found.rows:
        why = f" ({found.skipped[0]})" if found.skipped else ""
        raise IntakeError(f"{shown} holds no recording Modelyard can open{why}.",
                          "Put .wav, .flac, .ogg or .mp3 files in one folder per class, or "
                          "list them in a CSV with a path and a label column.")


def summary(found: AudioSet, test: AudioSet | None = None) -> AudioSummary:
    frame = found.frame()
    counts = (frame.drop_nulls("label").group_by("label").agg(pl.len().alias("n"))
              .sort(["n", "label"], descending=[True, False]))

    def tally(col: str) -> list[tuple[int, int]]:
        t = frame.group_by(col).agg(pl.len().alias("n")).sort(col)
        return [(int(v), int(n)) for v, n in t.iter_rows()]

    s = frame["seconds"]
    silent = frame.filter(pl.col("peak") < 1e-3)["path"].to_list()
    clipped = frame.filter(pl.col("clipped"))["path"].to_list()
    groups = (frame.group_by("sha256").agg(pl.col("path").sort(), pl.len().alias("n"))
              .filter(pl.col("n") > 1).sort("path"))
    return AudioSummary(
        n_clips=frame.height, n_classes=counts.height,
        class_counts=[(str(v), int(n)) for v, n in counts.iter_rows()],
        seconds={"min": float(s.min()), "median": float(s.median()), "max": float(s.max())},
        sample_rates=tally("sample_rate"), channels=tally("channels"),
        silent=silent[:_SHOWN], n_silent=len(silent),
        clipped=clipped[:_SHOWN], n_clipped=len(clipped),
        duplicates=[list(p) for p in groups["path"].to_list()[:_SHOWN]],
        n_duplicates=int((groups["n"] - 1).sum()) if groups.height else 0,
        skipped=found.skipped + (test.skipped if test else []),
        n_skipped=found.n_skipped + (test.n_skipped if test else 0),
        n_test_clips=test.frame().height if test else 0,
    )


def examples(dataset_dir: Path, per_class: int = 3, max_classes: int = 12
             ) -> dict[str, list[Path]]:
    """A few recordings of each class (the most common classes first), to listen to."""
    from modelyard.engine.intake.images import examples as image_examples

    return image_examples(dataset_dir, per_class, max_classes)
