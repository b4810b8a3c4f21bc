"""Mend before asking again: a reply's mistakes that have one obvious mend are mended in
code and said; only the rest goes back to the model (engine/planning/mend.py)."""

from __future__ import annotations

import json

import pytest

from modelyard.engine.intake.ingest import ingest, load_profile
from modelyard.engine.planning.checks import read_reply
from modelyard.engine.planning.schema import draft_schema, from_plan
from tests.fake_ollama import draft


@pytest.fixture
def customers(home, messy_csv):
    meta = ingest(home, messy_csv)
    return meta["id"], load_profile(home, meta["id"])


def _read(customers, raw, target=None, text=None):
    dataset_id, profile = customers
    return read_reply(text if text is not None else json.dumps(raw), profile,
                      dataset_id=dataset_id, budget_seconds=60, seed=0, target=target)


def _compact(**changes):
    """A reply in the compact shape the schema sent asks for."""
    raw = {**draft(), "families": ["dummy", "linear", "lightgbm"], **changes}
    return {key: raw[key] for key in draft_schema()["properties"]}  # in the schema's order


def test_a_compact_reply_reads_with_no_mend(customers):
    plan, problems, mends = _read(customers, _compact())
    assert (problems, mends) == ([], [])
    # Trials as the rule planner gives them: the budget bounds the search anyway.
    assert [(f.family, f.max_trials) for f in plan.families] == [
        ("dummy", 1), ("linear", 30), ("lightgbm", 300)]
    # No reason per field in the compact shape: each family's own words are its reason.
    assert plan.reasons == {} and all(f.reason for f in plan.families)
    assert plan.rationale == "Predict the target with boosted trees and a linear model."


@pytest.mark.parametrize(
    ("changes", "mend", "check"),
    [({"families": [{"family": "lightgbm", "max_trials": 20},
                    {"family": "lightgbm", "max_trials": 40},
                    {"family": "dummy", "max_trials": 1}]},
      "“lightgbm” was named more than once: it is used once.",
      lambda p: [(f.family, f.max_trials) for f in p.families][:2] == [("lightgbm", 40),
                                                                       ("dummy", 1)]),
     ({"families": [{"family": "LightGBM", "max_trials": 5},
                    {"family": "random forest", "max_trials": 5}]},
      "The family \"LightGBM\" was read as “lightgbm”.",
      lambda p: [f.family for f in p.families] == ["dummy", "lightgbm", "random_forest"]),
     ({"families": [{"family": "made_up", "max_trials": 5},
                    {"family": "linear", "max_trials": 5}]},
      "\"made_up\" is not a model family Modelyard has: it was left out.",
      lambda p: [f.family for f in p.families] == ["dummy", "linear", "lightgbm"]),
     ({"families": [{"family": "resnet18", "max_trials": 5},
                    {"family": "linear", "max_trials": 5}]},
      "\"resnet18\" is a family for images: it was left out.",
      lambda p: [f.family for f in p.families] == ["dummy", "linear", "lightgbm"]),
     ({"families": [{"family": "linear", "max_trials": 5000}]},
      "5000 trials for “linear” is more than 1000: 1000 are used.",
      lambda p: p.families[1].max_trials == 1000),
     ({"n_splits": 50}, "50 folds is out of bounds: 10 are used.",
      lambda p: p.validation.n_splits == 10),
     ({"target": "Churn"}, "The target \"Churn\" was read as the column \"churn\".",
      lambda p: p.target == "churn"),
     ({"target": "chrun"}, "The target \"chrun\" was read as the column \"churn\".",
      lambda p: p.target == "churn"),
     ({"excluded_columns": ["customer-id", "no_such_column"]},
      "The excluded column \"customer-id\" was read as \"customer_id\".",
      lambda p: p.excluded_columns == ["customer_id"]),
     ({"excluded_columns": ["churn"]},
      "The target \"churn\" cannot be left out: it was not excluded.",
      lambda p: p.excluded_columns == []),
     ({"task": "multiclass", "metric": "log_loss"},
      "The task \"multiclass\" does not fit \"churn\" (2 different values): it is binary.",
      lambda p: p.task.value == "binary" and p.metric.value == "log_loss"),
     ({"metric": "r2"}, "The metric r2 does not fit a binary task: roc_auc is used.",
      lambda p: p.metric.value == "roc_auc"),
     ({"metric": "ROC-AUC"}, "The metric \"ROC-AUC\" was read as “roc_auc”.",
      lambda p: p.metric.value == "roc_auc"),
     ({"code": "import os"}, "Fields the plan does not have were left out: \"code\".",
      lambda p: True)],
    ids=["repeated", "spelling", "unknown-family", "image-family", "trials", "folds",
         "target-case", "target-typo", "excluded", "excluded-target", "task", "metric",
         "metric-spelling", "extra-field"],
)
def test_each_mistake_with_one_mend_is_mended_and_said(customers, changes, mend, check):
    plan, problems, mends = _read(customers, draft(**changes))
    assert problems == []
    assert mend in mends, mends
    assert check(plan)


