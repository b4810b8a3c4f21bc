"""Reviewing a Run with train scores: the gap between the score on rows a model has seen
and on held-out folds tells memorising (overfitting) from underfitting.

As in test_review.py, the runs are real run folders with real journals indexed by the
real catalog; the trials are written as a worker writes them, train score included.
"""

from __future__ import annotations

import re
import time

import pytest

from modelyard.engine import jobs
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.planning.prompt import revision_messages
from modelyard.engine.planning.review import family_fits, fit_lines, hold_back
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import Metric, Plan, Task
from modelyard.storage.plans import list_plans
from modelyard.storage.runfolder import JournalWriter
from modelyard.storage.sync import sync
from tests.fake_ollama import draft_json


def make_run(ws, plan: Plan, trials: list[tuple]) -> str:
    """A finished Run of `plan`: trials are (family, CV score, CV std, train score) and
    optionally the trial's params."""
    approved = ws.approve_plan(plan)
    folder = jobs.create_run(ws.home, plan, plan_id=approved["id"], name="fit run")
    folder.update(status="running", started_at=time.time() - 5)
    journal = JournalWriter(folder)
    for number, (family, score, std, train, *params) in enumerate(trials):
        journal.emit("trial", f"{family}_{number}", model=f"{family}_{number}",
                     family=family, number=number, state="complete", cv_score=score,
                     cv_std=std, fold_scores=[], fit_seconds=0.5,
                     params=params[0] if params else {}, train_score=train)
    journal.close()
    folder.update(status="succeeded", finished_at=time.time(), message="done")
    sync(ws.catalog)
    return folder.id


@pytest.fixture
def customers(ws, tmp_path, make_messy):
    """400 customers and their rule plan cut to four families, budget 30 s."""
    path = tmp_path / "customers.csv"
    make_messy(n=400).to_csv(path, index=False)
    meta = ws.ingest(path)
    plan = Plan.model_validate(ws.propose_plan(meta["id"], planner="rules",
                                               budget_seconds=30)["plan"])
    keep = (Family.dummy, Family.linear, Family.lightgbm, Family.xgboost)
    return plan.model_copy(update={"families": [f for f in plan.families if f.family in keep]})


def trial(family, cv, train, std=0.02, model=None):
    return {"model": model or f"{family}_0", "family": family, "state": "complete",
            "cv_score": cv, "cv_std": std, "train_score": train}


# -- the rule itself ----------------------------------------------------------------------

def test_the_rule_is_direction_aware_and_scale_free():
    auc = [trial("dummy", 0.5, 0.5, 0.0), trial("lightgbm", 0.84, 0.99),
           trial("linear", 0.80, 0.81)]
    fits = {f.family: f for f in family_fits(Metric.roc_auc, auc)}
    assert fits["lightgbm"].memorises and not fits["linear"].memorises
    assert not fits["linear"].underfits  # 0.81 is well above the baseline
    assert [f.family for f in family_fits(Metric.roc_auc, auc)] == ["lightgbm", "linear"]

    # rmse: lower is better; the same verdicts whatever the unit of the target.
    for unit in (1.0, 1000.0):
        rmse = [trial("dummy", 10 * unit, 10 * unit, 0.0),
                trial("lightgbm", 7 * unit, 2 * unit, 0.3 * unit),  # seen rows far better
                trial("linear", 7.0 * unit, 6.8 * unit, 0.3 * unit),  # gap within the folds
                trial("knn", 9.6 * unit, 9.5 * unit, 0.1 * unit)]  # barely off the baseline
        fits = {f.family: f for f in family_fits(Metric.rmse, rmse)}
        assert [f.family for f in family_fits(Metric.rmse, rmse)] == [
            "lightgbm", "linear", "knn"]  # best (lowest) first
        assert (fits["lightgbm"].memorises, fits["lightgbm"].underfits) == (True, False)
        assert (fits["linear"].memorises, fits["linear"].underfits) == (False, False)
        assert (fits["knn"].memorises, fits["knn"].underfits) == (False, True)


def test_a_gap_within_the_fold_spread_is_not_memorising():
    noisy = [trial("dummy", 0.5, 0.5, 0.0), trial("lightgbm", 0.70, 0.80, std=0.06)]
    (fit,) = family_fits(Metric.roc_auc, noisy)
    assert fit.gap == pytest.approx(0.10) and fit.gap > fit.learned / 4
    assert not fit.memorises  # 0.10 is less than twice the ± 0.06 between folds


