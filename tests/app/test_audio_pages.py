"""The pages for sound through AppTest: the Data page plays examples of each class with
their wave and spectrogram; after a tiny sound Run, the Model page lists the
misclassified clips to listen to and the Predict page takes a zip of recordings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.app.conftest import MAIN, REPO
from tests.app.test_image_pages import zip_folder
from tests.app.test_pages import texts
from tests.engine.test_audio import sound_folders, tone
from tests.results_run import copy_home

pytest.importorskip("soundfile")
PAGES = "../pages"


def test_data_page_plays_and_draws_each_class(app, app_home, tmp_path):
    from modelyard.engine.intake.ingest import ingest
    from modelyard.storage.paths import Home

    meta = ingest(Home.from_env(), sound_folders(tmp_path / "tones"), name="tones")
    app.session_state["dataset_id"] = meta["id"]
    app.session_state["data_pick"] = meta["id"]
    app.switch_page(f"{PAGES}/data.py").run()
    assert not app.exception, app.exception
    assert not app.error, texts(app.error)
    values = {m.label: m.value for m in app.metric}
    assert values["Recordings"] == "8" and values["Classes"] == "2"
    assert values["Kind of data"] == "Sound"
    players = app.get("audio")
    assert len(players) == 6  # three of each class
    assert "8 recordings in 2 classes" in texts(app.caption)
    charts = [c for c in app.get("plotly_chart") if c.key and c.key.startswith("data_sound_")]
    assert len(charts) == 6


@pytest.fixture(scope="module")
def sound_run(tmp_path_factory, child_env) -> SimpleNamespace:
    """A trained sound Run: low and high tones, a 25-second budget."""
    root = tmp_path_factory.mktemp("sound-run")
    train = root / "tones"
    for label, hz in (("low", 300.0), ("high", 2500.0)):
        for i in range(10):
            tone(train / label / f"{label}_{i}.wav", hz * (1 + 0.03 * i))
    result = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(train), "--budget", "25",
         "--out", str(root / "out"), "--json"],
        capture_output=True, text=True, env=child_env(root / "home"), cwd=REPO, timeout=240)
    assert result.returncode == 0, result.stderr
    new = root / "new"
    tone(new / "a_low.wav", 310)
    tone(new / "b_high.ogg", 2600)
    return SimpleNamespace(root=root, home=root / "home",
                           run_id=json.loads(result.stdout)["run_id"],
                           new_zip=zip_folder(new, root / "new.zip", top="new"))


@pytest.fixture
def at(sound_run, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home = copy_home(sound_run.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=120)
    app.run()
    app.session_state["run_id"] = sound_run.run_id
    app.home = home
    return app


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_model_and_predict_pages_for_a_sound_model(at, sound_run):
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception, at.exception
    assert any(m.label == "Recordings validated" for m in at.metric)
    said = texts(at.caption) + texts(at.success)
    assert "validation recording" in said  # all right, or the mistakes listed to play

    at.switch_page(f"{PAGES}/predict.py").run()
    assert not at.exception
    assert "A sound model predicting **label**" in texts(at.caption)
    at.file_uploader(key="predict_image_upload").set_value(
        [("new.zip", sound_run.new_zip.read_bytes(), "application/zip")])
    at.run()
    at.button(key="predict_image_run").click().run()
    assert not at.exception and not at.error, texts(at.error)
    saved = next(s for s in texts(at.success).splitlines() if "Predictions saved to" in s)
    got = pd.read_csv(Path(saved.split("Predictions saved to ", 1)[1]))
    assert got["path"].tolist() == ["a_low.wav", "b_high.ogg"]
    assert list(got.columns[:2]) == ["path", "label"]
    assert "2 recordings predicted in" in texts(at.caption)
