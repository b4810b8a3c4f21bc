"""`modelyard plan` and `modelyard run` with the planner options, as a person runs them:
real subprocesses, the real ollama client, a fake Ollama server."""

from __future__ import annotations

import os

import pytest

from modelyard.schemas import Plan
from tests.app.test_cli import as_json, cli, cli_many, one_line_error
from tests.fake_ollama import draft_json

DOWN = "Ollama is not reachable at http://127.0.0.1:9, so the rule planner made this plan."


@pytest.fixture
def dataset(messy_csv):
    return as_json(cli("ingest", messy_csv, "--json"))["id"]


def test_plan_json_from_the_model(dataset, fake_ollama):
    fake_ollama.script(draft_json(excluded_columns=["customer_id"]))
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url}
    result = cli("plan", dataset, "--goal", "which customers will leave", "--budget", "60",
                 "--json", env=env)
    doc = as_json(result)
    assert (doc["planner"], doc["model"], doc["fallback_reason"]) == (
        "ollama", "llama3.2:3b", None)
    assert doc["repairs"] == 0 and doc["latency_seconds"] >= 0
    plan = Plan.model_validate(doc["plan"])
    assert (plan.target, plan.budget_seconds, plan.goal) == (
        "churn", 60, "which customers will leave")
    assert result.stderr == ""
    assert "which customers will leave" in fake_ollama.chats()[0]["messages"][1]["content"]


def test_plan_without_ollama_warns_and_succeeds(dataset):
    auto, rules, insist = cli_many(("plan", dataset, "--json"),
                                   ("plan", dataset, "--planner", "rules", "--json"),
                                   ("plan", dataset, "--planner", "ollama", "--json"))
    doc = as_json(auto)
    assert (doc["planner"], doc["model"], doc["fallback_reason"]) == ("rules", None, DOWN)
    assert auto.stderr == f"modelyard: warning: {DOWN}\n"
    assert as_json(rules)["fallback_reason"] is None and rules.stderr == ""
    one_line_error(insist, 2, "Ollama is not reachable at http://127.0.0.1:9",
                   "use the auto or rules planner")


def test_plan_host_and_model_flags_and_the_text_card(dataset, fake_ollama):
    fake_ollama.script(draft_json())
    result = cli("plan", dataset, "--ollama-host", fake_ollama.url.removeprefix("http://"),
                 "--model", "qwen2.5:7b")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.endswith("(version 1), proposed by the language model qwen2.5:7b")
    assert "What to predict: churn" in result.stdout
    assert "How models are scored: ROC AUC" in result.stdout
    assert "  - LightGBM (lightgbm, up to 30 trials): Strong on tables." in result.stdout
    assert fake_ollama.chats()[0]["model"] == "qwen2.5:7b"


def test_run_accepts_the_planner_options(messy_csv, modelyard_home):
    insist, bad = cli_many(("run", messy_csv, "--planner", "ollama", "--budget", "5"),
                           ("run", messy_csv, "--planner", "oracle"))
    one_line_error(insist, 2, "Ollama is not reachable")
    assert list((modelyard_home / "runs").iterdir()) == []  # nothing was trained
    assert bad.returncode == 2 and "invalid choice: 'oracle'" in bad.stderr