def test_the_best_trial_of_each_family_is_judged_and_old_runs_give_nothing():
    rows = [trial("dummy", 0.5, 0.5, 0.0), trial("lightgbm", 0.80, 0.81, model="a"),
            trial("lightgbm", 0.84, 1.0, model="b"), trial("xgboost", 0.83, None)]
    assert [(f.family, f.model) for f in family_fits(Metric.roc_auc, rows)] == [
        ("lightgbm", "b")]  # xgboost recorded no train score
    assert family_fits(Metric.roc_auc, rows[1:]) == []  # no baseline to measure against
    assert fit_lines(Metric.roc_auc, [{**r, "train_score": None} for r in rows]) == []


def test_the_advice_names_only_settings_each_family_searches():
    from modelyard.engine.training import families

    for task in (Task.binary, Task.regression):
        ctx = FitContext(task=task, n_rows=1000, n_classes=2, n_jobs=1, seed=0)
        for family in Family:
            # The review limits the table families' searches; series, text and image
            # families have their own trainers, and the pretrained ones search nothing.
            if (family == "dummy" or families.get(family).modality != "tabular"
                    or not families.get(family).takes_limits):
                continue
            advice = hold_back(family.value, task)
            named = set(re.findall(r"\((?:[a-z]+ )?([A-Za-z_]+)\)", advice)) | set(
                re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", advice))
            space = families.get(family).search_space(ctx)
            assert named and named <= set(space), (family, named - set(space))


# -- the review --------------------------------------------------------------------------

def test_memorising_leans_the_next_plan_to_holding_back(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", 0.50, 0.0, 0.50), ("linear", 0.80, 0.02, 0.81),
        ("lightgbm", 0.84, 0.02, 0.99), ("xgboost", 0.83, 0.02, 0.85)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert [(f.code, f.subject) for f in revision.findings] == [("overfitting", "lightgbm")]
    finding = revision.findings[0]
    assert finding.message.startswith(
        "LightGBM scores 0.99 on rows it has seen and 0.84 on held-out folds (baseline "
        "0.5): it memorises")
    assert "fewer leaves (num_leaves)" in finding.message
    assert "lower learning_rate with more trees" in finding.message
    assert "train 0.99, CV 0.84" in finding.evidence

    plan = Plan.model_validate(doc["plan"])
    choices = {f.family: f for f in plan.families}
    assert "num_leaves" in choices[Family.lightgbm].reason
    assert "num_leaves" not in choices[Family.xgboost].reason  # it did not memorise
    assert plan.validation.n_splits == 10  # 400 rows: steadier scores
    # Measured, not inferred: no blanket cut of the trials, no more time.
    assert {f.family: f.max_trials for f in plan.families} == {
        f.family: f.max_trials for f in customers.families}
    assert plan.budget_seconds == customers.budget_seconds
    assert any(c.startswith("LightGBM scored 0.99 on rows it has seen and 0.84 on held-out")
               for c in revision.changes)


def test_train_close_to_cv_is_not_overfitting(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", 0.50, 0.0, 0.50), ("linear", 0.80, 0.02, 0.81),
        ("lightgbm", 0.84, 0.02, 0.87), ("xgboost", 0.83, 0.02, 0.86)])
    before = len(list_plans(ws.catalog, customers.dataset_id))
    revision, doc = ws.review_run(run_id, planner="rules")
    assert [f.code for f in revision.findings] == ["fine"] and doc is None
    assert len(list_plans(ws.catalog, customers.dataset_id)) == before


def test_poor_on_seen_rows_too_is_underfitting(ws, customers):
    only_simple = customers.model_copy(update={"families": [
        f for f in customers.families if f.family in (Family.dummy, Family.linear)]})
    # 0.61 clears the old "barely beats the baseline" cut; the train score shows the
    # model cannot even fit the rows it learns from.
    run_id = make_run(ws, only_simple, [("dummy", 0.50, 0.0, 0.50),
                                        ("linear", 0.61, 0.01, 0.615)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert [f.code for f in revision.findings] == ["underfitting"]
    assert "scores only 0.615 on rows it has seen" in revision.findings[0].message
    plan = Plan.model_validate(doc["plan"])
    assert {Family.lightgbm, Family.xgboost} <= {f.family for f in plan.families}
    assert plan.budget_seconds > only_simple.budget_seconds


def test_memorising_near_the_baseline_is_not_called_underfitting(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", 0.50, 0.0, 0.50), ("linear", 0.53, 0.02, 0.54),
        ("lightgbm", 0.55, 0.02, 0.98), ("xgboost", 0.54, 0.02, 0.56)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert [(f.code, f.subject) for f in revision.findings] == [("overfitting", "lightgbm")]
    assert "barely beats the baseline" in revision.findings[0].message
    plan = Plan.model_validate(doc["plan"])
    assert plan.budget_seconds == customers.budget_seconds  # more capacity would not help


# -- the language model's review prompt -------------------------------------------------

def test_the_review_prompt_carries_the_train_scores(ws, customers, fake_ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    fake_ollama.script(draft_json(n_splits=10, rationale="LightGBM memorised its rows."))
    run_id = make_run(ws, customers, [
        ("dummy", 0.50, 0.0, 0.50), ("linear", 0.80, 0.02, 0.81),
        ("lightgbm", 0.84, 0.02, 0.99), ("xgboost", 0.83, 0.02, 0.85)])
    revision, _ = ws.review_run(run_id)
    assert revision.planner == "ollama"
    asked = fake_ollama.chats()[0]["messages"][1]["content"]
    assert "scores 0.99 on rows it has seen and 0.84 on held-out folds" in asked
    assert "train 0.99, CV 0.84" in asked


def test_revision_messages_explain_the_train_scores(customers, ws):
    profile = load_profile(ws.home, customers.dataset_id)
    rows = [trial("dummy", 0.5, 0.5, 0.0), trial("lightgbm", 0.84, 0.99),
            trial("linear", 0.80, 0.81)]
    user = revision_messages(profile, customers, findings=["x"], budget_seconds=30,
                             hardware={}, sample_rows=[], draft={},
                             fit=fit_lines(customers.metric, rows))[1]["content"]
    assert "## Train and held-out scores (best trial per family)" in user
    assert "Train is roc_auc on rows the model was fitted on, CV on held-out folds " \
           "(higher is better)" in user
    assert "- lightgbm: train 0.99, CV 0.84 ± 0.02, baseline 0.5: memorises" in user
    assert "- linear: train 0.81, CV 0.8 ± 0.02, baseline 0.5: fits reasonably" in user
    without = revision_messages(profile, customers, findings=["x"], budget_seconds=30,
                                hardware={}, sample_rows=[], draft={})[1]["content"]
    assert "Train and held-out" not in without


def test_memorising_narrows_the_search_to_less_capacity(ws, customers):
    """The next plan keeps the family's search at or below the capacity of the trial that
    memorised; the worker's search honours those limits."""
    from modelyard.engine.training import families
    from modelyard.engine.training.search import narrow

    memorised = {"num_leaves": 200, "min_child_samples": 3, "reg_lambda": 1e-6,
                 "learning_rate": 0.2, "class_weight": "none"}
    run_id = make_run(ws, customers, [
        ("dummy", 0.50, 0.0, 0.50), ("linear", 0.80, 0.02, 0.81),
        ("lightgbm", 0.84, 0.02, 0.99, memorised), ("xgboost", 0.83, 0.02, 0.85)])
    revision, doc = ws.review_run(run_id, planner="rules")
    plan = Plan.model_validate(doc["plan"])
    choices = {f.family: f for f in plan.families}
    assert choices[Family.lightgbm].limits == {
        "num_leaves": (None, 200), "min_child_samples": (3, None), "reg_lambda": (1e-6, None)}
    assert not choices[Family.xgboost].limits
    assert any("num_leaves at most 200, min_child_samples at least 3 and reg_lambda at "
               "least 1e-06" in c for c in revision.changes), revision.changes
    ctx = FitContext(task=Task.binary, n_rows=400, n_classes=2, n_jobs=1, seed=0)
    space = narrow(families.get("lightgbm").search_space(ctx), choices[Family.lightgbm].limits)
    assert (space["num_leaves"].low, space["num_leaves"].high) == (4, 200)
    assert (space["min_child_samples"].low, space["min_child_samples"].high) == (3, 100)
    assert space["learning_rate"] == families.get("lightgbm").search_space(ctx)["learning_rate"]


def test_limits_on_settings_a_family_does_not_search_are_refused(ws, customers):
    from modelyard.engine.errors import PlanError

    broken = customers.model_copy(deep=True)
    broken.families[2].limits = {"no_such_setting": (1, 2)}
    with pytest.raises(PlanError, match="does not search 'no_such_setting'"):
        ws.approve_plan(broken)
    with pytest.raises(ValueError, match="low ≤ high"):
        Plan.model_validate({**customers.model_dump(mode="json"), "families": [
            {"family": "lightgbm", "limits": {"num_leaves": [40, 8]}}]})
