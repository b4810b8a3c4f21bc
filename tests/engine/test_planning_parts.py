"""The planner's parts without a server: the schema sent, the reply checks, the goal
reading, the diff between versions, the plain-words card, the extended meaning checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from modelyard.engine.intake import ingest
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.planning import family_notes
from modelyard.engine.planning.checks import read_reply
from modelyard.engine.planning.diff import as_edited, diff_plans
from modelyard.engine.planning.explain import as_text, card
from modelyard.engine.planning.goal import asks_for_forecast, read_goal
from modelyard.engine.planning.labels import (
    METRIC_LABELS,
    TASK_LABELS,
    TASK_SHORT,
    VALIDATION_LABELS,
    changes_in_words,
)
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.prompt import hardware_summary
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.planning.schema import PlanDraft, draft_schema, flatten, from_plan, to_plan
from modelyard.engine.training import families
from modelyard.engine.training.families import Family
from modelyard.schemas import Metric, Profile, Task, ValidationKind
from tests.fake_ollama import draft


def walk(node, path=""):
    """Every (path, dict) in a JSON schema."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


@pytest.fixture
def customers(home, messy_csv):
    meta = ingest(home, messy_csv)
    return meta["id"], load_profile(home, meta["id"])


# -- the schema sent to the server -----------------------------------------------------
def test_the_schema_sent_is_flat_closed_and_bounded():
    schema = draft_schema(["a", "b", "y"])
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and "anyOf" not in text
    objects = [(p, n) for p, n in walk(schema) if n.get("type") == "object"]
    assert len(objects) == 1  # the plan: families are a list of names
    for path, node in objects:
        assert node["additionalProperties"] is False, path
        assert node["required"] == list(node["properties"]), path
    arrays = [(p, n) for p, n in walk(schema) if n.get("type") == "array"]
    assert {p for p, _ in arrays} == {"/properties/excluded_columns", "/properties/families"}
    assert all(isinstance(n["maxItems"], int) for _, n in arrays)
    strings = [n for _, n in walk(schema) if n.get("type") == "string" and "enum" not in n]
    # Short sentences: a small model that runs on is stopped by the grammar, not the cap.
    assert strings and all(n["maxLength"] <= 300 for n in strings)
    # The choices come before the reasons: a reply cut short loses words, not choices.
    keys = list(schema["properties"])
    assert keys.index("families") < keys.index("goal_reading") < keys.index("rationale")
    assert schema["properties"]["target"]["enum"] == ["a", "b", "y"]
    assert schema["properties"]["excluded_columns"]["items"]["enum"] == ["a", "b", "y"]
    assert schema["properties"]["excluded_columns"]["maxItems"] == 2
    assert schema["properties"]["validation_column"]["enum"] == ["", "a", "b", "y"]
    # Names a grammar holds to the families offered here (present, and not a GPU network
    # on a CPU): those the prompt lists; a repeat is mended after.
    names = schema["properties"]["families"]["items"]["enum"]
    assert names == family_notes.offered()
    assert "lightgbm" in names and set(names) <= set(families.named("tabular"))
    assert "lightgbm" in names and "resnet18" not in names
    assert schema["properties"]["families"]["maxItems"] == 6


