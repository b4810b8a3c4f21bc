"""The Plan page with a language model (a fake Ollama server) and without, and the
Settings page, through Streamlit's AppTest running the real app."""

from __future__ import annotations

import json

import pytest

from modelyard.app.workspace import Workspace
from modelyard.schemas import Plan
from modelyard.storage.paths import Home
from tests.app.test_pages import PAGES, add_dataset, metric, texts
from tests.engine.test_review import make_run
from tests.fake_ollama import draft_json


@pytest.fixture
def served(fake_ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    return fake_ollama


def propose(at, goal: str = "") -> None:
    at.switch_page(f"{PAGES}/plan.py").run()
    assert not at.exception
    if goal:
        at.text_input(key="plan_goal").input(goal)
    at.number_input(key="plan_budget").set_value(30)
    at.button(key="plan_propose").click().run()
    assert not at.exception


def markdown(at) -> str:
    return texts(at.markdown)


def test_a_plan_from_the_language_model(app, served, tmp_path):
    add_dataset(app, tmp_path)
    served.script(draft_json(target="target"))
    propose(app, "will the customer say yes")
    assert not app.error, texts(app.error)
    assert metric(app, "Target") == "target" and metric(app, "Budget") == "30 s"
    label = app.selectbox(key="plan_version").format_func(
        app.selectbox(key="plan_version").value)
    assert label.startswith("v1 · proposed by llama3.2:3b")
    assert "Proposed by the language model llama3.2:3b in" in texts(app.caption)
    shown = markdown(app)
    assert "**You asked:** will the customer say yes" in shown
    assert "**How models are scored:** ROC AUC" in shown
    # The model's words are plain text (st.text), never Markdown.
    said = texts(app.text)
    assert "You want to know the value of “target”" in said
    assert "**How the planner read it**" in shown
    assert "Why: It judges how well cases are ranked." in said  # the model's reason
    assert "+ accurate" in said and "− harder to explain" in said
    assert "It judges how well cases are ranked." not in shown
    assert [e.label for e in app.expander][-1] == "How this plan was made"
    assert "will the customer say yes" in served.chats()[0]["messages"][1]["content"]

    # One click approves the proposed plan and starts its run.
    assert app.button(key="plan_approve").label == "Approve and launch"
    app.button(key="plan_approve").click().run()
    assert not app.exception and not app.error, texts(app.error)
    assert app.title[0].value.endswith("Runs")


def test_the_mends_of_a_models_reply_are_said_on_the_page(app, served, tmp_path):
    add_dataset(app, tmp_path)
    served.script(draft_json(target="Target", metric="rmse",
                             families=["lightgbm", "lightgbm", "linear", "dummy"]))
    propose(app, "will the customer say yes")
    assert not app.error, texts(app.error)
    assert len(served.chats()) == 1  # mended, not asked again
    assert metric(app, "Target") == "target"
    caption = texts(app.caption)
    assert "(1 try; 3 mends made in code)." in caption
    assert "What was mended in the model's reply (3)" in [e.label for e in app.expander]
    said = texts(app.text)
    assert '• The target "Target" was read as the column "target".' in said
    assert "• The metric rmse does not fit a binary task: roc_auc is used." in said
    assert "• “lightgbm” was named more than once: it is used once." in said


def test_without_ollama_the_page_says_why_the_rules_planned(app, tmp_path):
    add_dataset(app, tmp_path)
    propose(app, "will the customer say yes")
    assert not app.error, texts(app.error)
    assert ("Ollama is not reachable at http://127.0.0.1:9, so the rule planner made this "
            "plan.") in texts(app.warning)
    assert "Technical detail" in [e.label for e in app.expander]
    assert metric(app, "Target") == "target"
    assert "v1 · proposed by rules" in app.selectbox(key="plan_version").format_func(
        app.selectbox(key="plan_version").value)


def test_form_edits_are_diffed_and_approved_as_a_new_version(app, app_home, tmp_path):
    add_dataset(app, tmp_path)
    propose(app)
    doc_id = app.selectbox(key="plan_version").value
    # Words, not identifiers: the choices read as a person says them.
    task = app.selectbox(key=f"plan_f_task_{doc_id}_3")
    assert task.value == "binary" and task.format_func(task.value) == "Yes or no (two classes)"
    metric_box = app.selectbox(key=f"plan_f_metric_{doc_id}_binary")
    assert metric_box.options == ["ROC AUC", "Log loss", "Accuracy", "F1 (macro)"]
    kind = app.selectbox(key=f"plan_f_vkind_{doc_id}")
    assert kind.format_func(kind.value) == "Folds keeping the class balance"
    assert app.button(key="plan_approve_form").disabled  # nothing changed yet
    metric_box.select("accuracy").run()
    app.number_input(key=f"plan_f_trials_svm_{doc_id}").set_value(0).run()
    assert "• Metric: ROC AUC → Accuracy\n• Left out Support-vector machine" in texts(app.text)
    app.button(key="plan_approve_form").click().run()
    assert not app.exception and not app.error, texts(app.error)
    assert "Approved as version 2. Launch it when you are ready." in texts(app.success)
    # In the same run of the page: the new version is the one selected and shown, and
    # the one action left is to launch it.
    label = app.selectbox(key="plan_version").format_func(app.selectbox(key="plan_version")
                                                          .value)
    assert label.startswith("v2 · edited and approved by you")
    assert app.button(key="plan_launch").label == "Launch"
    assert not [b for b in app.button if b.key == "plan_approve"]
    assert metric(app, "Metric") == "Accuracy"
    assert ("**Your changes from version 1**" in markdown(app))
    docs = [json.loads(p.read_text()) for p in (app_home / "plans").glob("*.json")]
    approved = next(d for d in docs if d["version"] == 2)
    assert (approved["planner"], approved["approved"]) == ("person", True)
    assert approved["provenance"]["edits"] == ["metric: roc_auc → accuracy", "families: − svm"]


def test_the_form_shows_only_the_controls_that_apply(app, tmp_path):
    add_dataset(app, tmp_path)
    propose(app)
    doc_id = app.selectbox(key="plan_version").value
    keys = lambda: {w.key for w in app.slider}  # noqa: E731
    assert f"plan_f_folds_{doc_id}" in keys() and f"plan_f_holdout_{doc_id}" not in keys()
    app.selectbox(key=f"plan_f_vkind_{doc_id}").select("holdout").run()
    assert f"plan_f_holdout_{doc_id}" in keys() and f"plan_f_folds_{doc_id}" not in keys()
    assert app.slider(key=f"plan_f_holdout_{doc_id}").value == 20
    app.slider(key=f"plan_f_holdout_{doc_id}").set_value(30).run()
    assert "• How scores are checked: 5 folds, class balance kept → 30% held out" in \
        texts(app.text)
    # A numeric target brings its own kind of problem, and that its own metrics.
    app.selectbox(key=f"plan_f_target_{doc_id}").select("charges").run()
    task = app.selectbox(key=f"plan_f_task_{doc_id}_1")
    assert task.value == "regression"
    assert app.selectbox(key=f"plan_f_metric_{doc_id}_regression").value == "rmse"
    assert not app.exception


def test_the_json_editor_shows_edits_and_problems_as_you_type(app, tmp_path):
    add_dataset(app, tmp_path)
    propose(app)
    plan = json.loads(app.text_area[0].value)
    plan["metric"] = "accuracy"
    app.text_area[0].input(json.dumps(plan)).run()
    assert "• Metric: ROC AUC → Accuracy" in texts(app.text)
    assert not app.error
    plan["excluded_columns"] = ["ghost"]
    app.text_area[0].input(json.dumps(plan)).run()
    assert "excluded columns do not exist: 'ghost'" in texts(app.error)
    assert app.button(key="plan_approve_json").disabled


def test_review_results_stores_a_revised_version(app, app_home, tmp_path):
    add_dataset(app, tmp_path)
    ws = Workspace(Home.from_env())
    dataset_id = ws.catalog.query("SELECT id FROM datasets")[0]["id"]
    plan = Plan.model_validate(ws.propose_plan(dataset_id, planner="rules",
                                               budget_seconds=20)["plan"])
    run_id = make_run(ws, plan, [("dummy", "complete", 0.5, 0.0),
                                 ("svm", "failed", None, None),
                                 ("linear", "complete", 0.7, 0.02)], elapsed=19)
    app.switch_page(f"{PAGES}/plan.py").run()
    assert app.selectbox(key="plan_review_run").value == run_id
    app.button(key="plan_review").click().run()
    assert not app.exception and not app.error, texts(app.error)
    shown = markdown(app)
    assert f"**Why this version:** the review of run `{run_id}` found" in shown
    assert "Every Support-vector machine trial failed (1 of 1)" in shown
    # What changed may end with a model's "Why: ...": plain text.
    assert "• Left out Support-vector machine: every trial of it failed." in texts(app.text)
    assert app.selectbox(key="plan_version").format_func(
        app.selectbox(key="plan_version").value).startswith("v3 · proposed by rules")


def test_settings_show_the_server_and_remember_the_model(app, app_home, served, tmp_path):
    app.switch_page(f"{PAGES}/settings.py").run()
    assert not app.exception
    assert (f"Ollama 0.12.6 answers at {served.url}: 2 models installed."
            in texts(app.success))
    model = app.selectbox(key="settings_model")
    assert model.options == ["llama3.2:3b · 3.2B · Q4_K_M · 2.02 GB",
                             "qwen2.5:7b · 3.2B · Q4_K_M · 2.02 GB"]
    model.select_index(1)
    app.radio(key="settings_planner").set_value("rules")
    app.button(key="settings_save").click().run()
    assert "Saved." in texts(app.success)
    saved = json.loads((app_home / "settings.json").read_text())
    # The address came from OLLAMA_HOST and was not changed: it is not pinned.
    assert saved == {"planner": "rules", "ollama_timeout": 120, "ollama_model": "qwen2.5:7b"}

    add_dataset(app, tmp_path)
    app.switch_page(f"{PAGES}/plan.py").run()
    assert app.radio(key="plan_planner").value == "rules"
    assert "model qwen2.5:7b" not in texts(app.caption)  # rules only: no model to name


def test_settings_without_ollama_then_a_saved_address(app, app_home, fake_ollama, tmp_path,
                                                      monkeypatch):
    app.switch_page(f"{PAGES}/settings.py").run()
    assert ("Ollama does not answer at http://127.0.0.1:9. Plans will come from the rule "
            "planner until it does") in texts(app.warning)
    assert not [s for s in app.selectbox if s.key == "settings_model"]

    app.text_input(key="settings_host").input(fake_ollama.url).run()
    assert "2 models installed" in texts(app.success)
    app.button(key="settings_save").click().run()
    saved = json.loads((app_home / "settings.json").read_text())
    assert (saved["ollama_host"], saved["ollama_model"]) == (fake_ollama.url, "llama3.2:3b")

    # While OLLAMA_HOST is set it wins over the saved address (flag, environment, file,
    # default); once it is unset, the Plan page asks the saved address.
    monkeypatch.delenv("OLLAMA_HOST")
    add_dataset(app, tmp_path)
    fake_ollama.script(draft_json(target="target"))
    propose(app)
    assert not app.warning, texts(app.warning)
    assert "Proposed by the language model llama3.2:3b" in texts(app.caption)

    app.switch_page(f"{PAGES}/settings.py").run()
    app.button(key="settings_reset").click().run()
    assert json.loads((app_home / "settings.json").read_text()) == {}


def test_form_group_split_needs_its_column(app, tmp_path):
    add_dataset(app, tmp_path)
    propose(app)
    doc_id = app.selectbox(key="plan_version").value
    app.selectbox(key=f"plan_f_vkind_{doc_id}").select("group_kfold").run()
    assert "Choose the column whose rows stay together." in texts(app.error)
    assert app.button(key="plan_approve_form").disabled
    app.selectbox(key=f"plan_f_splitcol_{doc_id}").select("contract").run()
    assert not app.error, texts(app.error)
    app.button(key="plan_approve_form").click().run()
    assert not app.error, texts(app.error)
    assert "Approved as version 2." in texts(app.success)
    assert ("• How scores are checked: 5 folds, class balance kept → 5 folds, “contract” "
            "groups kept together") in texts(app.text)


def test_settings_for_training_reach_the_worker_launch(app, app_home, monkeypatch):
    from modelyard.engine import jobs

    monkeypatch.delenv("MODELYARD_MAX_PARALLEL_RUNS", raising=False)
    monkeypatch.delenv("MODELYARD_MEMORY_LIMIT_GB", raising=False)
    app.switch_page(f"{PAGES}/settings.py").run()
    assert not app.exception
    assert app.number_input(key="settings_parallel").value == jobs.default_parallel_runs()
    assert app.number_input(key="settings_memory").value == 0.0
    app.number_input(key="settings_memory").set_value(3.0)
    app.button(key="settings_save").click().run()
    saved = json.loads((app_home / "settings.json").read_text())
    # The default number of runs is not pinned; the memory limit is.
    assert "max_parallel_runs" not in saved and saved["memory_limit_gb"] == 3.0
    home = Home(app_home)
    assert jobs.memory_limit_gb(home) == 3.0
    # The variable wins over the setting.
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", "1.5")
    assert jobs.memory_limit_gb(home) == 1.5

    app.switch_page(f"{PAGES}/settings.py").run()
    app.button(key="settings_reset").click().run()
    assert "memory_limit_gb" not in json.loads((app_home / "settings.json").read_text())
