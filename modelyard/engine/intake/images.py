"""Image data sets: a folder per class, or images plus a table of labels.

Each usable image is checked (it must decode), copied under the dataset folder's
`images/`, and listed in a manifest table: `path` (relative to the dataset folder),
`label`, `width`, `height`. Files that are not images, or do not decode, are left out and
named in the profile's warnings.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from modelyard.engine.errors import IntakeError
from modelyard.schemas import ImageSummary

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "species", "breed",
               "diagnosis", "type", "tag")
MANIFEST_SCHEMA = {"path": pl.String, "label": pl.String, "width": pl.Int64,
                   "height": pl.Int64}
_SHOWN_SKIPS = 10


@dataclass
class ImageSet:
    rows: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_skipped: int = 0

    def skip(self, name: str, why: str) -> None:
        self.n_skipped += 1
        if len(self.skipped) < _SHOWN_SKIPS:
            self.skipped.append(f"{name}: {why}")

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=MANIFEST_SCHEMA)


def _visible(path: Path, root: Path) -> bool:
    return not any(p.startswith(".") or p == "__MACOSX" for p in path.relative_to(root).parts)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and _visible(p, root))


def is_image_name(path: Path | str) -> bool:
    return PurePosixPath(str(path)).suffix.lower() in IMAGE_SUFFIXES


def class_folders(root: Path) -> list[Path]:
    """The subfolders holding images, when `root` is laid out one folder per class."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and _visible(d, root))
    return [d for d in subdirs if any(is_image_name(f) for f in files_under(d))]


def check_image(path: Path) -> tuple[int, int] | str:
    """(width, height) of a decodable image, else why it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            size = img.size
            img.verify()
        return size
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return "not a readable image"
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged data
        return f"damaged image ({str(exc)[:60]})"


def _add(images: ImageSet, src: Path, rel: str, label: str | None, staging: Path,
         folder: str = "images") -> None:
    found = check_image(src)
    if isinstance(found, str):
        images.skip(rel, found)
        return
    dest = staging / folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    images.rows.append({"path": f"{folder}/{rel}", "label": label, "width": found[0],
                        "height": found[1]})


def from_test_folder(root: Path, staging: Path, progress) -> ImageSet:
    """Unlabelled images to predict: every image under `root`, kept under `test_images/`
    with its path relative to `root` (which predictions report)."""
    images = ImageSet()
    todo = files_under(root)
    for i, f in enumerate(todo):
        rel = f.relative_to(root).as_posix()
        if not is_image_name(f):
            images.skip(rel, "not an image file")
        else:
            _add(images, f, rel, None, staging, folder="test_images")
        if i % 50 == 0:
            progress(i / max(1, len(todo)), f"Checking test images ({i:,} of {len(todo):,})")
    return images


def from_class_folders(root: Path, staging: Path, progress) -> ImageSet:
    """One subfolder per class: the folder's name is the label."""
    images = ImageSet()
    folders = class_folders(root)
    todo = [(d, f) for d in folders for f in files_under(d)]
    for f in files_under(root):
        if f.parent == root and not f.name.startswith("."):
            images.skip(f.name, "not inside a class folder")
    for i, (folder, f) in enumerate(todo):
        rel = f"{folder.name}/{f.relative_to(folder).as_posix()}"
        if not is_image_name(f):
            images.skip(rel, "not an image file")
        else:
            _add(images, f, rel, folder.name, staging)
        if i % 50 == 0:
            progress(i / max(1, len(todo)), f"Checking images ({i:,} of {len(todo):,})")
    return images


class ImageIndex:
    """Finds an image under a root by relative path, file name or stem."""

    def __init__(self, root: Path):
        self.root = root
        self.by_rel: dict[str, Path] = {}
        self.by_name: dict[str, Path | None] = {}
        self.by_stem: dict[str, Path | None] = {}
        for f in files_under(root):
            rel = f.relative_to(root).as_posix()
            self.by_rel[rel] = f
            # A name seen twice is ambiguous: None.
            self.by_name[f.name] = None if f.name in self.by_name else f
            self.by_stem[f.stem] = None if f.stem in self.by_stem else f

    def find(self, value: object) -> Path | None:
        if value is None:
            return None
        text = str(value).strip().replace("\\", "/").lstrip("./")
        if text in self.by_rel:
            return self.by_rel[text]
        name = PurePosixPath(text).name
        return self.by_name.get(name) or self.by_stem.get(name)

    def __len__(self) -> int:
        return len(self.by_rel)


