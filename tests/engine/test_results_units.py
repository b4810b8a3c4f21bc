"""modelyard.engine.results without a trained Run: diagnostics on known predictions, the paired
fold test, setting importance, explanations and input checks on real fitted pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.errors import BadInputError
from modelyard.engine.results import (
    compare,
    diagnostics,
    explain,
    figures,
    predict,
    submission,
    tuning,
)
from modelyard.engine.training import families
from modelyard.engine.training.bundle import BUNDLE_FORMAT, Predictor, save_bundle, upgrade_meta
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import make_pipeline
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import Task
from tests.conftest import messy_frame

FEATURES = Features(["tenure_months", "monthly_charges"], ["contract", "region"],
                    "customer_id", ["signup"])


def churn_frame(n: int = 400) -> pd.DataFrame:
    frame = messy_frame(n)
    frame["signup"] = pd.date_range("2020-01-01", periods=n, freq="D")
    return frame


def fitted(family: str, frame: pd.DataFrame | None = None) -> Predictor:
    """A real pipeline of `family` fitted on the churn table, as a Predictor."""
    frame = churn_frame() if frame is None else frame
    classes = ["no", "yes"]
    y = (frame["churn"] == "yes").astype(int).to_numpy()
    data = TrainingData(frame[FEATURES.all], y, FEATURES, classes)
    ctx = FitContext(Task.binary, len(frame), 2, 1, 0)
    fam = families.get(family)
    pipeline = make_pipeline(fam, fam.default_params(ctx), ctx, data).fit(data.X, data.y)
    return Predictor(pipeline, {
        "numeric": FEATURES.numeric, "categorical": FEATURES.categorical,
        "datetime": FEATURES.datetime, "id_column": "customer_id", "classes": classes,
        "target": "churn", "family": family, "model": f"{family}_0", "metric": "roc_auc",
        "params": {}, "task": "binary"})


# -- diagnostics ------------------------------------------------------------------------------
def binary_oof() -> pd.DataFrame:
    return pd.DataFrame({"row": range(6), "y": ["no", "no", "no", "yes", "yes", "yes"],
                         "proba_no": [0.9, 0.8, 0.4, 0.6, 0.3, 0.1],
                         "proba_yes": [0.1, 0.2, 0.6, 0.4, 0.7, 0.9]})


def test_confusion_counts_and_threshold():
    oof, classes = binary_oof(), ["no", "yes"]
    cm = diagnostics.confusion(oof, classes)
    assert cm["counts"] == [[2, 1], [1, 2]] and cm["accuracy"] == pytest.approx(4 / 6)
    strict = diagnostics.confusion(oof, classes, threshold=0.65)
    assert strict["counts"] == [[3, 0], [1, 2]]
    assert strict["share"][1] == pytest.approx([1 / 3, 2 / 3])


def test_curves_match_sklearn_and_skip_rows_without_a_prediction():
    oof = binary_oof()
    oof.loc[len(oof)] = [6, "yes", np.nan, np.nan]  # a holdout's unpredicted row
    classes = ["no", "yes"]
    (roc,) = diagnostics.roc(oof, classes)
    assert roc["class"] == "yes" and roc["auc"] == pytest.approx(8 / 9)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    (pr,) = diagnostics.precision_recall(oof, classes)
    assert pr["base_rate"] == pytest.approx(0.5)
    cal = diagnostics.calibration(oof, classes, bins=2)
    assert len(cal["mean_predicted"]) == 2 and 0 <= cal["brier"] <= 1
    assert diagnostics.summary(oof, classes)["rows"] == 6


def test_multiclass_curves_one_per_class():
    rng = np.random.default_rng(0)
    y = rng.choice(["a", "b", "c"], 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), pd.Series(y).map({"a": 0, "b": 1, "c": 2})] += 1
    proba /= proba.sum(axis=1, keepdims=True)
    oof = pd.DataFrame({"row": range(300), "y": y, "proba_a": proba[:, 0],
                        "proba_b": proba[:, 1], "proba_c": proba[:, 2]})
    curves = diagnostics.roc(oof, ["a", "b", "c"])
    assert [c["class"] for c in curves] == ["a", "b", "c"]
    assert all(c["auc"] > 0.8 for c in curves)
    assert all(len(c["fpr"]) <= diagnostics.MAX_POINTS for c in curves)
    assert diagnostics.calibration(oof, ["a", "b", "c"])["label"] == \
        "confidence in the top class"


def test_regression_residuals():
    oof = pd.DataFrame({"row": range(4), "y": [1.0, 2.0, 3.0, 4.0],
                        "prediction": [1.5, 2.0, 2.0, 4.5]})
    reg = diagnostics.regression(oof)
    assert reg["mae"] == pytest.approx(0.5)
    assert reg["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1 + 0.25) / 4))
    assert reg["bias"] == pytest.approx(0.0)
    assert sorted(reg["residual"]) == [-0.5, -0.5, 0.0, 1.0]


# -- is the leader better? --------------------------------------------------------------------
def test_a_consistent_lead_is_reliable_a_noisy_one_is_not():
    clear = compare.paired_fold_test([0.91, 0.92, 0.90, 0.93, 0.92],
                                     [0.85, 0.86, 0.84, 0.86, 0.85], True)
    assert clear.reliable and clear.p_value < 0.05 and clear.mean_difference > 0
    noisy = compare.paired_fold_test([0.91, 0.84, 0.90, 0.83, 0.92],
                                     [0.88, 0.89, 0.86, 0.87, 0.88], True)
    assert noisy.verdict == "within noise" and "another split" in noisy.text
    # For losses lower is better: the same numbers the other way round.
    loss = compare.paired_fold_test([0.30, 0.31, 0.29, 0.30, 0.28],
                                    [0.40, 0.41, 0.39, 0.42, 0.40], False)
    assert loss.reliable
    single = compare.paired_fold_test([0.9], [0.8], True)
    assert single.verdict == "cannot tell" and "single validation split" in single.text
    # Two models with the same score on every fold (e.g. same predictions) are a tie,
    # not "beats it on 0 of 5 folds".
    tied = compare.paired_fold_test([0.9, 0.8, 0.85], [0.9, 0.8, 0.85], True)
    assert not tied.reliable and tied.text.startswith("Tied") and "all 3 folds" in tied.text


def test_the_correction_makes_the_test_more_careful_than_a_plain_t_test():
    from scipy import stats

    a = [0.910, 0.905, 0.915, 0.900, 0.912]
    b = [0.900, 0.902, 0.904, 0.899, 0.903]
    plain = stats.ttest_rel(a, b, alternative="greater").pvalue
    corrected = compare.paired_fold_test(a, b, True).p_value
    assert corrected > plain


def test_leader_verdicts_pair_rank_one_with_rank_two():
    rows = [{"run_id": "r", "rank": 1, "model": "x", "fold_scores": [0.9] * 3 + [0.91] * 2,
             "greater_is_better": True},
            {"run_id": "r", "rank": 2, "model": "y", "fold_scores": [0.5] * 4 + [0.52],
             "greater_is_better": True},
            {"run_id": "alone", "rank": 1, "model": "z", "fold_scores": [0.9],
             "greater_is_better": True}]
    verdicts = compare.leader_verdicts(rows)
    assert set(verdicts) == {"r"} and verdicts["r"].reliable
    assert "x beats y" in verdicts["r"].text


def test_plan_differences_and_same_folds():
    base = {"dataset_id": "ds_1", "target": "y", "task": "binary", "metric": "roc_auc",
            "families": [{"family": "linear"}], "budget_seconds": 60}
    other = {**base, "budget_seconds": 120, "families": [{"family": "linear"},
                                                         {"family": "lightgbm"}]}
    lines = compare.plan_differences(base, other)
    assert "budget_seconds: 60 → 120" in lines and "families: + lightgbm" in lines
    assert compare.same_folds(base, other)
    assert not compare.same_folds(base, {**other, "seed": 3})


# -- which settings mattered --------------------------------------------------------------------
def test_param_importance_finds_the_setting_that_drives_the_score():
    rng = np.random.default_rng(1)
    samples = []
    for i in range(60):
        lr, leaves = 10 ** rng.uniform(-3, 0), int(rng.integers(2, 200))
        score = 0.9 - 0.1 * abs(np.log10(lr) + 1.5) + rng.normal(0, 0.002)
        samples.append({"model": f"m{i}", "cv_score": score,
                        "params": {"learning_rate": lr, "num_leaves": leaves, "fixed": 1}})
    found = tuning.param_importance(samples, True)
    assert set(found) == {"learning_rate", "num_leaves"}  # `fixed` never varied
    assert found["learning_rate"] > found["num_leaves"]
    assert sum(found.values()) == pytest.approx(1.0)
    assert tuning.param_importance(samples[:3], True) == {}
    table = tuning.param_table(samples)
    assert {"learning_rate", "num_leaves", "cv_score", "model"} <= set(table.columns)


# -- explanations on real pipelines -------------------------------------------------------------
@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "linear"])
def test_contributions_add_up_to_the_models_log_odds(family):
    predictor = fitted(family)
    row = churn_frame().iloc[[7]]
    found = explain.contributions(predictor, row)
    proba = predictor.predict_frame(row)
    label = proba["churn"].iloc[0]
    p = proba[f"proba_{label}"].iloc[0]
    assert found.class_label == label
    assert 1 / (1 + np.exp(-found.total)) == pytest.approx(p, rel=1e-5)
    assert set(found.values.index) == {"tenure_months", "monthly_charges", "contract",
                                       "region", "signup"}
    # Largest effect first.
    assert list(found.values.abs()) == sorted(found.values.abs(), reverse=True)
    other = explain.contributions(predictor, row, "no" if label == "yes" else "yes")
    assert other.total == pytest.approx(-found.total)


def test_contributions_say_why_not_for_other_models():
    with pytest.raises(BadInputError, match="random_forest"):
        explain.contributions(fitted("random_forest"), churn_frame().iloc[[0]])


def test_importance_own_and_permutation_point_at_tenure():
    predictor = fitted("lightgbm")
    own = explain.model_importance(predictor)
    assert own["importance"].sum() == pytest.approx(1.0)
    assert set(own["feature"]) == set(FEATURES.all)
    permuted = explain.permutation_importance(predictor, churn_frame(), repeats=2)
    assert permuted["feature"].iloc[0] == "tenure_months"  # the strongest signal
    assert explain.model_importance(fitted("hist_gradient_boosting")) is None


def test_source_columns_map_one_hot_and_date_parts_back():
    sources = explain.source_columns(fitted("linear").pipeline)
    assert set(sources) == set(FEATURES.all)
    assert sources.count("signup") == 6  # year, month, day, weekday, hour, epoch days


# -- new rows ---------------------------------------------------------------------------------
def test_input_check_names_missing_extra_and_mistyped_columns():
    predictor = fitted("lightgbm")
    table = churn_frame(50).drop(columns=["region", "customer_id"])
    table["monthly_charges"] = table["monthly_charges"].astype(str)
    table.loc[3, "monthly_charges"] = "about 70"
    table["notes"] = "x"
    check = predict.check_input(predictor, table)
    problems = {(i.column, i.problem) for i in check.issues}
    assert problems == {("region", "missing"), ("customer_id", "no id"),
                        ("monthly_charges", "type"), ("notes", "extra"), ("churn", "extra")}
    typed = next(i for i in check.issues if i.problem == "type")
    assert "1 value(s) are not numbers" in typed.detail and "'about 70'" in typed.detail
    assert check.missing == ["region"] and not check.ok
    out = predict.predict(predictor, table, batch_rows=7)
    assert len(out) == 50 and out[["proba_no", "proba_yes"]].notna().all().all()
    assert "customer_id" not in out.columns


def test_a_file_with_none_of_the_columns_is_refused():
    with pytest.raises(BadInputError, match="None of the model's columns"):
        predict.check_input(fitted("linear"), pd.DataFrame({"other": [1, 2]}))


def test_batches_give_the_same_predictions_as_one_call_and_report_progress():
    predictor = fitted("lightgbm")
    table = churn_frame(230)
    seen = []
    batched = predict.predict(predictor, table, batch_rows=50,
                              on_progress=lambda f, m: seen.append(f))
    whole = predictor.predict_frame(table)
    pd.testing.assert_frame_equal(batched, whole)
    assert seen == [50 / 230, 100 / 230, 150 / 230, 200 / 230, 1.0]


def test_read_input_reads_like_intake_and_names_bad_files(tmp_path):
    path = tmp_path / "rows.csv"
    churn_frame(20).to_csv(path, index=False)
    frame = predict.read_input(path)
    assert len(frame) == 20 and pd.api.types.is_datetime64_any_dtype(frame["signup"])
    with pytest.raises(BadInputError, match="no such file"):
        predict.read_input(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BadInputError, match="empty"):
        predict.read_input(tmp_path / "empty.csv")


def test_what_if_row():
    predictor = fitted("linear")
    fields = predict.form_fields(predictor)
    assert [f["name"] for f in fields] == FEATURES.all
    assert {f["kind"] for f in fields} == {"number", "choice", "date"}
    one = predict.predict_one(predictor, {"tenure_months": 2, "monthly_charges": 95,
                                          "contract": "monthly", "region": "north",
                                          "signup": "2021-03-01"})
    loyal = predict.predict_one(predictor, {"tenure_months": 70, "monthly_charges": 40,
                                            "contract": "two-year", "region": "north",
                                            "signup": "2021-03-01"})
    assert one["proba_yes"].iloc[0] > loyal["proba_yes"].iloc[0]  # short tenure churns


# -- submissions (single probability column, labels) ---------------------------------------------
def test_a_binary_sample_with_one_probability_column(tmp_path):
    predictor = fitted("linear")
    test = churn_frame(30).drop(columns="churn")
    ids = test["customer_id"].astype(str).tolist()[::-1]
    pd.DataFrame({"customer_id": ids, "churn": 0.5}).to_csv(tmp_path / "s.csv", index=False)
    made = submission.make_submission(predictor, tmp_path / "s.csv", test, tmp_path / "o.csv")
    assert made.format.mode == "probability" and made.format.class_of == {"churn": "yes"}
    written = pd.read_csv(tmp_path / "o.csv", dtype={"customer_id": str})
    assert written["customer_id"].tolist() == ids
    expected = predictor.predict_frame(test).set_index("customer_id")["proba_yes"]
    np.testing.assert_array_equal(written["churn"].to_numpy(),
                                  expected.loc[[int(i) for i in ids]].to_numpy())


def test_a_label_sample_and_a_sample_for_another_test_file(tmp_path):
    predictor = fitted("linear")
    test = churn_frame(30).drop(columns="churn")
    ids = [f"{i:.1f}" for i in test["customer_id"]]  # the same ids written as 10001.0
    pd.DataFrame({"customer_id": ids, "churn": "no"}).to_csv(tmp_path / "s.csv", index=False)
    made = submission.make_submission(predictor, tmp_path / "s.csv", test)
    assert made.format.mode == "labels" and set(made.frame["churn"]) <= {"no", "yes"}
    assert made.frame["customer_id"].tolist() == ids  # spelled as the sample spells them
    pd.DataFrame({"customer_id": ids[:20] + [str(i) for i in range(20, 30)],
                  "churn": "no"}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(BadInputError, match="No column of the sample submission holds"):
        submission.make_submission(predictor, tmp_path / "bad.csv", test)
    short = test.iloc[:28]  # two ids of the sample are missing
    with pytest.raises(BadInputError,
                       match=r"2 id\(s\) of the sample are not in the test file \(e.g. 10029"):
        submission.make_submission(predictor, tmp_path / "s.csv", short)


# -- bundle formats -------------------------------------------------------------------------------
def test_older_bundles_are_upgraded_newer_ones_refused(tmp_path):
    predictor = fitted("linear")
    old_meta = {k: v for k, v in predictor.meta.items() if k not in ("datetime", "id_column")}
    save_bundle(tmp_path / "old", predictor.pipeline, old_meta)
    meta_path = tmp_path / "old" / "metadata.json"
    import json

    doc = json.loads(meta_path.read_text())
    del doc["format"]  # written before bundles carried a format
    meta_path.write_text(json.dumps(doc))
    upgraded = upgrade_meta(doc)
    assert upgraded["format"] == BUNDLE_FORMAT and upgraded["datetime"] == []
    doc["format"] = BUNDLE_FORMAT + 1
    meta_path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match="newer Modelyard"):
        Predictor.load(tmp_path / "old")
    with pytest.raises(BadInputError, match="not a Model bundle"):
        Predictor.load(tmp_path)


def test_an_image_bundle_exports_its_state_dict_and_config(home, tmp_path):
    import json

    from modelyard.engine.results.artifacts import RunResult
    from modelyard.engine.results.export import export_bundle

    model_dir = home.run_dir("run_img") / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "weights.pt").write_bytes(b"state dict bytes")
    (model_dir / "config.json").write_text(json.dumps({"backbone": "resnet18",
                                                       "num_classes": 2}))
    (model_dir / "metadata.json").write_text(json.dumps({
        "format": 1, "kind": "image", "classes": ["cat", "dog"], "target": "label",
        "model": "resnet18_0", "family": "resnet18", "metric": "accuracy",
        "cv_score": 0.9, "task": "binary", "versions": {"torch": "2.15.0"}}))
    result = RunResult(home, "run_img", {"name": "pets", "dataset_id": "ds_gone"})
    done = export_bundle(result, tmp_path / "pets", make_zip=False)
    assert {"weights.pt", "config.json", "metadata.json"} <= set(done.files)
    assert "pipeline.joblib" not in done.files
    assert (done.folder / "weights.pt").read_bytes() == b"state dict bytes"
    requirements = (done.folder / "requirements.txt").read_text()
    assert "torch==2.15.0" in requirements and "timm" in requirements
    assert "ImagePredictor" in (done.folder / "README.md").read_text()


# -- the Runs page's trials chart ------------------------------------------------------------
def test_the_trials_chart_counts_seconds_into_the_run_with_the_legend_beside_it():
    run = {"metric": "log_loss", "greater_is_better": False, "created_at": 1000.0,
           "started_at": 1002.0}
    trials = [{"model": "resnet18_0", "family": "resnet18", "cv_score": 0.9, "finished_at": 1010.0},
              {"model": "resnet18_1", "family": "resnet18", "cv_score": 0.5, "finished_at": 1020.0},
              {"model": "convnext_nano_0", "family": "convnext_nano", "cv_score": 0.7,
               "finished_at": 1031.5}]
    fig = figures.trials_figure(trials, run, baseline=1.0986)
    by_name = {t.name: t for t in fig.data}
    # Families by their names for people (the legend).
    assert list(by_name["ResNet-18"].x) == [8.0, 18.0]  # not clock times
    assert list(by_name["ConvNeXt nano"].x) == [29.5]
    assert list(by_name["best so far"].y) == [0.9, 0.5, 0.5]  # lower is better
    assert fig.layout.xaxis.title.text == "seconds into the run"
    # Right of the plot: a horizontal legend under it covered the axis and its labels,
    # and above it, once nine families' names wrapped into rows, the chart's title.
    assert fig.layout.legend.orientation == "v" and fig.layout.legend.x > 1
    assert fig.layout.legend.xanchor == "left"
    assert "the baseline that ignores the features scores 1.099" in fig.layout.title.text
    # A run given more time restarts its worker after its first trials: counting from
    # that restart would put them before zero, so the count starts at its creation.
    resumed = figures.trials_figure(trials, {**run, "started_at": 1025.0})
    assert list(resumed.data[-1].x) == [10.0, 20.0, 31.5]
