"""The rule planner and the Plan schema: valid plans out, invalid plans refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from modelyard.engine.errors import PlanError
from modelyard.engine.intake import ingest
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.intake.samples import write_sample
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.training.families import Family
from modelyard.schemas import (
    METRICS_FOR_TASK,
    Metric,
    Plan,
    Task,
    ValidationKind,
)
from modelyard.storage.plans import list_plans


def profile_of(home, path, target=None):
    meta = ingest(home, path, target=target)
    return meta["id"], load_profile(home, meta["id"])


@pytest.mark.parametrize(
    ("key", "task", "metric", "validation"),
    [("breast_cancer", Task.binary, Metric.roc_auc, ValidationKind.stratified_kfold),
     ("wine", Task.multiclass, Metric.log_loss, ValidationKind.stratified_kfold),
     ("diabetes", Task.regression, Metric.rmse, ValidationKind.kfold)],
)
def test_rule_plan_for_each_sample(home, tmp_path, key, task, metric, validation):
    dataset_id, profile = profile_of(home, write_sample(key, tmp_path))
    plan = rule_plan(profile, dataset_id, budget_seconds=60, seed=7)
    assert plan.dataset_id == dataset_id
    assert plan.target == profile.target.column
    assert (plan.task, plan.metric, plan.validation.kind) == (task, metric, validation)
    assert plan.metric.fits(plan.task)
    chosen = [f.family for f in plan.families]
    assert chosen[:3] == [Family.dummy, Family.linear, Family.lightgbm]
    assert len(set(chosen)) == len(chosen)
    assert all(f.reason for f in plan.families)
    assert (plan.budget_seconds, plan.seed) == (60, 7)
    assert plan_problems(plan, profile) == []
    assert plan.target in plan.rationale and "60 seconds" in plan.rationale
    # It survives a JSON round trip unchanged: what is stored is what runs.
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_rule_plan_for_a_messy_table_leaves_out_the_id(home, messy_csv):
    dataset_id, profile = profile_of(home, messy_csv)
    plan = rule_plan(profile, dataset_id)
    assert (plan.target, plan.task, plan.metric) == ("churn", Task.binary, Metric.roc_auc)
    assert plan.excluded_columns == ["customer_id"]
    assert "customer_id" in plan.rationale
    assert plan_problems(plan, profile) == []
    assert plan.reasons["target"].startswith("It looks like the thing to predict")


def test_a_target_named_at_intake_reads_as_chosen(home, messy_csv):
    dataset_id, profile = profile_of(home, messy_csv, target="churn")
    assert rule_plan(profile, dataset_id).reasons["target"] == "You chose it."


def test_rule_plan_with_a_chosen_target(home, messy_csv):
    dataset_id, profile = profile_of(home, messy_csv)
    plan = rule_plan(profile, dataset_id, target="monthly_charges")
    assert (plan.target, plan.task, plan.metric) == ("monthly_charges", Task.regression,
                                                     Metric.rmse)
    assert plan.validation.kind is ValidationKind.kfold
    with pytest.raises(PlanError, match="no column “nope”"):
        rule_plan(profile, dataset_id, target="nope")


@pytest.mark.parametrize("with_gaps", [False, True])
def test_rule_plan_refuses_a_single_valued_target(home, tmp_path, with_gaps):
    label = ["same"] * 40
    if with_gaps:
        label[::4] = [None] * 10
    path = tmp_path / "flat.csv"
    pd.DataFrame({"x": range(40), "z": [i % 3 for i in range(40)], "label": label}).to_csv(
        path, index=False)
    dataset_id, profile = profile_of(home, path, target="label")
    with pytest.raises(PlanError, match="single value") as info:
        rule_plan(profile, dataset_id)
    assert info.value.hint


def test_workspace_propose_and_approve(ws, messy_csv):
    meta = ws.ingest(messy_csv)
    proposed = ws.propose_plan(meta["id"], budget_seconds=30)
    assert proposed["planner"] == "rules" and proposed["approved"] is False
    plan = Plan.model_validate(proposed["plan"])
    edited = plan.model_copy(update={"metric": Metric.accuracy})
    approved = ws.approve_plan(edited, based_on=proposed)
    assert approved["approved"] is True and approved["version"] == 2
    assert approved["provenance"]["based_on"] == proposed["id"]
    stored = list_plans(ws.catalog, meta["id"])
    assert [(p["version"], p["approved"]) for p in stored] == [(2, True), (1, False)]
    assert stored[0]["plan"]["metric"] == "accuracy"

    bad = plan.model_copy(update={"excluded_columns": ["ghost"]})
    with pytest.raises(PlanError, match="ghost"):
        ws.approve_plan(bad)
    assert len(list_plans(ws.catalog, meta["id"])) == 2  # nothing stored


def test_a_samples_target_is_named_by_the_sample(ws):
    meta = ws.ingest_sample("wine")
    assert ws.ingest_sample("wine")["id"] == meta["id"]  # the same sample, once
    assert ws.dataset(meta["id"]).profile.target.reason == "named by the sample data set"
    plan = Plan.model_validate(ws.propose_plan(meta["id"], planner="rules")["plan"])
    assert plan.reasons["target"] == "Named by the sample data set."
    ws.set_roles(meta["id"], target="cultivar")  # now the person chose it
    assert ws.dataset(meta["id"]).profile.target.reason == "chosen by you"


# -- the schema ------------------------------------------------------------------------
def base_plan(**changes) -> dict:
    raw = {"dataset_id": "ds_x", "target": "y", "task": "binary", "metric": "roc_auc",
           "families": [{"family": "dummy"}, {"family": "lightgbm"}]}
    raw.update(changes)
    return raw


def test_base_plan_is_valid():
    plan = Plan.model_validate(base_plan())
    assert plan.metric.greater_is_better and plan.budget_seconds == 300


@pytest.mark.parametrize(
    ("task", "metric"),
    [(t, m) for t in Task for m in Metric if m not in METRICS_FOR_TASK[t]],
)
def test_a_metric_that_does_not_fit_the_task_is_refused(task, metric):
    with pytest.raises(ValidationError, match=f"metric {metric.value} does not fit"):
        Plan.model_validate(base_plan(task=task.value, metric=metric.value))


def test_every_fitting_metric_is_accepted():
    # A multi-label plan names its labels (the first label column is the target).
    needs = {"multilabel": {"target": "y", "labels": {"columns": ["y", "z"]}}}
    for task, metrics in METRICS_FOR_TASK.items():
        # A forecast names its set-up (time column, horizon) too.
        setup = ({"forecast": {"time_column": "t", "horizon": 3}}
                 if task.value == "forecast" else {})
        for metric in metrics:
            # A text-to-text plan names the column its outputs are written from.
            extra = {"input_column": "x1"} if task is Task.text_to_text else {}
            Plan.model_validate(base_plan(task=task.value, metric=metric.value, **setup,
                                          **needs.get(task.value, {}), **extra))


def test_duplicate_families_are_refused():
    with pytest.raises(ValidationError, match="only once"):
        Plan.model_validate(base_plan(families=[{"family": "linear"},
                                                {"family": "linear", "max_trials": 3}]))


@pytest.mark.parametrize(
    ("changes", "where"),
    [({"families": []}, "families"),
     ({"families": [{"family": "Cat Boost; rm -rf"}]}, "families"),
     ({"budget_seconds": 1}, "budget_seconds"),
     ({"seed": -1}, "seed"),
     ({"validation": {"kind": "kfold", "n_splits": 1}}, "n_splits"),
     ({"excluded_columns": ["y"]}, "cannot also be excluded"),
     ({"code": "import os"}, "code"),
     ({"families": [{"family": "dummy", "max_trials": 0}]}, "max_trials")],
    ids=["no-family", "not-a-family-name", "tiny-budget", "negative-seed", "one-split",
         "target-excluded", "extra-field", "zero-trials"],
)
def test_plan_schema_refuses_bad_fields(changes, where):
    with pytest.raises(ValidationError, match=where):
        Plan.model_validate(base_plan(**changes))


def test_regression_never_keeps_stratified_folds():
    plan = Plan.model_validate(base_plan(task="regression", metric="rmse",
                                         validation={"kind": "stratified_kfold"}))
    assert plan.validation.kind is ValidationKind.kfold


def test_plan_problems_finds_missing_columns_and_wrong_tasks(home, messy_csv):
    dataset_id, profile = profile_of(home, messy_csv)

    def problems(**changes):
        raw = base_plan(dataset_id=dataset_id, target="churn")
        raw.update(changes)
        return plan_problems(Plan.model_validate(raw), profile)

    assert problems() == []
    missing_target = problems(target="churned")
    assert missing_target == ["target column 'churned' does not exist"]
    missing_excluded = problems(excluded_columns=["customer_id", "ghost", "phantom"])
    assert missing_excluded == ["excluded columns do not exist: 'ghost', 'phantom'"]
    assert any("numeric target" in p for p in problems(task="regression", metric="rmse"))
    assert any("exactly 2 classes" in p and "4" in p for p in problems(target="region"))


def test_folds_follow_the_budget_on_a_table_with_long_texts(home, tmp_path):
    """A short budget on many rows of text gets a holdout, a longer one 3 and then 5
    folds: the first round of defaults must leave time for the search."""
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta"])
    n = 6000
    frame = pd.DataFrame({
        "review": [" ".join(rng.choice(words, size=60)) for _ in range(n)],
        "stars": rng.integers(1, 6, size=n),
        "label": rng.choice(["good", "bad"], size=n),
    })
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    dataset_id, profile = profile_of(home, path, target="label")
    kinds = {}
    for budget in (30, 300, 3600):
        plan = rule_plan(profile, dataset_id, budget_seconds=budget)
        kinds[budget] = (plan.validation.kind, plan.validation.n_splits)
        assert plan_problems(plan, profile) == []
    assert kinds[30][0] is ValidationKind.holdout
    assert "holdout" in rule_plan(profile, dataset_id, budget_seconds=30).rationale
    assert kinds[300] == (ValidationKind.stratified_kfold, 3)
    assert kinds[3600] == (ValidationKind.stratified_kfold, 5)


def dated_csv(path, *, in_order: bool, n: int = 300, days: int | None = None):
    """Customers with a sign-up date: rows kept in date order, or shuffled."""
    rng = np.random.default_rng(5)
    dates = pd.date_range("2022-01-01", periods=days or n, freq="D")[
        np.sort(rng.integers(0, days or n, size=n)) if days else np.arange(n)]
    frame = pd.DataFrame({"signup_date": dates.strftime("%Y-%m-%d"),
                          "tenure": rng.integers(1, 60, size=n),
                          "plan": rng.choice(["a", "b"], size=n),
                          "churn": rng.choice(["yes", "no"], size=n)})
    if not in_order:
        frame = frame.sample(frac=1.0, random_state=1)
    frame.to_csv(path, index=False)
    return path


def test_rows_in_date_order_are_validated_on_later_rows(home, tmp_path):
    dataset_id, profile = profile_of(home, dated_csv(tmp_path / "log.csv", in_order=True))
    assert profile.time_column == "signup_date" and profile.findings.get("time_sorted")
    plan = rule_plan(profile, dataset_id, budget_seconds=60)
    assert plan.validation.kind is ValidationKind.time_split
    assert plan.validation.time_column == "signup_date"
    assert plan.reasons["validation"].startswith(
        "The rows are in time order by “signup_date”, so every score comes from later rows")
    assert "in time order by “signup_date”" in plan.rationale
    assert plan_problems(plan, profile) == []


def test_a_date_column_out_of_order_is_shuffled_and_the_plan_says_why(home, tmp_path):
    dataset_id, profile = profile_of(home, dated_csv(tmp_path / "c.csv", in_order=False))
    assert profile.time_column == "signup_date" and not profile.findings.get("time_sorted")
    plan = rule_plan(profile, dataset_id, budget_seconds=60)
    assert plan.validation.kind is ValidationKind.stratified_kfold
    why = plan.reasons["validation"]
    assert "“signup_date” holds dates, but the rows are not in date order" in why
    assert "give “signup_date” the role time" in why


def test_few_distinct_dates_are_batches_not_a_time_line(home, tmp_path):
    dataset_id, profile = profile_of(home, dated_csv(tmp_path / "b.csv", in_order=True,
                                                     days=4))
    assert profile.findings.get("time_sorted")
    plan = rule_plan(profile, dataset_id, budget_seconds=60)
    assert plan.validation.kind is ValidationKind.stratified_kfold
    assert "holds only 4 different dates, too few to split on" in plan.reasons["validation"]


def test_a_group_the_person_named_beats_an_order_found_in_the_rows(home, tmp_path):
    from modelyard.engine.intake.roles import update

    dataset_id, _ = profile_of(home, dated_csv(tmp_path / "g.csv", in_order=True))
    update(home, dataset_id, roles={"plan": "group"})
    plan = rule_plan(load_profile(home, dataset_id), dataset_id, budget_seconds=60)
    assert (plan.validation.kind, plan.validation.group_column) == (
        ValidationKind.group_kfold, "plan")
