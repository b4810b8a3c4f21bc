"""The Ollama planner through the real `ollama` client against a fake Ollama HTTP server:
every way a reply can go right or wrong ends in a stored plan whose provenance says what
happened and why."""

from __future__ import annotations

import json
import threading

import ollama
import pytest

from modelyard.engine.errors import PlanError
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.propose import propose
from modelyard.engine.training.families import Family
from modelyard.schemas import (
    ColumnKind,
    ColumnProfile,
    Metric,
    Plan,
    Profile,
    TargetGuess,
    Task,
)
from modelyard.storage import settings as settings_store
from modelyard.storage.plans import list_plans, read_plan
from tests.fake_ollama import Reply, draft, draft_json


@pytest.fixture
def customers(ws, messy_csv):
    """The messy customer table, ingested: its id for planning."""
    return ws.ingest(messy_csv)["id"]


@pytest.fixture
def served(fake_ollama, monkeypatch):
    """OLLAMA_HOST pointing at the fake server."""
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    return fake_ollama


def stored(ws, doc) -> dict:
    """The plan file on disk, which must be what was returned."""
    on_disk = read_plan(ws.home, doc["id"])
    assert on_disk == json.loads(json.dumps(doc, default=str))
    return on_disk


def test_a_valid_plan_from_the_model(ws, customers, served):
    served.script(draft_json(excluded_columns=["customer_id"]))
    doc = ws.propose_plan(customers, goal="which customers will leave", budget_seconds=60,
                          seed=7)
    plan = Plan.model_validate(doc["plan"])
    assert doc["planner"] == "ollama" and doc["approved"] is False
    assert (plan.target, plan.task, plan.metric) == ("churn", Task.binary, Metric.roc_auc)
    assert (plan.budget_seconds, plan.seed, plan.dataset_id) == (60, 7, customers)
    assert plan.excluded_columns == ["customer_id"]
    assert plan.goal == "which customers will leave"
    assert plan.goal_reading.startswith("You want to know")
    assert plan.reasons["metric"] == "It judges how well cases are ranked."
    assert [f.family for f in plan.families] == [Family.dummy, Family.lightgbm, Family.linear]
    assert plan.families[1].pros == ["accurate"] and plan.families[1].cons

    prov = stored(ws, doc)["provenance"]
    assert (prov["planner"], prov["model"], prov["fallback_reason"]) == (
        "ollama", "llama3.2:3b", None)
    assert prov["server_version"] == "0.12.6"
    assert prov["model_details"]["context_length"] == 131072
    assert prov["repairs"] == 0 and prov["validation_errors"] == []
    assert prov["raw_reply"] == draft_json(excluded_columns=["customer_id"])
    assert prov["latency_seconds"] >= prov["attempts"][0]["seconds"] >= 0
    # The fake counts a token per four characters of prompt and of reply.
    prompt_chars = sum(len(m["content"]) for m in prov["prompt"])
    assert prov["prompt_tokens"] == prompt_chars // 4
    assert prov["reply_tokens"] == len(prov["raw_reply"]) // 4

    (chat,) = served.chats()
    assert chat["model"] == "llama3.2:3b" and chat["stream"] is True
    # Room for the prompt (~4,900 characters) and three capped answers.
    assert chat["options"] == {"temperature": 0, "seed": 7, "num_predict": 1536,
                               "num_ctx": 8192}
    assert prov["options"] == chat["options"]
    schema_text = json.dumps(chat["format"])
    assert "$ref" not in schema_text and "anyOf" not in schema_text
    assert chat["format"]["properties"]["target"]["enum"] == [
        "customer_id", "tenure_months", "monthly_charges", "contract", "region", "churn"]
    user = chat["messages"][1]["content"]
    for needed in ("which customers will leave", '"monthly_charges"', "numeric (",
                   "looks like an identifier", "10001", "60 seconds", "CPU cores",
                   "GB RAM free"):
        assert needed in user, needed


def test_text_that_is_not_json_is_sent_back_and_repaired(ws, customers, served):
    served.script("Sure! Here is a great plan: use LightGBM.", draft_json())
    doc = ws.propose_plan(customers)
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "ollama"
    assert prov["repairs"] == 1
    (problems,) = prov["validation_errors"]
    assert "not JSON" in problems[0] and "Sure! Here is" in problems[0]
    first, second = served.chats()
    assert second["options"] == first["options"]  # one context size: no model reload
    repair = second["messages"]
    assert repair[-2] == {"role": "assistant",
                          "content": "Sure! Here is a great plan: use LightGBM."}
    assert repair[-1]["role"] == "user" and "not JSON" in repair[-1]["content"]


def test_json_that_breaks_the_schema_falls_back_after_the_repairs(ws, customers, served):
    # Nothing here has one obvious mend (tests/engine/test_mend.py: what has one).
    broken = json.dumps(draft(n_splits="a few"))
    served.script(broken, broken, broken)
    doc = ws.propose_plan(customers)
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "rules"
    assert Plan.model_validate(doc["plan"]).target == "churn"
    reason = prov["fallback_reason"]
    assert reason.startswith("The model “llama3.2:3b” gave no usable plan in 3 tries")
    assert reason.endswith("so the rule planner made this plan.")
    assert len(prov["attempts"]) == 3 and prov["repairs"] == 2
    assert any(p.startswith("n_splits: Input should be") and "a few" in p
               for p in prov["validation_errors"][0])
    assert prov["llm_error"]["kind"] == "invalid"
    assert len(served.chats()) == 3  # bounded: no fourth try


