"""Reviewing a Run: findings from its journal, a revised Plan stored as a new version.

The runs here are real run folders with real journals, indexed by the real catalog; only
the training is left out (the trials are written as a worker writes them), so each
situation can be set up exactly and quickly.
"""

from __future__ import annotations

import time

import pytest

from modelyard.engine import jobs
from modelyard.engine.training.families import Family
from modelyard.schemas import Plan
from modelyard.storage.plans import list_plans
from modelyard.storage.runfolder import JournalWriter
from modelyard.storage.sync import sync
from tests.fake_ollama import draft_json


def make_run(ws, plan: Plan, trials: list[tuple], *, status: str = "succeeded",
             elapsed: float = 5.0, message: str = "done") -> str:
    """A finished Run of `plan` whose journal holds `trials`: (family, state, score, std)."""
    approved = ws.approve_plan(plan)
    folder = jobs.create_run(ws.home, plan, plan_id=approved["id"], name="test run")
    folder.update(status="running", started_at=time.time() - elapsed)
    journal = JournalWriter(folder)
    for number, (family, state, score, std) in enumerate(trials):
        says = "failed: ValueError: boom" if state == "failed" else state
        journal.emit("trial", f"{family}_{number} {says}", model=f"{family}_{number}",
                     family=family, number=number, state=state, cv_score=score, cv_std=std,
                     fold_scores=[], fit_seconds=0.5, params={})
    journal.close()
    folder.update(status=status, finished_at=time.time(), message=message)
    sync(ws.catalog)
    return folder.id


@pytest.fixture
def customers(ws, tmp_path, make_messy):
    """400 customers (enough rows for every family) and their rule plan, budget 30 s."""
    path = tmp_path / "customers.csv"
    frame = make_messy(n=400)
    frame.to_csv(path, index=False)
    meta = ws.ingest(path)
    doc = ws.propose_plan(meta["id"], planner="rules", budget_seconds=30)
    return Plan.model_validate(doc["plan"])


def only(plan: Plan, *families: Family) -> Plan:
    return plan.model_copy(update={"families": [f for f in plan.families
                                                if f.family in families]})


def codes(revision) -> list[str]:
    return [f.code for f in revision.findings]


def test_a_failed_family_and_a_budget_too_short(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", "complete", 0.5, 0.0), ("svm", "failed", None, None),
        ("linear", "complete", 0.70, 0.02), ("svm", "failed", None, None),
        ("lightgbm", "complete", 0.71, 0.02), ("xgboost", "pruned", None, None),
        ("lightgbm", "complete", 0.76, 0.02)], elapsed=29.0)
    revision, doc = ws.review_run(run_id)
    assert codes(revision) == ["family_failed", "budget_short"]
    failed, short = revision.findings
    assert failed.message == ("Every Support-vector machine trial failed (2 of 2), so it only "
                              "used up time.")
    assert failed.evidence == "svm_1 failed: ValueError: boom"
    assert "never got a turn" in short.message and "1 trials were stopped" in short.message
    assert "still improving" in short.message

    plan = Plan.model_validate(doc["plan"])
    assert Family.svm not in [f.family for f in plan.families]
    assert plan.budget_seconds == 90  # 30 s, doubled, and at least one more minute
    assert revision.changes == [
        "Left out Support-vector machine: every trial of it failed.",
        "Raised the time budget from 30 s to 90 s: the search ran out of time."]
    # Stored as a new, unapproved version that says where it came from and why.
    assert (doc["version"], doc["approved"], doc["planner"]) == (3, False, "rules")
    prov = doc["provenance"]
    assert prov["review"]["run_id"] == run_id
    assert [f["code"] for f in prov["review"]["findings"]] == codes(revision)
    assert prov["review"]["changes"] == revision.changes
    assert prov["fallback_reason"] == ("Ollama is not reachable at http://127.0.0.1:9, so the "
                                       "rule planner revised this plan.")
    assert prov["based_on"] == jobs.RunFolder(ws.home.run_dir(run_id)).read()["plan_id"]


