"""Tables whose rows point at images: intake (copies, skips, caps, zips) and the image
networks' out-of-fold columns. The end-to-end run through the CLI is in
test_mixed_run.py (slow)."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import polars as pl
import pytest

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake.ingest import ingest, load_profile
from modelyard.schemas import ColumnKind, Task
from tests.mixed_data import make_mixed


def test_a_table_with_image_paths_is_mixed_and_keeps_its_images(home, tmp_path):
    table = make_mixed(tmp_path / "src", 30, damaged=1, missing=1)
    meta = ingest(home, table, target="outcome")
    profile = load_profile(home, meta["id"])

    assert profile.modality == meta["modality"] == "mixed"
    assert profile.column("photo").kind is ColumnKind.image
    assert {profile.column(c).kind for c in ("dose", "weight")} == {ColumnKind.numeric}
    assert profile.column("site").kind is ColumnKind.categorical
    assert profile.column("note").kind is ColumnKind.text
    mixed = profile.mixed
    assert (mixed.n_rows, mixed.n_with_image, mixed.n_skipped) == (30, 28, 2)
    assert mixed.skipped == ["photos/p00000.png: not a readable image",
                             "photos/gone00001.png: not found"]
    codes = {w.code: w.message for w in profile.warnings}
    assert "28 of 30 rows have a readable image" in codes["mixed"]
    assert "2 image file(s)" in codes["images_skipped"]

    # The data set holds its own copies: it survives the originals moving away.
    shutil.rmtree(tmp_path / "src")
    folder = home.dataset_dir(meta["id"])
    cells = pl.read_parquet(folder / "train.parquet")["photo"].to_list()
    assert cells[:2] == [None, None] and cells[2] == "images/photos/p00002.png"
    assert all((folder / c).is_file() for c in cells[2:])


def test_a_zip_of_a_table_and_its_images_is_mixed(home, tmp_path):
    src = tmp_path / "src"
    table = make_mixed(src, 24, text=False)
    frame = pl.read_csv(table)
    # Cells that name a file by its name alone are found inside the zip; a cell that
    # climbs out of it is named and left out.
    names = [p.split("/")[-1] for p in frame["photo"]]
    names[3] = "../../etc/passwd.png"
    frame.with_columns(pl.Series("photo", names)).write_csv(table)
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(table, "data/patients.csv")
        for f in sorted((src / "photos").iterdir()):
            zf.write(f, f"data/photos/{f.name}")

    meta = ingest(home, archive, target="outcome")
    profile = load_profile(home, meta["id"])
    assert profile.modality == "mixed"
    assert profile.mixed.n_with_image == 23
    assert profile.mixed.skipped == ["../../etc/passwd.png: outside the table's folder"]


def test_links_and_pipes_named_by_cells_are_left_out(home, tmp_path):
    import os

    outside = make_mixed(tmp_path / "elsewhere", 1, text=False).parent / "photos/p00000.png"
    table = make_mixed(tmp_path / "src", 12, text=False)
    (tmp_path / "src/photos/p00001.png").unlink()
    (tmp_path / "src/photos/p00001.png").symlink_to(outside)  # a link out of the folder
    (tmp_path / "src/photos/p00002.png").unlink()
    os.mkfifo(tmp_path / "src/photos/p00002.png")  # opening it would wait for ever
    meta = ingest(home, table, target="outcome")
    assert load_profile(home, meta["id"]).mixed.skipped == [
        "photos/p00001.png: outside the table's folder",
        "photos/p00002.png: not a regular file"]


def test_images_and_labels_alone_stay_an_image_set(home, tmp_path):
    src = tmp_path / "src"
    table = make_mixed(src, 12, text=False)
    pl.read_csv(table).select("photo", "outcome").write_csv(table)
    meta = ingest(home, src)
    assert meta["modality"] == "image"


def test_images_named_by_a_table_count_against_the_unpack_cap(home, tmp_path, monkeypatch):
    table = make_mixed(tmp_path / "src", 20, text=False)
    monkeypatch.setenv("MODELYARD_MAX_UNPACKED_GB", str(2000 / 2**30))  # ~2 KB
    with pytest.raises(IntakeError, match="The images listed in patients.csv unpacks to"):
        ingest(home, table, target="outcome")
    assert not any(home.datasets.iterdir())  # a refused intake leaves nothing behind


def test_out_of_fold_columns_come_from_networks_that_never_saw_the_row(tmp_path):
    pytest.importorskip("timm")
    from modelyard.engine.mixed import embed

    table = make_mixed(tmp_path, 24, missing=2, text=False)
    frame = pl.read_csv(table)
    paths = [tmp_path / p if (tmp_path / p).exists() else None for p in frame["photo"]]
    pixels, present = embed.load_pixels(paths, 32)
    assert present.tolist() == [False, False] + [True] * 22
    y = (frame["outcome"] == "yes").cast(pl.Int64).to_numpy()
    even, odd = np.arange(0, 24, 2), np.arange(1, 24, 2)
    splits = [(even, odd), (odd, even)]
    networks = embed.ImageNetworks(Task.binary, 2, 32, seed=0, threads=1, weights_dir=None)
    trained_on = []
    real_train = networks.train

    def train(pixels, y, deadline):
        trained_on.append({bytes(p) for p in pixels})
        return real_train(pixels, y, deadline)

    networks.train = train
    import time

    out = networks.out_of_fold(pixels, present, y, splits, time.time() + 6)
    assert out.shape == (24, 1)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all()
    assert ((out[2:] >= 0) & (out[2:] <= 1)).all()  # the second class's probability
    for (_, valid_idx), seen in zip(splits, trained_on, strict=True):
        # No held-out row's picture was among the network's training pictures.
        assert not seen & {bytes(pixels[i]) for i in valid_idx if present[i]}


def test_colour_statistics_and_the_image_folds():
    from modelyard.engine.mixed import embed

    pixels = np.zeros((3, 3, 4, 4), dtype=np.uint8)
    pixels[0, 0] = 255  # all red
    pixels[1, 2, :2] = 255  # half blue
    stats = embed.colour_stats(pixels, np.array([True, True, False]))
    assert stats[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert stats[1].tolist() == [0.0, 0.0, 0.5, 0.0, 0.0, 0.5]
    assert np.isnan(stats[2]).all()

    y = np.array([0, 1] * 15)
    five = [(np.setdiff1d(np.arange(30), np.arange(i, 30, 5)), np.arange(i, 30, 5))
            for i in range(5)]
    folds = embed.image_splits(five, y, Task.binary, seed=0)
    assert len(folds) == 3
    assert sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(30))
    for train_idx, valid_idx in folds:
        assert not set(train_idx) & set(valid_idx)
    three = five[:3]
    assert embed.image_splits(three, y, Task.binary, seed=0) is three


@pytest.mark.parametrize("task, n_classes, width", [(Task.regression, 0, 1),
                                                    (Task.multiclass, 3, 3)])
def test_regression_and_several_classes_give_their_own_columns(tmp_path, task, n_classes,
                                                              width):
    pytest.importorskip("timm")
    import time

    from modelyard.engine.mixed import embed

    make_mixed(tmp_path, 12, text=False)
    paths = sorted((tmp_path / "photos").iterdir())
    pixels, present = embed.load_pixels(paths, 32)
    y = np.arange(12) % 3 if n_classes else np.linspace(10.0, 40.0, 12)
    rows = np.arange(12)
    splits = [(rows[rows >= 6], rows[rows < 6]), (rows[rows < 6], rows[rows >= 6])]
    networks = embed.ImageNetworks(task, n_classes, 32, seed=0, threads=1, weights_dir=None)
    out = networks.out_of_fold(pixels, present, y, splits, time.time() + 4)
    assert out.shape == (12, width) and np.isfinite(out).all()
    if n_classes:
        assert np.allclose(out.sum(axis=1), 1.0)  # class probabilities
    else:
        assert out.std() > 0  # values on the target's scale, not one constant
