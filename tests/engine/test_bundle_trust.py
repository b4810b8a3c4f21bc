"""A Model bundle is code: it is checked against its SHA-256 manifest before anything in it
is unpickled (engine/training/manifest.py), and `modelyard predict NAME` means the run
NAME, never a folder that happens to be called so.

The planted pickles here write a marker file when unpickled: each case that refuses a
bundle asserts the message, the exit code, and that the marker never appeared; one control
shows that the payload does write the marker when loaded without the check."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.engine.errors import BadInputError
from modelyard.engine.results.artifacts import load_model
from modelyard.engine.training.bundle import (
    Predictor,
    new_metadata,
    read_metadata,
    save_bundle,
    seal,
    write_metadata,
)
from modelyard.engine.training.manifest import MANIFEST_FILE, sha256_of
from tests.app.test_cli_results import cli, one_line_error


class Payload:
    """Unpickling this touches `marker`: what a hostile bundle would do (any code)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant(path: Path, marker: Path) -> None:
    joblib.dump(Payload(marker), path)


def small_bundle(folder: Path) -> Path:
    """A real bundle as the worker writes it: a fitted pipeline, metadata, the manifest."""
    X = pd.DataFrame({"x": np.arange(40, dtype=float)})
    y = (X["x"] > 19).astype(int)
    save_bundle(folder, LogisticRegression().fit(X, y),
                {"target": "y", "task": "binary", "numeric": ["x"], "categorical": [],
                 "classes": ["no", "yes"]})
    return folder


def refused(call, *needles: str) -> str:
    with pytest.raises(BadInputError) as caught:
        call()
    message = str(caught.value)
    assert caught.value.exit_code == 2
    for needle in needles:
        assert needle in message, message
    return message


# -- the manifest and the check, on a real pipeline ------------------------------------------
def test_a_bundle_is_sealed_last_listing_every_file(tmp_path):
    folder = small_bundle(tmp_path / "b")
    (folder / "oof.parquet").write_bytes(b"side data, not part of the bundle")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert [f["path"] for f in manifest["files"]] == ["metadata.json", "pipeline.joblib"]
    for entry in manifest["files"]:
        path = folder / entry["path"]
        assert entry["size"] == path.stat().st_size and entry["sha256"] == sha256_of(path)
    model = Predictor.load(folder)
    assert model.predict_frame(pd.DataFrame({"x": [0.0, 39.0]}))["y"].tolist() == ["no", "yes"]


def test_a_changed_pipeline_is_refused_and_nothing_is_unpickled(tmp_path):
    folder = small_bundle(tmp_path / "b")
    marker = tmp_path / "MARKER"
    plant(folder / "pipeline.joblib", marker)
    refused(lambda: Predictor.load(folder), "was changed after it was made",
            "pipeline.joblib differs from its manifest", "runs its code",
            "Export the model again")
    refused(lambda: load_model(folder), "pipeline.joblib differs")
    assert not marker.exists()
    # The control: the planted pickle does run when loaded without the check.
    joblib.load(folder / "pipeline.joblib")
    assert marker.exists()


def test_a_missing_or_an_added_code_file_is_refused_other_files_are_not(tmp_path):
    folder = small_bundle(tmp_path / "b")
    marker = tmp_path / "MARKER"
    (folder / "NOTES.txt").write_text("a person's notes: never loaded")
    Predictor.load(folder)
    plant(folder / "extra.pkl", marker)
    refused(lambda: Predictor.load(folder), "holds extra.pkl, which its manifest does not list")
    (folder / "extra.pkl").unlink()
    (folder / "pipeline.joblib").rename(tmp_path / "elsewhere.joblib")
    refused(lambda: Predictor.load(folder), "is missing pipeline.joblib")
    assert not marker.exists()