def test_a_target_with_no_close_column_is_sent_back_and_the_rest_mended(ws, customers,
                                                                        served):
    served.script(draft_json(target="what_we_want", excluded_columns=["ghost"]),
                  draft_json(excluded_columns=["ghost"]))
    doc = ws.propose_plan(customers)
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "ollama" and prov["repairs"] == 1
    problems = prov["validation_errors"][0]
    assert problems == ["target column 'what_we_want' does not exist"]
    assert "'what_we_want' does not exist" in served.chats()[1]["messages"][-1]["content"]
    # The unknown excluded column had one obvious mend (leave it out): never sent back.
    assert "ghost" not in served.chats()[1]["messages"][-1]["content"]
    assert prov["mends"] == ["\"ghost\" is not a column: it was not excluded."]
    assert prov["attempts"][0]["mends"] == prov["mends"]


def test_a_metric_that_does_not_fit_the_task_is_mended_without_asking_again(ws, customers,
                                                                            served):
    served.script(draft_json(metric="rmse"))
    doc = ws.propose_plan(customers)
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "ollama" and prov["repairs"] == 0
    assert prov["mends"] == ["The metric rmse does not fit a binary task: roc_auc is used."]
    assert Plan.model_validate(doc["plan"]).metric is Metric.roc_auc
    assert len(served.chats()) == 1


def test_a_reply_slower_than_the_timeout(ws, customers, served):
    settings_store.update(ws.home, ollama_timeout=0.5)
    served.script(Reply(draft_json(), delay=30))
    doc = ws.propose_plan(customers)
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "rules"
    assert prov["fallback_reason"] == ("The model “llama3.2:3b” did not answer within 0.5 s, "
                                       "so the rule planner made this plan.")
    assert prov["llm_error"]["kind"] == "timeout"
    # The stopped try is recorded, with its seconds and what it had written (nothing).
    (stopped,) = prov["attempts"]
    assert (stopped["raw"], stopped["done_reason"]) == ("", "timeout")
    assert 0.5 <= stopped["seconds"] < 5
    assert prov["validation_errors"] == []  # no reply came, so nothing was sent back


def test_the_server_down(ws, customers):
    # conftest points OLLAMA_HOST at a closed port.
    doc = ws.propose_plan(customers, goal="which customers will leave")
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "rules"
    assert prov["fallback_reason"] == ("Ollama is not reachable at http://127.0.0.1:9, so the "
                                       "rule planner made this plan.")
    assert prov["llm_error"]["kind"] == "unreachable"
    plan = Plan.model_validate(doc["plan"])
    assert plan.target == "churn"
    assert "“which customers will leave” as predicting the column “churn”" in plan.goal_reading


def test_an_unknown_model(ws, customers, served):
    doc = ws.propose_plan(customers, model="mistral:7b")
    prov = stored(ws, doc)["provenance"]
    assert doc["planner"] == "rules"
    assert prov["fallback_reason"].startswith("The model “mistral:7b” is not installed in "
                                              "Ollama (install it with `ollama pull "
                                              "mistral:7b`)")
    assert "404" in prov["llm_error"]["detail"]
    assert served.chats() == []


def test_an_unknown_model_at_chat_time_is_a_404_too(ws, customers, served):
    # A model removed between /api/show and /api/chat: the chat's own 404 is handled.
    served.script(Reply(status=404, error="model 'llama3.2:3b' not found"))
    doc = ws.propose_plan(customers)
    assert doc["planner"] == "rules"
    assert "is not installed in Ollama" in doc["provenance"]["fallback_reason"]


def test_the_ollama_planner_insists_on_a_model(ws, customers):
    with pytest.raises(PlanError, match="Ollama is not reachable") as info:
        ws.propose_plan(customers, planner="ollama")
    assert info.value.hint
    assert list_plans(ws.catalog, customers) == []  # nothing stored


def test_the_rules_planner_never_calls_the_server(ws, customers, served):
    doc = ws.propose_plan(customers, planner="rules")
    assert doc["planner"] == "rules" and doc["provenance"]["fallback_reason"] is None
    assert served.requests == []


@pytest.mark.parametrize(("remembered", "used"), [("qwen2.5:7b", "qwen2.5:7b"),
                                                  ("gone:1b", "llama3.2:3b")])
def test_the_remembered_model_if_installed_else_the_first(ws, customers, served, remembered,
                                                         used):
    settings_store.update(ws.home, ollama_model=remembered)
    served.script(draft_json())
    doc = ws.propose_plan(customers)
    assert doc["provenance"]["model"] == used
    assert served.chats()[0]["model"] == used


