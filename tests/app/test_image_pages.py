"""The pages for an image model through AppTest: Predict takes a zip of images, image
files, or a folder, and writes predictions.csv with `path` first; Model shows the
validation images it got wrong; Runs and Leaderboard leave the spread across folds blank;
the Plan page and the report read in images, networks and one holdout split, not in rows
and columns.

One tiny image Run (three colours, 20 px) is trained once for the module with
`modelyard run`."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.app.conftest import MAIN, REPO
from tests.app.test_pages import texts
from tests.results_run import copy_home

PAGES = "../pages"
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def write_colour_images(root: Path, per_class: int, size: int = 20, seed: int = 0,
                        nested: bool = True) -> Path:
    """`root/<colour>/<colour>_<i>.png`: noisy squares of one colour per class (easy to
    learn in seconds); `nested=False` puts them all in `root` (images to predict)."""
    rng = np.random.default_rng(seed)
    for label, colour in COLOURS.items():
        folder = root / label if nested else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.normal(0, 25, size=(size, size, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype("uint8")
            Image.fromarray(pixels).save(folder / f"{label}_{i:02d}.png")
    return root


def zip_folder(folder: Path, dest: Path, top: str | None = None) -> Path:
    """A zip of `folder`'s files, under a top folder `top` when given (as archivers do)."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{rel}" if top else rel)
    return dest


def png_bytes(colour: tuple[int, int, int], size: int = 20) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, child_env) -> SimpleNamespace:
    """A trained image Run: 3 colours × 16 images, a 25-second budget (torch alone takes
    15 s to load on a busy 2-core runner, and an epoch must fit after it)."""
    root = tmp_path_factory.mktemp("image-run")
    train = zip_folder(write_colour_images(root / "colours", 16), root / "colours.zip")
    result = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(train), "--budget", "25", "--out",
         str(root / "out"), "--json"],
        capture_output=True, text=True, env=child_env(root / "home"), cwd=REPO, timeout=240)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    new = write_colour_images(root / "new", 3, seed=1, nested=False)
    return SimpleNamespace(root=root, home=root / "home", run_id=run_id, new=new,
                           new_zip=zip_folder(new, root / "new.zip", top="new"))