def test_overfitting_when_flexible_models_lose_to_a_linear_one(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", "complete", 0.5, 0.0), ("linear", "complete", 0.80, 0.01),
        ("lightgbm", "complete", 0.70, 0.05), ("xgboost", "complete", 0.69, 0.05),
        ("random_forest", "complete", 0.71, 0.04), ("extra_trees", "complete", 0.70, 0.04),
        ("catboost", "complete", 0.66, 0.04), ("svm", "complete", 0.72, 0.03)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert codes(revision) == ["overfitting"]
    assert "train scores per trial are not recorded" in revision.findings[0].evidence
    plan = Plan.model_validate(doc["plan"])
    assert plan.validation.n_splits == 10
    assert {f.family: f.max_trials for f in plan.families}[Family.lightgbm] == 20
    assert plan.budget_seconds == 30  # nothing said the budget was short


def test_underfitting_adds_stronger_families_and_time(ws, customers):
    plan = only(customers, Family.dummy, Family.linear)
    run_id = make_run(ws, plan, [("dummy", "complete", 0.50, 0.0),
                                 ("linear", "complete", 0.53, 0.01)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert codes(revision) == ["underfitting"]
    revised = Plan.model_validate(doc["plan"])
    assert [f.family for f in revised.families] == [Family.dummy, Family.linear,
                                                    Family.lightgbm, Family.xgboost]
    assert revised.families[2].pros  # an added family comes with its pros and cons
    assert revised.budget_seconds == 90


def test_a_score_too_good_to_be_true_leaves_out_the_suspect(ws, tmp_path, make_messy):
    frame = make_messy(n=300)
    frame["churn_flag"] = (frame["churn"] == "yes").astype(int)
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    meta = ws.ingest(path, target="churn")
    plan = Plan.model_validate(ws.propose_plan(meta["id"], planner="rules")["plan"])
    plan = only(plan, Family.dummy, Family.linear, Family.lightgbm)
    run_id = make_run(ws, plan, [("dummy", "complete", 0.5, 0.0),
                                 ("linear", "complete", 1.0, 0.0),
                                 ("lightgbm", "complete", 0.999, 0.001)])
    revision, doc = ws.review_run(run_id, planner="rules")
    assert codes(revision) == ["leakage"]
    assert "suspects: churn_flag" in revision.findings[0].message
    assert "churn_flag" in Plan.model_validate(doc["plan"]).excluded_columns


def test_a_good_run_needs_no_new_version(ws, customers):
    run_id = make_run(ws, customers, [
        ("dummy", "complete", 0.5, 0.0), ("lightgbm", "complete", 0.82, 0.01),
        ("linear", "complete", 0.79, 0.01), ("xgboost", "complete", 0.80, 0.01),
        ("random_forest", "complete", 0.80, 0.01), ("extra_trees", "complete", 0.79, 0.01),
        ("catboost", "complete", 0.74, 0.01), ("svm", "complete", 0.78, 0.01)])
    before = len(list_plans(ws.catalog, customers.dataset_id))
    revision, doc = ws.review_run(run_id, planner="rules")
    assert codes(revision) == ["fine"] and doc is None and revision.plan is None
    assert len(list_plans(ws.catalog, customers.dataset_id)) == before


def test_a_failed_run(ws, customers):
    run_id = make_run(ws, customers, [("dummy", "pruned", None, None)], status="failed",
                      message="No model could be trained: every trial failed or ran out of "
                              "time.")
    revision, doc = ws.review_run(run_id, planner="rules")
    assert codes(revision)[:2] == ["run_failed", "budget_short"]
    assert Plan.model_validate(doc["plan"]).budget_seconds == 90


def test_the_language_model_revises_when_it_can(ws, customers, fake_ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    fake_ollama.script(draft_json(
        n_splits=10, excluded_columns=["customer_id"],
        rationale="More folds for a steadier score; fewer boosting trials."))
    plan = only(customers, Family.dummy, Family.linear, Family.lightgbm)
    run_id = make_run(ws, plan, [
        ("dummy", "complete", 0.5, 0.0), ("linear", "complete", 0.80, 0.01),
        ("lightgbm", "complete", 0.70, 0.05)])
    revision, doc = ws.review_run(run_id)
    assert (revision.planner, doc["planner"], revision.model) == (
        "ollama", "ollama", "llama3.2:3b")
    assert "validation.n_splits: 5 → 10" in revision.changes
    assert revision.changes[-1] == ("Why: More folds for a steadier score; fewer boosting "
                                    "trials.")
    assert doc["provenance"]["review"]["changes"] == revision.changes
    asked = fake_ollama.chats()[0]["messages"][1]["content"]
    assert "## The plan that was run" in asked
    assert "did worse than the simple linear model" in asked
    plan = Plan.model_validate(doc["plan"])
    assert (plan.target, plan.budget_seconds) == ("churn", 30)
