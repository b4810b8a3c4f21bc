"""Image data sets (a folder per class, images + a labels CSV, a zip of either) and the
archive checks (zip-slip, absolute paths)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import ingest
from modelyard.engine.intake.images import examples
from modelyard.engine.intake.ingest import load_profile, preview
from modelyard.schemas import ColumnKind, Task


def write_image(path: Path, size=(12, 8), colour=(200, 30, 30), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    pixels = (rng.random((size[1], size[0], 3)) * 40 + np.array(colour) * 0.8).astype("uint8")
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def class_folders(root: Path, counts: dict[str, int]) -> Path:
    colours = [(220, 20, 20), (20, 220, 20), (20, 20, 220)]
    for k, (label, n) in enumerate(counts.items()):
        for i in range(n):
            suffix = ".png" if i % 2 else ".jpg"
            write_image(root / label / f"{label}_{i}{suffix}", size=(10 + i, 8),
                        colour=colours[k % 3])
    return root


def nothing_left(home):
    assert list(home.datasets.iterdir()) == []


def test_folder_per_class(home, tmp_path):
    root = class_folders(tmp_path / "pets", {"cat": 5, "dog": 4})
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / ".DS_Store").write_bytes(b"\0\0")
    meta = ingest(home, root)
    folder = home.dataset_dir(meta["id"])
    assert meta["modality"] == "image" and meta["table"] == "manifest.parquet"
    assert (meta["target"], meta["task"]) == ("label", "binary")
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert manifest.columns == ["path", "label", "width", "height"]
    assert manifest.height == 9
    assert sorted(manifest["label"].unique().to_list()) == ["cat", "dog"]
    for path, width in manifest.select("path", "width").iter_rows():
        copied = folder / path
        assert copied.is_file() and path.startswith("images/")
        with Image.open(copied) as img:
            assert img.size[0] == width
    profile = load_profile(home, meta["id"])
    assert profile.modality == "image"
    assert profile.images.n_images == 9 and profile.images.n_classes == 2
    assert dict(profile.images.class_counts) == {"cat": 5, "dog": 4}
    assert profile.images.n_skipped == 2
    skipped = " ".join(profile.images.skipped)
    assert "notes.txt: not an image file" in skipped and "broken.jpg" in skipped
    assert profile.column("path").kind is ColumnKind.image
    assert profile.target.reason == "each image's folder name is its label"
    assert [w for w in profile.warnings if w.code == "skipped_files"]
    grid = examples(folder, per_class=3)
    assert list(grid) == ["cat", "dog"] and all(len(v) == 3 for v in grid.values())
    assert len(preview(home, meta["id"])) == 9


def test_zip_of_class_folders(home, tmp_path):
    root = class_folders(tmp_path / "src" / "flowers", {"rose": 3, "tulip": 3, "iris": 2})
    archive = tmp_path / "flowers.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(root.parent).as_posix())
    meta = ingest(home, archive)
    profile = load_profile(home, meta["id"])
    assert (meta["task"], profile.images.n_classes) == ("multiclass", 3)
    assert profile.target.task is Task.multiclass
    assert not (home.dataset_dir(meta["id"]) / ".work").exists()


def test_images_with_a_labels_csv(home, tmp_path):
    root = tmp_path / "scans"
    for i in range(8):
        write_image(root / "files" / f"scan_{i}.png")
    (root / "labels.csv").write_text(
        "filename,diagnosis,age\n"
        + "".join(f"scan_{i}.png,{'sick' if i % 3 == 0 else 'well'},{30 + i}\n"
                  for i in range(8))
        + "scan_99.png,well,40\n")
    meta = ingest(home, root)
    manifest = pl.read_parquet(home.dataset_dir(meta["id"]) / "manifest.parquet")
    assert manifest.height == 8
    assert manifest["path"][0] == "images/files/scan_0.png"
    assert manifest["label"].to_list()[:4] == ["sick", "well", "well", "sick"]
    profile = load_profile(home, meta["id"])
    assert "diagnosis" in profile.target.reason
    assert "scan_99.png: listed in labels.csv but not found" in profile.images.skipped


def test_a_folder_of_only_broken_images_is_refused(home, tmp_path):
    root = tmp_path / "bad"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.jpg").write_bytes(b"not a jpeg")
    (root / "a" / "y.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(IntakeError, match=r"bad holds no image Modelyard can open"):
        ingest(home, root)
    nothing_left(home)


@pytest.mark.parametrize(
    ("member", "message"),
    [("../evil.csv", r"climbs out of the archive \(\.\./evil\.csv\)"),
     ("data/../../evil.csv", r"climbs out of the archive"),
     ("/etc/evil.csv", r"absolute path \(/etc/evil\.csv\)"),
     ("C:/evil.csv", r"absolute path")],
)
def test_unsafe_zip_members_are_refused(home, tmp_path, member, message):
    archive = tmp_path / "sneaky.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data.csv", "a,b\n1,2\n3,4\n")
        zf.writestr(zipfile.ZipInfo(member), "a,b\n1,2\n")
    with pytest.raises(IntakeError, match=message):
        ingest(home, archive)
    nothing_left(home)
    assert not (tmp_path / "evil.csv").exists()


def test_a_zip_with_several_tables_and_no_pair(home, tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "x,y\n1,2\n")
        zf.writestr("b.csv", "x,y\n1,2\n")
    with pytest.raises(IntakeError, match=r"holds 2 tables \(a\.csv, b\.csv\)"):
        ingest(home, archive)
    nothing_left(home)