def test_a_changed_metadata_is_refused_unless_rewritten_by_its_writer(tmp_path):
    folder = small_bundle(tmp_path / "b")
    meta = read_metadata(folder).as_dict()
    write_metadata(folder, new_metadata(**{**meta, "label": "late, still usable"}))
    assert Predictor.load(folder).meta["label"] == "late, still usable"
    text = (folder / "metadata.json").read_text().replace('"yes"', '"YES"')
    (folder / "metadata.json").write_text(text)
    refused(lambda: Predictor.load(folder), "metadata.json differs from its manifest")


def test_a_manifest_that_is_damaged_or_points_outside_is_refused(tmp_path):
    folder = small_bundle(tmp_path / "b")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"].append({"path": "../outside.joblib", "size": 0, "sha256": "0" * 64})
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    refused(lambda: Predictor.load(folder), "names a file outside it (../outside.joblib)")
    (folder / MANIFEST_FILE).write_text("{not json")
    refused(lambda: Predictor.load(folder), "manifest of the model bundle", "cannot be read")


def test_a_bundle_without_manifest_is_refused_unless_trusted(tmp_path):
    folder = small_bundle(tmp_path / "b")
    (folder / MANIFEST_FILE).unlink()
    refused(lambda: Predictor.load(folder), "has no manifest.json", "runs its code",
            "--trust-unsigned", "modelyard export")
    assert Predictor.load(folder, trust_unsigned=True).classes == ["no", "yes"]
    marker = tmp_path / "MARKER"
    plant(folder / "pipeline.joblib", marker)
    refused(lambda: load_model(folder), "has no manifest.json")
    assert not marker.exists()


def _zip(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"bundle/{path.relative_to(folder)}")
    return dest


def test_a_zip_is_checked_after_unpacking_before_loading(tmp_path):
    folder = small_bundle(tmp_path / "b")
    assert load_model(_zip(folder, tmp_path / "good.zip")).classes == ["no", "yes"]
    marker = tmp_path / "MARKER"
    plant(folder / "pipeline.joblib", marker)
    message = refused(lambda: load_model(_zip(folder, tmp_path / "bad.zip")),
                      "pipeline.joblib differs")
    assert str(tmp_path / "bad.zip") in message  # the zip as given, not a temporary folder
    (folder / MANIFEST_FILE).unlink()
    refused(lambda: load_model(_zip(folder, tmp_path / "old.zip")), "has no manifest.json")
    assert not marker.exists()


def _image_bundle(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"backbone": "resnet18", "num_classes": 2, "image_size": 32}))
    (folder / "metadata.json").write_text(json.dumps(
        {"format": 1, "kind": "image", "classes": ["cat", "dog"], "target": "animal"}))
    return folder


def test_an_image_bundle_is_checked_and_its_weights_unpickle_no_code(tmp_path):
    from modelyard.engine.vision.predict import ImagePredictor

    marker = tmp_path / "MARKER"
    folder = _image_bundle(tmp_path / "images")
    (folder / "weights.pt").write_bytes(b"weights as they were made")
    seal(folder)
    plant(folder / "weights.pt", marker)
    refused(lambda: ImagePredictor(folder), "weights.pt differs from its manifest")
    refused(lambda: load_model(folder), "weights.pt differs from its manifest")
    # Even a manifest that agrees (rewritten by whoever planted it) loads no code:
    # weights are read with weights_only.
    seal(folder)
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        ImagePredictor(folder)
    assert not marker.exists()


# -- `modelyard predict` on the shared trained Run ---------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    from tests.results_run import shared_run

    return shared_run(tmp_path_factory, child_env)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "bundle"
    made = cli("export", trained.run_id, "--out", out, env=trained.env)
    assert made.returncode == 0, made.stderr
    return out


