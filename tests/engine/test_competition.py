"""A competition-style folder (train, test, sample submission, maybe images) as one unit."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import polars as pl

from modelyard.engine.intake import ingest
from modelyard.engine.intake.ingest import load_profile
from modelyard.schemas import ColumnKind, ColumnRole, Task
from tests.engine.test_images import write_image


def passengers(n: int, seed: int, with_target: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "Ref": rng.permutation(np.arange(5_000, 5_000 + n) * 7),  # an id without the name
        "Pclass": rng.integers(1, 4, size=n),
        "Sex": rng.choice(["male", "female"], size=n),
        "Age": rng.normal(30, 12, size=n).round(1),
        "Fare": rng.gamma(2, 15, size=n).round(2),
    })
    if with_target:
        frame.insert(1, "Outcome", rng.choice([0, 1], size=n))
    return frame


def competition_folder(root, n_train=200, n_test=80):
    root.mkdir(parents=True)
    train, test = passengers(n_train, 1), passengers(n_test, 2, with_target=False)
    train.to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    pd.DataFrame({"Ref": test["Ref"], "Outcome": 0}).to_csv(root / "sample_submission.csv",
                                                            index=False)
    return root, train, test


def test_competition_folder_is_one_dataset(home, tmp_path):
    root, train, test = competition_folder(tmp_path / "titanic-like")
    meta = ingest(home, root)
    folder = home.dataset_dir(meta["id"])
    assert {p.name for p in folder.iterdir()} == {"train.parquet", "test.parquet",
                                                  "sample_submission.csv", "profile.json",
                                                  "dataset.json"}
    assert meta["has_test"] and meta["n_rows"] == len(train)
    # The target is not named like one and is not last: the sample submission says it.
    assert (meta["target"], meta["task"]) == ("Outcome", "binary")
    profile = load_profile(home, meta["id"])
    assert "sample submission" in profile.target.reason
    assert profile.target.confidence >= 0.9
    assert profile.competition["id_column"] == "Ref"
    assert profile.competition["output_columns"] == ["Outcome"]
    assert profile.test_rows == len(test)
    # The id column from the submission is marked as one, and so not a feature.
    ref = profile.column("Ref")
    assert ref.role is ColumnRole.id and ref.kind is ColumnKind.id
    assert meta["roles"] == {"Ref": "id"}
    assert pl.read_parquet(folder / "test.parquet").height == len(test)


def test_without_sample_submission_the_missing_test_column_is_the_target(home, tmp_path):
    root, _, _ = competition_folder(tmp_path / "c")
    (root / "sample_submission.csv").unlink()
    meta = ingest(home, root)
    profile = load_profile(home, meta["id"])
    assert profile.target.column == "Outcome"
    assert "the test file lacks" in profile.target.reason


def test_zipped_competition_with_drift_and_overlap(home, tmp_path):
    root, train, test = competition_folder(tmp_path / "c", n_train=300, n_test=100)
    shifted = test.copy()
    shifted["Fare"] = shifted["Fare"] * 10  # the test prices moved
    shifted.iloc[:7] = train.drop(columns="Outcome").iloc[:7].to_numpy()  # shared rows
    shifted.to_csv(root / "test.csv", index=False)
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in root.iterdir():
            zf.write(f, f"c/{f.name}")
    meta = ingest(home, archive)
    profile = load_profile(home, meta["id"])
    assert profile.column("Fare").drift > 0.5
    assert profile.column("Sex").drift < 0.2
    assert profile.train_test_overlap == 7
    codes = {w.code for w in profile.warnings}
    assert {"drift", "train_test_overlap"} <= codes


def test_probabilities_per_class_name_the_target(home, tmp_path):
    root = tmp_path / "leaves"
    root.mkdir()
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"id": range(150), "width": rng.normal(size=150),
                          "height": rng.normal(size=150),
                          "species": rng.choice(["oak", "elm", "ash"], size=150)})
    train.to_csv(root / "train.csv", index=False)
    train.drop(columns="species").iloc[:20].to_csv(root / "test.csv", index=False)
    pd.DataFrame({"id": range(20), "ash": 1 / 3, "elm": 1 / 3, "oak": 1 / 3}).to_csv(
        root / "sample_submission.csv", index=False)
    meta = ingest(home, root)
    profile = load_profile(home, meta["id"])
    assert (meta["target"], profile.target.task) == ("species", Task.multiclass)
    assert profile.competition["probabilities_per_class"] is True


def test_several_outputs_are_not_supported_yet(home, tmp_path):
    root = tmp_path / "multi"
    root.mkdir()
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"id": range(100), "x": rng.normal(size=100),
                          "a": rng.normal(size=100), "b": rng.normal(size=100)})
    train.to_csv(root / "train.csv", index=False)
    train[["id", "x"]].to_csv(root / "test.csv", index=False)
    train[["id", "a", "b"]].to_csv(root / "sample_submission.csv", index=False)
    profile = load_profile(home, ingest(home, root)["id"])
    multi = [w for w in profile.warnings if w.code == "multi_output"]
    assert multi and multi[0].severity == "error" and "not supported yet" in multi[0].message
    assert "one data set per output column" in multi[0].action


def test_image_competition(home, tmp_path):
    root = tmp_path / "xray"
    for i in range(12):
        write_image(root / "images" / f"img_{i:03d}.png", colour=(10 * i, 50, 50))
    pd.DataFrame({"image_id": [f"img_{i:03d}" for i in range(9)],
                  "finding": ["normal", "pneumonia", "normal"] * 3}).to_csv(
        root / "train.csv", index=False)
    pd.DataFrame({"image_id": [f"img_{i:03d}" for i in range(9, 12)]}).to_csv(
        root / "test.csv", index=False)
    pd.DataFrame({"image_id": [f"img_{i:03d}" for i in range(9, 12)],
                  "finding": "normal"}).to_csv(root / "sample_submission.csv", index=False)
    meta = ingest(home, root)
    folder = home.dataset_dir(meta["id"])
    assert meta["modality"] == "image" and meta["has_test"]
    assert (meta["target"], meta["task"]) == ("label", "binary")
    manifest = pl.read_parquet(folder / "manifest.parquet")
    assert manifest.height == 9 and set(manifest["label"]) == {"normal", "pneumonia"}
    assert pl.read_parquet(folder / "test_manifest.parquet").height == 3
    profile = load_profile(home, meta["id"])
    assert profile.images.n_test_images == 3
    assert profile.competition["id_column"] == "image_id"
    assert (folder / "sample_submission.csv").exists()
