"""`modelyard run pairs.csv --target spoken --test test.csv --out out/` and `modelyard
predict` on text-to-text pairs: real worker subprocess, real files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.text_pairs import split
from tests.app.test_cli import cli

# A real worker trains for 8 s, after start-up and intake: over 20 s on a busy machine.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    root = tmp_path_factory.mktemp("t2t")
    env = child_env(root / "home")
    train, test = split(160, 30, seed=5)
    train.to_csv(root / "pairs.csv", index=False)
    # A tiny T5 where a real T5-small would go: the plan takes it in, the worker tunes it.
    from tests.engine.test_text_to_text import _tiny_t5

    _tiny_t5(root / "home" / "weights" / "t5-small")
    test[["written"]].to_csv(root / "test.csv", index=False)
    result = cli("run", root / "pairs.csv", "--target", "spoken", "--test", root / "test.csv",
                 "--budget", 8, "--out", root / "out", "--json", env=env, cwd=root,
                 timeout=240)
    assert result.returncode == 0, result.stderr
    return root, env, test, json.loads(result.stdout)


def test_run_writes_the_predicted_text_in_the_targets_column(trained):
    root, _, test, summary = trained
    assert summary["task"] == "text_to_text" and summary["metric"] == "exact_match"
    predictions = pd.read_csv(root / "out" / "predictions.csv", keep_default_na=False)
    assert list(predictions.columns) == ["written", "spoken"]
    assert predictions["written"].astype(str).tolist() == test["written"].astype(str).tolist()
    assert predictions["spoken"].map(lambda v: isinstance(v, str)).all()
    plan = json.loads((root / "out" / "plan.json").read_text())
    assert plan["input_column"] == "written"
    board = pd.read_csv(root / "out" / "leaderboard.csv")
    assert {"copy_input", "frequent_output", "char_transformer", "t5_small"} == set(
        board["family"])
    assert board["cv_score"].notna().all()  # every family finished, T5 from its folder


@pytest.fixture
def app(trained, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import MAIN, REPO

    root, _, _, summary = trained
    monkeypatch.setenv("MODELYARD_HOME", str(root / "home"))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    at.session_state["run_id"] = summary["run_id"]
    return at


def test_model_page_lists_wrong_outputs_next_to_right_ones(app):
    app.switch_page("../pages/model.py").run()
    assert not app.exception
    heads = [h.value for h in app.subheader]
    assert any(h.startswith("Wrong outputs") for h in heads + [""]) or any(
        "Every held-out output" in s.value for s in app.success)
    assert any(h.startswith("Right outputs") for h in heads)
    columns = {c for frame in app.dataframe for c in frame.value.columns}
    assert {"Input", "Right output", "Model's output"} <= columns
    assert "exactly right" in " ".join(m.value for m in app.markdown)


def test_plan_page_shows_the_input_column(app):
    app.switch_page("../pages/plan.py").run()
    assert not app.exception
    words = " ".join(m.value for m in app.markdown)
    assert "**Written from:** written" in words
    assert "Character transformer" in words


def test_predict_uses_the_bundle_like_a_table_model(trained):
    root, env, test, summary = trained
    new = pd.DataFrame({"written": ["Dec 5th 2024", "hello", "1999"]})
    new.to_csv(root / "new.csv", index=False)
    result = cli("predict", summary["run_id"], root / "new.csv", "--out", root / "p.csv",
                 env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(root / "p.csv", keep_default_na=False)
    assert out["written"].tolist() == new["written"].tolist() and len(out["spoken"]) == 3
    # The model's own files are sealed: a changed weight file is refused on load.
    model = root / "home" / "runs" / summary["run_id"] / "model"
    (model / "text_model.json").write_text((model / "text_model.json").read_text() + " ")
    broken = cli("predict", str(model), root / "new.csv", "--out", root / "q.csv",
                 env=env, cwd=root)
    assert broken.returncode != 0 and "text_model.json" in broken.stderr


def test_report_and_export_say_why_not_and_the_way_that_works(trained):
    from tests.app.test_cli import one_line_error

    root, env, _, summary = trained
    run_id = summary["run_id"]
    one_line_error(cli("report", run_id, "--out", root / "report.html", env=env, cwd=root),
                   2, "A written report is not made for text-to-text models yet",
                   f"modelyard show {run_id}")
    assert not (root / "report.html").exists()
    said = one_line_error(cli("export", run_id, "--out", root / "exported", env=env,
                              cwd=root), 2, "Exporting a text-to-text model",
                          f"modelyard predict {run_id} inputs.csv")
    assert str(root / "home" / "runs" / run_id / "model") in said
    assert not (root / "exported").exists()