def test_the_target_the_person_chose_is_kept_whatever_the_model_says(customers):
    plan, problems, mends = _read(customers, draft(target="region", task="multiclass",
                                                    metric="log_loss"), target="churn")
    assert problems == [] and plan.target == "churn"
    assert mends[0] == "The target is \"churn\", the column you chose (the model named " \
                       "\"region\")."
    assert plan.task.value == "binary"  # then mended to fit churn's two values


def test_an_ambiguous_name_is_not_guessed(customers):
    # "tenure" is as close to ... nothing unique: left for the model to answer.
    _, problems, mends = _read(customers, draft(target="monthly"))
    assert problems and "does not exist" in problems[0]
    assert not any("was read as" in m for m in mends)


def test_a_reply_cut_off_by_the_token_cap_keeps_its_complete_parts(customers):
    text = json.dumps(_compact())
    cut = text[:text.index('"rationale"') + 25]  # in the middle of the last sentence
    plan, problems, mends = _read(customers, None, text=cut)
    assert problems == [], problems
    assert mends == ["The reply stopped before its end; its complete parts were kept."]
    assert [f.family for f in plan.families] == ["dummy", "linear", "lightgbm"]
    assert plan.rationale == "Predict the"  # what was written of it


def test_repeated_names_are_merged_and_a_baseline_alone_gets_the_rules_families(customers):
    plan, problems, mends = _read(customers, _compact(families=["lightgbm"] * 6))
    assert problems == []
    assert [f.family for f in plan.families] == ["dummy", "lightgbm", "linear"]
    assert mends == ["“lightgbm” was named more than once: it is used once.",
                     "A plan tries at least 2 kinds of model, so that one that cannot "
                     "finish in the budget leaves another: linear was added (the rule "
                     "planner's next choice).",
                     "The baseline (dummy) was added: every plan keeps one, so each score "
                     "can be read against it."]
    # A small model stuck on the baseline (seen with SmolLM2-135M): the rules' families.
    plan, problems, mends = _read(customers, _compact(families=["dummy"] * 6))
    assert problems == []
    assert [f.family for f in plan.families][:3] == ["dummy", "linear", "lightgbm"]
    assert mends[-1].startswith("The baseline alone learns nothing from the data: the "
                                "families the rule planner tries were added (linear, ")


@pytest.mark.parametrize("given", [[], {"lightgbm": 0, "linear": 0}], ids=["empty", "all-zero"])
def test_no_family_named_gets_the_rules_families(customers, given):
    plan, problems, mends = _read(customers, _compact(families=given))
    assert problems == []
    assert [f.family for f in plan.families][:3] == ["dummy", "linear", "lightgbm"]
    assert mends[-1].startswith("No model family was named: the families the rule planner "
                                "tries were added (dummy, linear, lightgbm, ")


def test_a_group_column_that_groups_nothing_is_mended_away(customers):
    plan, problems, mends = _read(customers, _compact(validation="group_kfold",
                                                     validation_column="monthly_charges"))
    assert problems == [] and plan.validation.kind.value == "stratified_kfold"
    assert mends[0] == ('"monthly_charges" has a different value in almost every row: it '
                        'does not group rows.')


def test_a_reply_cut_before_its_choices_goes_back(customers):
    text = json.dumps(_compact())
    plan, problems, _ = _read(customers, None, text=text[:text.index('"metric"')])
    assert plan is None and any("metric" in p for p in problems)


def test_a_plan_shown_for_revision_reads_back_unchanged(customers):
    plan, _, _ = _read(customers, _compact())
    again, problems, mends = _read(customers, from_plan(plan))
    assert (problems, mends) == ([], [])
    assert again.model_dump(exclude={"families"}) == plan.model_dump(exclude={"families"})
    assert [(f.family, f.max_trials, f.reason) for f in again.families] == [
        (f.family, f.max_trials, f.reason) for f in plan.families]


def test_a_column_flagged_as_a_leak_is_left_to_the_person_by_both_planners(home, tmp_path):
    import numpy as np

    from modelyard.engine.planning.rules import rule_plan

    rng = np.random.default_rng(0)
    wage = rng.lognormal(4.5, 0.4, 600).round(1)
    csv = tmp_path / "wages.csv"
    csv.write_text("age,hours,logwage,wage\n" + "".join(
        f"{a},{h},{np.log(w):.4f},{w}\n"
        for a, h, w in zip(rng.integers(18, 70, 600), rng.integers(10, 60, 600), wage,
                           strict=True)))
    meta = ingest(home, csv, target="wage")
    profile = load_profile(home, meta["id"])
    flagged = {w.column for w in profile.warnings if w.code == "leakage"}
    assert flagged == {"logwage"}  # the profile found it against the target

    raw = {**draft(target="wage", task="regression", metric="rmse"),
           "excluded_columns": ["logwage", "age"]}
    plan, problems, mends = read_reply(json.dumps(raw), profile, dataset_id=meta["id"],
                                       budget_seconds=60, seed=0)
    assert problems == []
    assert plan.excluded_columns == ["age"]  # the model's own choice stands
    assert any("\"logwage\"" in m and "stays in" in m for m in mends), mends
    # The rule planner makes the same call, so the planners differ only in the model's
    # own choices, not in a policy.
    assert "logwage" not in rule_plan(profile, meta["id"]).excluded_columns