def test_flatten_refuses_what_a_grammar_cannot_bound():
    with pytest.raises(ValueError, match="maxItems"):
        flatten(Profile.model_json_schema())  # lists of columns without a bound
    with pytest.raises(ValueError, match="union"):
        flatten({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    # Optional is reduced to its type, and a property named "title" is kept.
    flat = flatten({"type": "object", "title": "T", "properties": {
        "title": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}})
    assert flat == {"type": "object", "properties": {"title": {"type": "string"}},
                    "required": ["title"], "additionalProperties": False}


@pytest.mark.parametrize("validation", [
    {}, {"validation": "group_kfold", "validation_column": "region"},
    {"validation": "time_split", "validation_column": "tenure_months"}])
def test_a_draft_round_trips_through_a_plan(customers, validation):
    raw = draft(**validation)
    plan = to_plan(PlanDraft.model_validate(raw), dataset_id="ds_x", budget_seconds=30,
                   seed=3, goal="who leaves")
    assert (plan.dataset_id, plan.budget_seconds, plan.seed, plan.goal) == (
        "ds_x", 30, 3, "who leaves")
    column = raw["validation_column"] or None
    assert (plan.validation.group_column or plan.validation.time_column) == column
    # Shown to the model in the compact shape it answers in, and read back the same.
    again = read_reply(json.dumps(from_plan(plan)), customers[1], dataset_id="ds_x",
                       budget_seconds=30, seed=3, goal="who leaves")
    assert (again.problems, again.mends) == ([], [])
    # The compact shape carries every choice but the reasons and the trials (the rule
    # planner's numbers come back: a budget bounds a search anyway).
    skip = {"families", "reasons"}
    assert again.plan.model_dump(exclude=skip) == plan.model_dump(exclude=skip)
    assert [f.family for f in again.plan.families] == [f.family for f in plan.families]


def test_a_group_split_without_its_column_is_mended_into_shuffled_folds(customers):
    dataset_id, profile = customers
    plan, problems, mends = read_reply(json.dumps(draft(validation="group_kfold")), profile,
                                       dataset_id=dataset_id, budget_seconds=60, seed=0)
    assert problems == [] and plan.validation.kind.value == "stratified_kfold"
    assert mends == ["group_kfold needs a group column and none was named: rows are "
                     "shuffled into folds instead."]


# -- reading a reply -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "problem"),
    [("not json", "the reply is not JSON"),
     ("[1, 2]", "the reply must be one JSON object"),
     (json.dumps(draft(target="customer_id")), "'customer_id' is an identifier"),
     (json.dumps(draft(target="nothing_like_any_column")), "does not exist")],
    ids=["text", "array", "id-target", "unknown-target"],
)
def test_reply_problems_are_sentences_the_model_can_act_on(customers, reply, problem):
    dataset_id, profile = customers
    plan, problems, _ = read_reply(reply, profile, dataset_id=dataset_id, budget_seconds=60,
                                   seed=0)
    assert plan is None
    assert any(problem in p for p in problems), problems


def test_plan_problems_knows_slow_families_and_empty_features(customers):
    dataset_id, profile = customers
    plan = rule_plan(profile, dataset_id)
    big = profile.model_copy(update={"n_rows": 50_000})
    assert plan_problems(plan, big) == ["family svm is too slow for 50000 rows (use it up "
                                       "to 20000 rows)"]
    features = ["tenure_months", "monthly_charges", "contract", "region"]
    nothing = plan.model_copy(update={"excluded_columns": ["customer_id", *features]})
    assert any("no usable feature" in p for p in plan_problems(nothing, profile))
    as_classes = plan.model_copy(update={"target": "monthly_charges", "task": Task.multiclass,
                                         "metric": Metric.log_loss})
    assert any("predict it with a regression task" in p
               for p in plan_problems(as_classes, profile))


# -- reading a goal ------------------------------------------------------------------------
def profile_for(home, tmp_path, frame: pd.DataFrame, name: str = "t.csv") -> Profile:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return load_profile(home, ingest(home, path)["id"])


@pytest.mark.parametrize(
    ("goal", "target", "task", "metric"),
    [("which customers will leave", "churn", Task.binary, None),
     ("Will a customer churn? I care about ranking the risk", "churn", Task.binary,
      Metric.roc_auc),
     ("customers leaving", "churn", Task.binary, None),
     ("the region of each customer", "region", Task.multiclass, None),
     ("how much they are charged per month", "monthly_charges", Task.regression, None)],
)
def test_goal_reading_by_column_names(customers, goal, target, task, metric):
    _, profile = customers
    reading = read_goal(goal, profile)
    assert (reading.target, reading.task, reading.metric) == (target, task, metric)
    assert f"“{target}”" in reading.explanation and goal in reading.explanation


def test_goal_reading_of_a_house_price(home, tmp_path):
    frame = pd.DataFrame({"LotArea": range(100), "Neighborhood": ["a", "b"] * 50,
                          "SalePrice": [100_000.5 + 7 * i for i in range(100)]})
    reading = read_goal("price of a house", profile_for(home, tmp_path, frame))
    assert (reading.target, reading.task) == ("SalePrice", Task.regression)
    reading = read_goal("the typical error on the price, off by how much",
                        profile_for(home, tmp_path, frame, "u.csv"))
    assert reading.metric is Metric.mae


def test_goal_reading_across_word_endings(home, tmp_path):
    """"denied" names the column "deny" (AER's mortgage table), "approvals" one called
    "approved"; the last column is not taken instead."""
    frame = pd.DataFrame({"deny": ["no", "yes"] * 30, "pirat": [i / 60 for i in range(60)],
                          "hschool": ["yes", "yes", "no"] * 20})
    profile = profile_for(home, tmp_path, frame)
    reading = read_goal("predict whether the mortgage is denied", profile)
    assert (reading.target, reading.task) == ("deny", Task.binary)
    frame = pd.DataFrame({"approved": ["no", "yes"] * 30, "amount": range(60)})
    reading = read_goal("approvals", profile_for(home, tmp_path, frame, "a.csv"))
    assert reading.target == "approved"
    frame = pd.DataFrame({"pce": range(60), "unemploy": [i % 7 for i in range(60)]})
    reading = read_goal("forecast unemployment", profile_for(home, tmp_path, frame, "u.csv"))
    assert reading.target == "unemploy" and "short for “unemployment”" in reading.explanation


@pytest.mark.parametrize("goal, asks", [
    ("forecast unemployment", True), ("sales for the next 12 months", True),
    ("what happens next week", True), ("Forecasting demand", True),
    ("which customers will leave", False), ("the next customer", False)])
def test_a_goal_asking_for_the_future(goal, asks):
    assert asks_for_forecast(goal) is asks


def test_goal_reading_by_values_and_no_match(home, tmp_path):
    frame = pd.DataFrame({"age": range(60), "status": ["left", "stayed", "stayed"] * 20})
    profile = profile_for(home, tmp_path, frame)
    reading = read_goal("who will leave", profile)
    assert reading.target == "status" and "its values include “left”" in reading.explanation
    nothing = read_goal("quarterly weather in Oslo", profile)
    assert nothing.target is None and nothing.explanation.startswith("No column name matches")


# -- diff and card -------------------------------------------------------------------------
def test_diff_lists_decisions_not_prose(customers):
    dataset_id, profile = customers
    before = rule_plan(profile, dataset_id)
    after = before.model_copy(update={
        "metric": Metric.accuracy, "rationale": "other words", "budget_seconds": 99,
        "excluded_columns": ["region"],
        "validation": before.validation.model_copy(update={"n_splits": 3}),
        "families": [f.model_copy(update={"max_trials": 5}) if f.family == Family.linear
                     else f for f in before.families if f.family != Family.svm]})
    assert diff_plans(before, after) == [
        "metric: roc_auc → accuracy", "validation.n_splits: 5 → 3",
        "excluded_columns: + region", "excluded_columns: − customer_id (used again)",
        "budget_seconds: 300 → 99", "families: − svm", "linear trials: 30 → 5"]
    assert diff_plans(before, before.model_copy(update={"rationale": "x"})) == []


def test_changes_in_words_name_no_identifiers(customers):
    dataset_id, profile = customers
    before = rule_plan(profile, dataset_id)
    after = before.model_copy(update={
        "metric": Metric.accuracy, "budget_seconds": 99, "excluded_columns": ["region"],
        "validation": before.validation.model_copy(update={"kind": ValidationKind.holdout}),
        "families": [f.model_copy(update={"max_trials": 5}) if f.family == Family.linear
                     else f for f in before.families if f.family != Family.svm]})
    assert changes_in_words(before, after) == [
        "Metric: ROC AUC → Accuracy",
        "How scores are checked: 5 folds, class balance kept → 20% held out",
        "Columns left out: “region”", "Columns used again: “customer_id”",
        "Time budget: 300 s → 99 s", "Linear model: 30 trials → 5 trials",
        "Left out Support-vector machine"]
    assert changes_in_words(before, before.model_copy(update={"rationale": "x"})) == []


def test_every_choice_has_a_label():
    assert set(TASK_LABELS) == set(Task) == set(TASK_SHORT)
    assert set(METRIC_LABELS) == set(Metric)
    assert set(VALIDATION_LABELS) == set(ValidationKind)
    labels = [*TASK_LABELS.values(), *METRIC_LABELS.values(), *VALIDATION_LABELS.values()]
    assert not [w for w in labels if "_" in w]


def test_an_edited_plan_keeps_no_stale_reason(customers):
    dataset_id, profile = customers
    before = rule_plan(profile, dataset_id)
    after = as_edited(before, before.model_copy(update={"metric": Metric.accuracy}))
    assert after.reasons["metric"] == "You chose it."
    assert after.reasons["target"] == before.reasons["target"]
    assert after.rationale == f"Before your changes: {before.rationale}"
    assert as_edited(before, before) == before


def test_the_card_says_every_choice_and_why(customers):
    dataset_id, profile = customers
    plan = rule_plan(profile, dataset_id, budget_seconds=60)
    items = {i.label: i for i in card(plan)}
    assert list(items) == ["What to predict", "Kind of problem", "How models are scored",
                           "How scores are checked", "Columns left out", "Time budget"]
    assert all(i.why for i in items.values())
    assert items["Kind of problem"].value.startswith("a yes/no question")
    assert "“customer_id” is an identifier" in items["Columns left out"].why
    text = as_text(plan)
    assert "ROC AUC" in text and "5-fold cross-validation" in text
    for f in plan.families:
        assert f.pros and f.cons  # the rule planner says what each family is good and bad at
    assert any("240 rows" in c for f in plan.families for c in f.cons)


def test_the_machine_in_the_prompt_names_the_gpu_and_its_free_memory():
    hardware = {"cpu_count": 16, "ram_total_gb": 125.7, "ram_available_gb": 101.2,
                "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3",
                          "memory_total_mb": 81559.0, "memory_free_mb": 71680.0}]}
    assert hardware_summary(hardware).startswith(
        "16 CPU cores, 101.2 GB of 125.7 GB RAM free, GPU: NVIDIA H100 80GB HBM3 (70.0 of "
        "79.6 GB free).")
    assert "GPU: none." in hardware_summary({**hardware, "gpus": []})


def test_a_request_naming_another_column_is_not_contradicted_by_the_guess(customers):
    from modelyard.engine.planning.prompt import plan_messages

    _, profile = customers
    goal = "how much are the monthly charges"
    reading = read_goal(goal, profile)
    assert reading.target == "monthly_charges" and profile.target.column == "churn"
    user = plan_messages(profile, goal=goal, target=None, budget_seconds=60, hardware={},
                         sample_rows=[], reading=reading)[1]["content"]
    assert 'suggests the column "monthly_charges"' in user
    assert "The likely target from the column names" not in user
    # Without a request, the guess is said.
    user = plan_messages(profile, goal=None, target=None, budget_seconds=60, hardware={},
                         sample_rows=[])[1]["content"]
    assert 'The likely target from the column names is "churn"' in user
