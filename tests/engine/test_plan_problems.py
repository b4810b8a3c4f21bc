"""One plan check (`plan_problems`) decides whether a Plan may run, wherever it came from:
the language model's reply, the person's edits (`Workspace.approve_plan`), the worker."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from modelyard.engine import jobs
from modelyard.engine.errors import PlanError
from modelyard.engine.planning.checks import read_reply
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.schema import PlanDraft, to_plan
from modelyard.engine.training import worker
from modelyard.schemas import FamilyChoice, Plan
from tests.fake_ollama import draft


@pytest.fixture
def customers(ws, messy_csv):
    """The customers data set and its rule plan."""
    meta = ws.ingest(messy_csv)
    doc = ws.propose_plan(meta["id"], budget_seconds=30)
    return meta["id"], Plan.model_validate(doc["plan"])


def _profile(ws, dataset_id):
    from modelyard.engine.intake.ingest import load_profile

    return load_profile(ws.home, dataset_id)


def test_an_id_column_target_is_refused_alike_from_the_model_and_from_the_app(ws, customers):
    dataset_id, _ = customers
    profile = _profile(ws, dataset_id)
    raw = draft(target="customer_id")
    plan = to_plan(PlanDraft.model_validate(raw), dataset_id=dataset_id, budget_seconds=30,
                   seed=0)
    expected = plan_problems(plan, profile)
    assert "'customer_id' is an identifier: it cannot be the target" in expected
    # The language model's reply is refused with exactly these problems ...
    refused, problems, _ = read_reply(json.dumps(raw), profile, dataset_id=dataset_id,
                                      budget_seconds=30, seed=0)
    assert refused is None and problems == expected
    # ... and so is the same plan approved in the app or the CLI (once accepted there).
    with pytest.raises(PlanError) as info:
        ws.approve_plan(plan)
    assert str(info.value).startswith("The plan does not fit the data: "
                                      + "; ".join(expected) + ".")


def test_a_person_editing_the_target_to_an_id_column_is_refused(ws, customers):
    _, plan = customers
    edited = plan.model_copy(update={"target": "customer_id", "excluded_columns": []})
    with pytest.raises(PlanError, match="'customer_id' is an identifier"):
        ws.approve_plan(edited)


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"families": [{"family": "made_up"}]}, "unknown model families: made_up"),
     ({"families": [{"family": "resnet18"}]}, "model families resnet18 do not fit tabular"),
     ({"families": [{"family": "lightgbm", "limits": {"depth": [1, 2]}}]},
      "limits of lightgbm: it does not search 'depth'"),
     ({"task": "multiclass", "metric": "log_loss"}, "exactly 2 values: the task is binary"),
     ({"target": "region", "task": "binary"}, "a binary task needs exactly 2 classes")],
    ids=["unknown-family", "image-family", "unsearched-limit", "multiclass-on-2", "classes"])
def test_every_rule_of_the_one_check(ws, customers, change, problem):
    dataset_id, plan = customers
    changed = Plan.model_validate({**plan.model_dump(mode="json"), **change})
    assert any(problem in p for p in plan_problems(changed, _profile(ws, dataset_id)))
    with pytest.raises(PlanError, match=problem):
        ws.approve_plan(changed)


def test_the_model_can_only_name_registered_tabular_families():
    with pytest.raises(ValidationError, match="family"):
        PlanDraft.model_validate(draft(families=[{
            "family": "made_up", "max_trials": 5, "reason": "", "pros": [], "cons": []}]))


def test_a_plan_that_does_not_pass_never_trains(ws, customers):
    dataset_id, plan = customers
    bad = plan.model_copy(update={"families": [FamilyChoice(family="made_up")]})
    folder = jobs.create_run(ws.home, bad, plan_id="p_test", name="bad")
    with pytest.raises(SystemExit):
        worker.train(folder)
    record = folder.read()
    assert record["status"] == "failed"
    assert "unknown model families: made_up" in record["message"]
    assert not (folder.path / "model").exists()


def test_a_cap_on_a_boosters_learnt_trees_passes_the_check(ws, customers):
    """LightGBM learns its number of trees on each fold; a plan (often a language model's)
    that caps n_estimators is kept, and the cap applies (tests/engine/test_early_stopping)."""
    dataset_id, plan = customers
    capped = plan.model_copy(update={"families": [
        FamilyChoice(family="lightgbm", limits={"n_estimators": (None, 300)})]})
    assert plan_problems(capped, _profile(ws, dataset_id)) == []
    ws.approve_plan(capped)  # and the app or the CLI approves it