def link_columns(table: pl.DataFrame, index: ImageIndex) -> tuple[str, str | None] | None:
    """(path column, label column) of a table that lists images, else None."""
    best, best_share = None, 0.0
    sample = table.head(200)
    for name in table.columns:
        values = sample[name].drop_nulls().to_list()
        if not values:
            continue
        share = sum(index.find(v) is not None for v in values) / len(values)
        if share > best_share:
            best, best_share = name, share
    if best is None or best_share < 0.5:
        return None
    rest = [c for c in table.columns if c != best]
    named = [c for c in rest if c.lower().strip() in LABEL_NAMES]
    if named:
        return best, named[0]
    few = [c for c in rest if 2 <= table[c].n_unique() <= max(2, table.height // 2)]
    few.sort(key=lambda c: table[c].n_unique())
    return best, (few[0] if few else None)


def from_table(table: pl.DataFrame, path_col: str, label_col: str | None, index: ImageIndex,
               staging: Path, progress, shown: str) -> ImageSet:
    """Images listed in a table: one row per image, its label in `label_col`."""
    images = ImageSet()
    labels: Iterable = table[label_col].to_list() if label_col else [None] * table.height
    paths = table[path_col].to_list()
    for i, (value, label) in enumerate(zip(paths, labels, strict=True)):
        src = index.find(value)
        if src is None:
            images.skip(str(value), f"listed in {shown} but not found")
        elif not is_image_name(src):
            images.skip(str(value), "not an image file")
        else:
            rel = src.relative_to(index.root).as_posix()
            _add(images, src, rel, None if label is None else str(label), staging)
        if i % 50 == 0:
            progress(i / max(1, len(paths)), f"Checking images ({i:,} of {len(paths):,})")
    return images


def require_images(images: ImageSet, shown: str) -> None:
    if not images.rows:
        why = f" ({images.skipped[0]})" if images.skipped else ""
        raise IntakeError(f"{shown} holds no image Modelyard can open{why}.",
                          "Put JPEG or PNG files in one folder per class, or list them "
                          "in a CSV with a path and a label column.")


def summary(images: ImageSet, test: ImageSet | None = None) -> ImageSummary:
    frame = images.frame()
    counts = (frame.drop_nulls("label").group_by("label").agg(pl.len().alias("n"))
              .sort(["n", "label"], descending=[True, False]))

    def spread(col: str) -> dict[str, float]:
        s = frame[col]
        return {"min": float(s.min()), "median": float(s.median()), "max": float(s.max())}

    return ImageSummary(
        n_images=frame.height, n_classes=counts.height,
        class_counts=[(str(v), int(n)) for v, n in counts.iter_rows()],
        width=spread("width"), height=spread("height"),
        skipped=images.skipped + (test.skipped if test else []),
        n_skipped=images.n_skipped + (test.n_skipped if test else 0),
        n_test_images=test.frame().height if test else 0,
    )


def examples(dataset_dir: Path, per_class: int = 8, max_classes: int = 12
             ) -> dict[str, list[Path]]:
    """A few images of each class (the most common classes first), for a grid."""
    manifest = dataset_dir / "manifest.parquet"
    if not manifest.exists():
        return {}
    frame = pl.read_parquet(manifest, columns=["path", "label"])
    counts = frame.group_by("label").agg(pl.len().alias("n")).sort(
        ["n", "label"], descending=[True, False], nulls_last=True).head(max_classes)
    out: dict[str, list[Path]] = {}
    for label in counts["label"].to_list():
        rows = frame.filter(pl.col("label").eq_missing(label)).head(per_class)
        out["(no label)" if label is None else str(label)] = [
            dataset_dir / p for p in rows["path"].to_list()]
    return out
