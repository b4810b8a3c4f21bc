"""The Model page's export choices (bundle, bundle + ONNX, MLflow model) and the
Leaderboard's Optuna Dashboard command, through AppTest on a copy of the shared trained
Run (tests/results_run.py)."""

from __future__ import annotations

import shlex
import zipfile

import pytest

from tests.app.conftest import MAIN, REPO
from tests.app.test_pages import shown, texts
from tests.results_run import copy_home, shared_run, single_model_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
PAGES = "../pages"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


@pytest.fixture(scope="module")
def single(tmp_path_factory, child_env):
    """A Run whose model is one bag of LightGBM fold models: what ONNX can hold."""
    return single_model_run(tmp_path_factory, child_env)


def _app(trained, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home = copy_home(trained.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=180)
    app.run()
    assert not app.exception
    app.session_state["run_id"] = trained.run_id
    return app


@pytest.fixture
def at(trained, tmp_path, monkeypatch):
    return _app(trained, tmp_path, monkeypatch)


@pytest.fixture
def at_single(single, tmp_path, monkeypatch):
    return _app(single, tmp_path, monkeypatch)


def test_model_page_exports_the_bundle_with_onnx_and_as_an_mlflow_model(at_single, single):
    at, trained = at_single, single
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.radio(key="model_export_format").options == ["Model bundle", "Bundle + ONNX",
                                                           "MLflow model"]
    at.radio(key="model_export_format").set_value("onnx").run()
    at.button(key="model_export").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "ONNX checked on 140 training rows" in texts(at.success)
    labels = {d.label for d in at.get("download_button")}
    assert "Download the bundle with ONNX (zip)" in labels
    caption = next(shown(c.value) for c in at.caption if "Also on disk" in c.value)
    folder = caption.split("Also on disk: ")[1]
    assert f"runs/{trained.run_id}/results/onnx/" in folder
    with zipfile.ZipFile(f"{folder}.zip") as zf:
        assert any(n.endswith("onnx/model.onnx") for n in zf.namelist())

    at.radio(key="model_export_format").set_value("mlflow").run()
    at.button(key="model_export").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Download the MLflow model (zip)" in {d.label for d in at.get("download_button")}
    assert f"runs/{trained.run_id}/results/mlflow/" in texts(at.caption)


def test_leaderboard_shows_the_optuna_dashboard_command_for_a_run(at, trained):
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at.exception and not at.error, texts(at.error)
    codes = [c.value for c in at.code if c.value.startswith("optuna-dashboard ")]
    assert len(codes) == 1
    path = shlex.split(codes[0])[1]
    assert path.endswith(f"runs/{trained.run_id}/optuna.journal")
    assert "http://127.0.0.1:8080" in texts(at.caption)