def _same_as_run(path: Path, trained) -> None:
    from tests.results_run import same_predictions

    assert same_predictions(pd.read_csv(path), pd.read_csv(trained.out / "predictions.csv"))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_export_carries_its_manifest_and_says_loading_runs_code(exported):
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()}
    assert listed == on_disk - {MANIFEST_FILE}
    assert {"pipeline.joblib", "metadata.json", "README.md", "MODEL_CARD.md"} <= listed
    readme = (exported / "README.md").read_text()
    assert "## Loading it runs its code" in readme and "Load only bundles you trust" in readme
    with zipfile.ZipFile(exported.with_name("bundle.zip")) as zf:
        assert "bundle/manifest.json" in zf.namelist()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_predict_help_says_a_bundle_runs_code(trained):
    shown = cli("predict", "--help", env=trained.env)
    text = " ".join(shown.stdout.split())
    assert "Loading a bundle runs its code" in text and "load only bundles you trust" in text
    assert "--trust-unsigned" in text and "./NAME for a folder here" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_predict_refuses_a_tampered_export_and_runs_nothing(trained, exported, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(exported, bundle)
    marker = tmp_path / "MARKER"
    plant(bundle / "pipeline.joblib", marker)
    for given in (bundle, _zip(bundle, tmp_path / "bundle.zip")):
        result = cli("predict", given, trained.test, "--out", tmp_path / "p.csv",
                     env=trained.env)
        one_line_error(result, 2, f"The model bundle {given} was changed after it was made",
                       "pipeline.joblib differs from its manifest", "runs its code")
    assert not marker.exists() and not (tmp_path / "p.csv").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_foreign_bundle_without_manifest_needs_trust_unsigned(trained, exported, tmp_path):
    bundle = tmp_path / "old-bundle"
    shutil.copytree(exported, bundle)
    (bundle / MANIFEST_FILE).unlink()
    result = cli("predict", "./old-bundle", trained.test, "--out", tmp_path / "p.csv",
                 env=trained.env, cwd=tmp_path)
    one_line_error(result, 2, "The model bundle old-bundle has no manifest.json",
                   "runs its code", "--trust-unsigned", "modelyard export")
    assert not (tmp_path / "p.csv").exists()
    trusted = cli("predict", "./old-bundle", trained.test, "--out", tmp_path / "p.csv",
                  "--trust-unsigned", env=trained.env, cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    assert "--trust-unsigned: ./old-bundle loads even without a manifest" in trusted.stderr
    _same_as_run(tmp_path / "p.csv", trained)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_folder_named_like_a_run_does_not_shadow_it(trained, tmp_path):
    """A hostile folder called like the run, in the working directory, sealed with a
    manifest that agrees: `predict RUN_ID` loads the run, and nothing of the folder."""
    marker = tmp_path / "MARKER"
    decoy = small_bundle(tmp_path / trained.run_id)
    plant(decoy / "pipeline.joblib", marker)
    seal(decoy)
    result = cli("predict", trained.run_id, trained.test, "--out", tmp_path / "p.csv",
                 env=trained.env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _same_as_run(tmp_path / "p.csv", trained)
    (tmp_path / "mybundle").mkdir()
    one_line_error(cli("predict", "mybundle", trained.test, "--out", tmp_path / "q.csv",
                       env=trained.env, cwd=tmp_path), 2, "There is no run “mybundle”",
                   "write it as a path: ./mybundle")
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_run_of_this_home_made_before_manifests_still_loads(trained, tmp_path):
    from tests.results_run import copy_home

    home = copy_home(trained.home, tmp_path / "home")
    env = {**trained.env, "MODELYARD_HOME": str(home)}
    model_dir = home / "runs" / trained.run_id / "model"
    (model_dir / MANIFEST_FILE).unlink()
    for ref in (trained.run_id, home / "runs" / trained.run_id):
        made = cli("predict", ref, trained.test, "--out", tmp_path / "p.csv", env=env)
        assert made.returncode == 0, made.stderr
        _same_as_run(tmp_path / "p.csv", trained)
    exported = cli("export", trained.run_id, "--out", tmp_path / "re-exported", env=env)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "re-exported" / MANIFEST_FILE).exists()  # the way to a checked one
    # A run's own model that was changed after training is refused like any other.
    seal(model_dir)
    marker = tmp_path / "MARKER"
    plant(model_dir / "pipeline.joblib", marker)
    one_line_error(cli("predict", trained.run_id, trained.test, "--out", tmp_path / "q.csv",
                       env=env), 2, "pipeline.joblib differs from its manifest")
    assert not marker.exists()
