"""What the worker trains on: features chosen from the Plan, labels kept as in the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.errors import PlanError
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.training.data import load_training_data


def prepared(ws, frame, tmp_path, target):
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    meta = ws.ingest(path, target=target)
    profile = load_profile(ws.home, meta["id"])
    plan = rule_plan(profile, meta["id"])
    return ws.home.dataset_dir(meta["id"]), plan, profile


def test_features_follow_the_plan(ws, tmp_path, make_messy):
    frame = make_messy()
    folder, plan, profile = prepared(ws, frame, tmp_path, "churn")
    data = load_training_data(folder, plan, profile)
    assert data.features.numeric == ["tenure_months", "monthly_charges"]
    assert data.features.categorical == ["contract", "region"]
    assert data.features.id_column == "customer_id"
    assert list(data.X.columns) == ["tenure_months", "monthly_charges", "contract", "region"]
    assert data.classes == ["no", "yes"]
    # Codes index the classes and follow the rows in file order.
    assert [data.classes[c] for c in data.y] == frame["churn"].tolist()

    plan = plan.model_copy(update={"excluded_columns": ["customer_id", "region"]})
    assert load_training_data(folder, plan, profile).features.categorical == ["contract"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["yes", "no"], ["no", "yes"]),
     ([0, 1], [0, 1]),
     ([3, 1, 2], [1, 2, 3]),
     ([True, False], [False, True])],
    ids=["strings", "zero-one", "integers", "booleans"],
)
def test_class_labels_are_the_values_in_the_file(ws, tmp_path, labels, expected):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n),
                          "label": [labels[i % len(labels)] for i in range(n)]})
    folder, plan, profile = prepared(ws, frame, tmp_path, "label")
    data = load_training_data(folder, plan, profile)
    assert data.classes == expected
    assert [type(c) for c in data.classes] == [type(e) for e in expected]


def test_rows_without_a_target_are_left_out(ws, tmp_path):
    frame = pd.DataFrame({"x": range(30), "label": ["a", "b", None] * 10})
    folder, plan, profile = prepared(ws, frame, tmp_path, "label")
    data = load_training_data(folder, plan, profile)
    assert len(data.y) == len(data.X) == 20


def test_no_usable_feature_is_a_plan_error(ws, tmp_path):
    frame = pd.DataFrame({"row_id": range(100), "label": ["a", "b"] * 50})
    folder, plan, profile = prepared(ws, frame, tmp_path, "label")
    with pytest.raises(PlanError, match="No column is left"):
        load_training_data(folder, plan, profile)


# -- the Model bundle, fitted in-process (the worker's own runs are in test_jobs.py) -----
def fitted_bundle(folder, plan, profile, model_dir, family="linear"):
    from modelyard.engine.training import families
    from modelyard.engine.training.bundle import save_bundle
    from modelyard.engine.training.evaluate import make_pipeline
    from modelyard.engine.training.families.base import FitContext

    data = load_training_data(folder, plan, profile)
    ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes, n_jobs=1,
                     seed=0)
    fam = families.get(family)
    pipeline = make_pipeline(fam, fam.default_params(ctx), ctx, data)
    pipeline.fit(data.X, data.y)
    save_bundle(model_dir, pipeline, {
        "model": f"{family}_0", "family": family, "task": plan.task.value,
        "target": plan.target, "classes": data.classes, "numeric": data.features.numeric,
        "categorical": data.features.categorical, "id_column": data.features.id_column})
    return data


@pytest.mark.parametrize("family", ["linear", "lightgbm"])
def test_predictor_writes_id_label_and_probabilities(ws, tmp_path, make_messy, family):
    from modelyard.engine.training.bundle import Predictor

    frame = make_messy(n=300)
    train, test = frame.iloc[:240], frame.iloc[240:].reset_index(drop=True)
    folder, plan, profile = prepared(ws, train, tmp_path, "churn")
    fitted_bundle(folder, plan, profile, tmp_path / "model", family)
    predictor = Predictor.load(tmp_path / "model")
    assert predictor.meta["versions"]["scikit-learn"]

    shuffled = test.sample(frac=1.0, random_state=3).drop(columns="churn")
    out = predictor.predict_frame(shuffled)
    assert list(out.columns) == ["customer_id", "churn", "proba_no", "proba_yes"]
    assert out["customer_id"].tolist() == shuffled["customer_id"].tolist()
    assert set(out["churn"]) <= {"no", "yes"}
    np.testing.assert_allclose(out[["proba_no", "proba_yes"]].sum(axis=1), 1.0, atol=1e-9)
    picked = np.where(out["proba_yes"] > out["proba_no"], "yes", "no")
    assert (out["churn"].to_numpy() == picked).all()


def test_predictor_keeps_boolean_labels(ws, tmp_path):
    from modelyard.engine.training.bundle import Predictor

    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    frame = pd.DataFrame({"x": x, "w": rng.normal(size=80), "flag": x > 0})
    folder, plan, profile = prepared(ws, frame, tmp_path, "flag")
    fitted_bundle(folder, plan, profile, tmp_path / "model")
    out = Predictor.load(tmp_path / "model").predict_frame(frame.drop(columns="flag"))
    assert list(out.columns) == ["flag", "proba_False", "proba_True"]
    assert set(out["flag"]) == {False, True}
    assert all(type(v) is bool for v in out["flag"])
    assert (out["flag"] == frame["flag"]).mean() > 0.9


def test_predictor_refuses_a_table_without_the_features(ws, tmp_path, make_messy):
    from modelyard.engine.errors import BadInputError
    from modelyard.engine.training.bundle import Predictor

    folder, plan, profile = prepared(ws, make_messy(), tmp_path, "churn")
    fitted_bundle(folder, plan, profile, tmp_path / "model")
    with pytest.raises(BadInputError, match="lacks 1 column.*tenure_months"):
        Predictor.load(tmp_path / "model").predict_frame(
            make_messy().drop(columns=["tenure_months"]))