@pytest.fixture
def at(image_run, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home = copy_home(image_run.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=120)
    app.run()
    assert not app.exception
    app.session_state["run_id"] = image_run.run_id
    app.home = home
    return app


def _predictions(at) -> pd.DataFrame:
    assert not at.exception and not at.error, texts(at.error)
    saved = next(s for s in texts(at.success).splitlines() if "Predictions saved to" in s)
    path = Path(saved.split("Predictions saved to ", 1)[1])
    assert path.is_relative_to(at.home / "runs") and path.suffix == ".csv"
    assert [d.label for d in at.get("download_button")] == ["Download predictions (CSV)"]
    return pd.read_csv(path)


def test_predict_page_takes_a_zip_of_images(at, image_run):
    at.switch_page(f"{PAGES}/predict.py").run()
    assert not at.exception
    assert "An image model predicting **label**" in texts(at.caption)
    assert at.button(key="predict_image_run").disabled
    at.file_uploader(key="predict_image_upload").set_value(
        [("new.zip", image_run.new_zip.read_bytes(), "application/zip")])
    at.run()
    at.button(key="predict_image_run").click().run()
    got = _predictions(at)
    # The zip's lone top folder is stepped into: names are relative to it, sorted.
    names = sorted(p.name for p in image_run.new.iterdir())
    assert got["path"].tolist() == names
    assert list(got.columns) == ["path", "label", "proba_blue", "proba_green", "proba_red"]
    right = (got["label"] == got["path"].str.split("_").str[0]).mean()
    assert right >= 0.8, got  # three colours: easy
    assert "9 images predicted in" in texts(at.caption)
    preview = next(f.value for f in at.dataframe if "path" in f.value.columns)
    assert preview.columns[0] == "path" and len(preview) == 9
    # Nothing of the upload is left behind but the predictions.
    inputs = at.home / "runs" / image_run.run_id / "results" / "inputs"
    assert not any(p for p in inputs.rglob("*") if p.is_file())


def test_predict_page_takes_image_files_and_says_what_it_left_out(at):
    at.switch_page(f"{PAGES}/predict.py").run()
    at.file_uploader(key="predict_image_upload").set_value([
        ("b.png", png_bytes((30, 40, 220)), "image/png"),
        ("a.png", png_bytes((220, 30, 30)), "image/png"),
        ("broken.png", b"not a png", "image/png"),
    ])
    at.run()
    at.button(key="predict_image_run").click().run()
    got = _predictions(at)
    assert got["path"].tolist() == ["a.png", "b.png"]
    assert "1 file left out: broken.png: not a readable image" in texts(at.caption)


def test_predict_page_takes_a_folder_on_disk(at, image_run):
    at.switch_page(f"{PAGES}/predict.py").run()
    at.radio(key="predict_image_how").set_value("A folder on this computer").run()
    at.text_input(key="predict_image_folder").input(str(image_run.new)).run()
    at.button(key="predict_image_run").click().run()
    got = _predictions(at)
    assert len(got) == 9 and got["path"].is_monotonic_increasing
    at.text_input(key="predict_image_folder").input(str(image_run.root / "nowhere")).run()
    at.button(key="predict_image_run").click().run()
    assert not at.exception
    assert "no such file or folder" in texts(at.error)


def test_model_page_shows_image_mistakes_and_no_fold_spread(at):
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception and not at.error, texts(at.error)
    labels = [m.label for m in at.metric]
    assert labels == ["Best model", "Validation accuracy", "± across folds", "Trials",
                      "Images validated"]
    assert at.metric[2].value == "—"
    assert [t.label for t in at.tabs] == ["Quality", "Mistakes", "Trials", "Report",
                                          "Export", "Serve"]
    # The server answers for table models only: the tab says so instead of a button.
    assert "The prediction server answers for table models only, for now." in texts(at.info)
    said = texts(at.success) + texts(at.caption)
    assert "validation images right" in said or "validation images predicted wrong" in said
    assert "ImagePredictor" in texts(at.markdown)


def test_runs_and_leaderboard_leave_the_fold_spread_blank(at):
    at.switch_page(f"{PAGES}/runs.py").run()
    assert not at.exception and not at.error, texts(at.error)
    trials = next(f.value for f in at.dataframe if "cv_std" in f.value.columns)
    assert trials["cv_std"].isna().all()
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at.exception and not at.error, texts(at.error)
    best = next(f.value for f in at.dataframe if "versus" in f.value.columns)
    assert best["cv_std"].isna().all() and (best["family"] == "ResNet-18").all()


def test_plan_page_reads_as_an_image_plan(at, tmp_path, monkeypatch):
    # Empty caches: whether pretrained weights exist does not depend on this machine.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    at.switch_page(f"{PAGES}/plan.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert "  ·  48 images  ·  " in at.selectbox(key="plan_pick").options[0]
    # Planned by the image rules is expected: said in a caption, not warned about.
    assert not at.warning, texts(at.warning)
    assert "Image plans come from the image rules" in texts(at.caption)
    said = texts(at.markdown)
    assert "Columns left out" not in said and "column" not in said
    assert "**How scores are checked:** a single 20% holdout: that share of the images" in said
    assert "**Networks:** ResNet-18 (11.7 M parameters" in said
    assert "**Image size:** 32×32 pixels" in said  # 20 px squares, rounded up to 32
    assert ("**Starting weights:** ResNet-18: no pretrained weights found: it trains from "
            "scratch") in said
    # The card's reasons are shown as plain text (a model's words never render as Markdown).
    assert f"put resnet18.safetensors (or .pth) in {at.home / 'weights'}" in texts(at.text)
    # A weights file put where the card says is found (and would be used) at once.
    (at.home / "weights").mkdir()
    (at.home / "weights" / "resnet18.safetensors").write_bytes(b"")
    at.run()
    assert ("**Starting weights:** ResNet-18: pretrained weights found in "
            f"{at.home / 'weights' / 'resnet18.safetensors'}") in texts(at.markdown)


def test_the_report_of_an_image_run_speaks_of_images(at, image_run):
    at.switch_page(f"{PAGES}/model.py").run()
    at.button(key="model_report_build").click().run()
    assert not at.exception and not at.error, texts(at.error)
    report = (at.home / "runs" / image_run.run_id / "results" / "report.md").read_text()
    assert "from 48 images in 3 classes of the data set" in report
    assert re.search(r"Scored once, on \d+ images kept out of training \(a single holdout "
                     r"split\): there is no spread across folds", report)
    for table_words in ("0 columns", "validation folds", "± folds", "± 0", "cross-validated",
                        "Columns left out", "rows and", "new rows", "trained on 48 rows"):
        assert table_words not in report, table_words
    assert "48 images in 3 classes, typically 20×20 pixels." in report
    assert "| class | images | share |" in report
    assert "| Image size | 32×32 pixels |" in report
    assert "The best configurations by accuracy on the holdout" in report
    assert "| rank | model | family | accuracy | fit time (s) |" in report
    assert "**Intended use:** sorting new images into the 3 classes it learned (blue, green, " \
           "red)" in report
    assert "**Inputs:** one image file of any size (converted to RGB, resized to 32×32 " \
           "pixels)." in report


def test_without_torch_the_plan_page_offers_the_download_and_holds_the_launch(
        app, app_home, tmp_path, monkeypatch):
    from modelyard.app.workspace import Workspace
    from modelyard.engine import extras

    meta = Workspace.at(app_home).ingest(write_colour_images(tmp_path / "colours", 6))
    monkeypatch.setitem(extras.MODULES, "vision", ("modelyard_no_such_module",))
    app.session_state["dataset_id"] = meta["id"]
    app.switch_page(f"{PAGES}/plan.py").run()
    app.button(key="plan_propose").click().run()
    assert not app.exception, app.exception
    said = texts(app.warning)
    assert "Image models are trained here" in said and "PyTorch and timm" in said
    assert "not installed" in said
    assert "only if you press the button" in said
    offer = app.button(key="install_vision")
    assert offer.label.startswith("Download and install") and not offer.disabled
    assert app.button(key="plan_approve").disabled  # nothing launches without torch
    assert not (app_home / "installs").exists()  # and nothing was downloaded unasked