def test_the_environment_wins_over_the_saved_host(ws, customers, fake_ollama, monkeypatch):
    settings_store.update(ws.home, ollama_host=fake_ollama.url)
    # conftest points OLLAMA_HOST at a closed port: the variable wins over the file...
    doc = ws.propose_plan(customers)
    assert doc["planner"] == "rules" and "http://127.0.0.1:9" in doc["provenance"]["host"]
    # ...and without it the saved host wins over the default.
    monkeypatch.delenv("OLLAMA_HOST")
    fake_ollama.script(draft_json())
    assert ws.propose_plan(customers)["planner"] == "ollama"


def test_a_host_given_explicitly_wins_over_the_settings(ws, customers, fake_ollama):
    settings_store.update(ws.home, ollama_host="http://127.0.0.1:9")
    fake_ollama.script(draft_json())
    doc = ws.propose_plan(customers, host=fake_ollama.url.removeprefix("http://"))
    assert doc["planner"] == "ollama" and doc["provenance"]["host"] == fake_ollama.url


def test_a_reply_cut_off_at_the_token_cap_is_repaired(ws, customers, served):
    served.script(Reply(draft_json()[:200], done_reason="length"), draft_json())
    doc = ws.propose_plan(customers)
    prov = doc["provenance"]
    assert doc["planner"] == "ollama" and prov["repairs"] == 1
    assert prov["validation_errors"][0][0] == "the reply was cut off after 1536 tokens"
    assert "cut off" in served.chats()[1]["messages"][-1]["content"]


def test_a_server_error_and_a_server_too_old(ws, customers, served):
    served.script(Reply(status=500, error="out of memory"))
    doc = ws.propose_plan(customers)
    assert doc["provenance"]["fallback_reason"].startswith(
        "Ollama answered with an error (out of memory")
    served.version = "0.4.7"
    doc = ws.propose_plan(customers)
    assert doc["provenance"]["fallback_reason"] == (
        "Ollama 0.4.7 is too old for structured output (it needs 0.5 or newer), so the rule "
        "planner made this plan.")


def test_no_model_installed(ws, customers, served):
    served.models = []
    doc = ws.propose_plan(customers)
    assert doc["provenance"]["fallback_reason"].startswith("Ollama has no model installed")


def test_a_target_chosen_by_the_person_is_kept(ws, customers, served):
    served.script(draft_json())  # the model names churn, task binary
    doc = ws.propose_plan(customers, target="region")
    prov = doc["provenance"]
    # Mended, not asked again: the person's column, and the task that fits its values.
    assert doc["planner"] == "ollama" and prov["repairs"] == 0
    plan = Plan.model_validate(doc["plan"])
    assert (plan.target, plan.task.value) == ("region", "multiclass")
    assert prov["mends"][0] == ('The target is "region", the column you chose (the model '
                                'named "churn").')
    assert 'use the column "region"' in served.chats()[0]["messages"][1]["content"]


def test_progress_is_reported_and_a_cancel_falls_back(ws, customers, served):
    served.script(Reply(draft_json(), delay=30))
    cancel = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p)
        if p.phase == "waiting":
            cancel.set()  # as a Stop button would, from the page

    doc = ws.propose_plan(customers, on_progress=on_progress, cancel_event=cancel)
    assert seen[0].phase == "connecting" and seen[-1].phase == "waiting"
    assert seen[-1].model == "llama3.2:3b" and "waiting for llama3.2:3b" in seen[-1].line()
    assert doc["planner"] == "rules"
    assert doc["provenance"]["fallback_reason"] == ("You stopped the language model, so the "
                                                    "rule planner made this plan.")


def test_the_fake_also_answers_without_streaming(served):
    """The fake's non-streamed /api/chat, through the client (as `ollama.chat` calls it)."""
    served.script(draft_json())
    reply = ollama.Client(host=served.url, timeout=5).chat(
        model="llama3.2:3b", messages=[{"role": "user", "content": "plan"}], stream=False)
    assert json.loads(reply.message.content)["target"] == "churn"
    assert reply.done and reply.eval_count == len(draft_json()) // 4


def test_image_data_sets_are_planned_by_rules(fake_ollama):
    profile = Profile(n_rows=90, n_cols=2, modality="image", columns=[
        ColumnProfile(name="path", dtype="String", kind=ColumnKind.image, n_missing=0,
                      missing_share=0.0, n_distinct=90),
        ColumnProfile(name="label", dtype="String", kind=ColumnKind.categorical, n_missing=0,
                      missing_share=0.0, n_distinct=3)],
        target=TargetGuess(column="label", task=Task.multiclass, confidence=1.0,
                           reason="the folder names"))
    proposal = propose(profile, "ds_img", host=fake_ollama.url, hardware={})
    assert (proposal.planner, proposal.plan.families[0].family) == ("rules", Family.resnet18)
    # Expected, not a fallback: a note says why, and nothing reads as a warning.
    assert proposal.fallback_reason is None
    assert proposal.provenance["planner_note"].startswith("Image plans come from the image "
                                                          "rules")
    assert plan_problems(proposal.plan, profile) == []
    with pytest.raises(PlanError, match="plans tables, not image data sets"):
        propose(profile, "ds_img", planner="ollama", host=fake_ollama.url)
    assert fake_ollama.requests == []
