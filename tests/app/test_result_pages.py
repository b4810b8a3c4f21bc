"""The Leaderboard, Model, Predict and Manage pages through AppTest, on a copy of the shared
trained Run (tests/results_run.py); and their empty states."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.app.conftest import MAIN, REPO
from tests.app.test_pages import shown, texts
from tests.results_run import copy_home, shared_run

PAGES = "../pages"


def table_with(at, *columns: str) -> pd.DataFrame:
    for frame in at.dataframe:
        if all(c in frame.value.columns for c in columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


def downloads(at) -> list:
    return list(at.get("download_button"))


# -- empty ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["model", "predict"])
def test_result_pages_without_runs(app, page):
    app.switch_page(f"{PAGES}/{page}.py").run()
    assert not app.exception
    assert "No finished run yet" in texts(app.info)


def test_manage_page_without_data(app):
    app.switch_page(f"{PAGES}/manage.py").run()
    assert not app.exception
    assert "No data sets." in texts(app.info)


# -- with a trained run --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


@pytest.fixture
def at(trained, tmp_path, monkeypatch):
    """The app over a copy of the trained home, with a second Run copied from the first."""
    from streamlit.testing.v1 import AppTest

    home = copy_home(trained.home, tmp_path / "home")
    twin = home / "runs" / "run_twin0001"
    shutil.copytree(home / "runs" / trained.run_id, twin)
    record = json.loads((twin / "run.json").read_text())
    record.update(id="run_twin0001", name="the twin run", created_at=record["created_at"] - 60)
    (twin / "run.json").write_text(json.dumps(record))
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=120)
    app.run()
    assert not app.exception
    app.session_state["run_id"] = trained.run_id
    return app


def _copy_run(home: Path, source: str, new_id: str, **changes) -> None:
    dest = home / "runs" / new_id
    shutil.copytree(home / "runs" / source, dest)
    record = json.loads((dest / "run.json").read_text())
    record.update(id=new_id, **changes)
    (dest / "run.json").write_text(json.dumps(record))


def journal_counts(run_dir: Path) -> tuple[int, int, int]:
    """(trials, complete ones, models ranked) read straight from a Run's journal, apart
    from the code under test: every trial record but the blend's and the stack's, the
    last record of a model winning; the ranking holds the complete ones and a chosen
    blend or stack."""
    latest = {}
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] == "trial":
            latest[event["model"]] = event
    singles = [e for e in latest.values() if e["family"] not in ("ensemble", "stack")]
    complete = sum(e["state"] == "complete" for e in singles)
    return len(singles), complete, sum(e["state"] == "complete" for e in latest.values())


@pytest.fixture
def at_two(trained, tmp_path, monkeypatch):
    """The app over a copy of the trained home plus a newer run on another data set."""
    from streamlit.testing.v1 import AppTest

    home = copy_home(trained.home, tmp_path / "home")
    source = next(p for p in (home / "datasets").iterdir() if p.is_dir())
    other = home / "datasets" / "ds_other0001"
    shutil.copytree(source, other)
    meta = json.loads((other / "dataset.json").read_text())
    meta.update(id="ds_other0001", name="other data", content_hash="other")
    (other / "dataset.json").write_text(json.dumps(meta))
    record = json.loads((home / "runs" / trained.run_id / "run.json").read_text())
    _copy_run(home, trained.run_id, "run_other001", name="other run",
              dataset_id="ds_other0001", created_at=record["created_at"] + 60)
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    app = AppTest.from_file(str(MAIN), default_timeout=120)
    app.run()
    assert not app.exception
    return app


@pytest.mark.slow
def test_leaderboard_ranks_the_models_of_one_data_set(at_two, trained):
    at = at_two
    # Coming from a run: its data set, and nothing of the other one in the ranking.
    at.session_state["run_id"] = trained.run_id
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at.exception and not at.error, texts(at.error)
    picker = at.selectbox(key="leaderboard_dataset")
    assert picker.value != "ds_other0001" and len(picker.options) == 2
    best = table_with(at, "place", "run_name", "cv_score")
    assert list(best["run_name"]) == ["train #1"] and list(best["place"]) == [1]
    # One run in this data set: the trials table holds its ranked models only.
    ranked = journal_counts(trained.home / "runs" / trained.run_id)[2]
    assert len(table_with(at, "rank", "state", "model")) == ranked
    assert "ranked by log loss (lower is better): 1 run" in texts(at.caption)
    # The other data set: listed apart with its best model, not ranked against this one.
    others = table_with(at, "Data set", "Best model")
    assert list(others["Data set"]) == ["other data"]
    assert "not ranked against each other" in texts(at.caption)
    # Picking it ranks its own runs only.
    picker.select("ds_other0001").run()
    assert not at.exception and not at.error, texts(at.error)
    assert list(table_with(at, "place", "run_name", "cv_score")["run_name"]) == ["other run"]
    for view in ["Best so far", "Per family", "Score vs time"]:
        at.segmented_control(key="leaderboard_view").set_value(view).run()
        assert not at.exception and not at.error, (view, texts(at.error))


@pytest.mark.slow
def test_leaderboard_starts_at_the_newest_runs_data_set(at_two):
    at_two.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at_two.exception
    assert at_two.selectbox(key="leaderboard_dataset").value == "ds_other0001"
    assert "1 run" in at_two.selectbox(key="leaderboard_dataset").options[0]  # not "1 runs"


@pytest.mark.slow
def test_runs_leaderboard_model_and_cli_count_the_same_trials(at, trained):
    trials, complete, _ = journal_counts(trained.home / "runs" / trained.run_id)
    assert trials >= complete >= 2
    said = f"{trials} trials"
    # Runs: the run's message (the worker's) says it, and no caption says it again.
    at.switch_page(f"{PAGES}/runs.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.selectbox(key="runs_pick").value == trained.run_id
    assert f"after {said}" in texts(at.success)
    assert said not in texts(at.caption)
    runs_table = table_with(at, "model", "state")
    assert (~runs_table["model"].isin(["ensemble", "stack"])).sum() == trials
    # Leaderboard: the Trials column of the run's best model; the state filter's words.
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at.exception and not at.error, texts(at.error)
    best = table_with(at, "place", "run_name", "trials").set_index("run_name")
    assert best.loc["train #1", "trials"] == trials
    assert f"({said}" in texts(at.caption)
    # Model: the Trials metric, with what it holds on hover.
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception and not at.error, texts(at.error)
    metric = next(m for m in at.metric if m.label == "Trials")
    assert metric.value == str(trials) and metric.help.startswith(said)
    assert f"{complete} complete" in metric.help or (
        complete == trials and "all complete" in metric.help)


@pytest.mark.slow
def test_leaderboard_ranks_tests_and_charts(at, trained):
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not at.exception and not at.error, texts(at.error)
    best = table_with(at, "run_name", "cv_score")
    assert len(best) == 2 and set(best["run_name"]) == {"the twin run", "train #1"}
    assert set(best["versus"]) <= {"reliably better", "within noise"}
    assert "beats" in texts(at.caption)
    trials = table_with(at, "rank", "state", "predict_seconds")
    assert set(trials["state"]) == {"complete"}
    for view in ["Best so far", "Search history", "Settings that mattered",
                 "Parallel coordinates", "Score vs time", "Per family"]:
        at.segmented_control(key="leaderboard_view").set_value(view).run()
        assert not at.exception and not at.error, (view, texts(at.error))
        assert at.get("plotly_chart") or "complete trials to learn from" in texts(at.info), view
    at.segmented_control(key="leaderboard_view").set_value("Compare two runs").run()
    assert not at.exception and not at.error, texts(at.error)
    assert "The two plans make the same decisions." in texts(at.markdown)
    assert "Winners fold by fold" in texts(at.markdown)  # same data, validation and seed


@pytest.mark.slow
def test_leaderboard_filters_and_groups(at):
    at.switch_page(f"{PAGES}/leaderboard.py").run()
    at.multiselect(key="leaderboard_families").set_value(["linear"]).run()
    assert not at.exception
    # Families by their names for people.
    assert set(table_with(at, "rank", "state", "family")["family"]) == {"Linear model"}
    assert set(table_with(at, "run_name", "cv_score")["family"]) == {"Linear model"}
    at.multiselect(key="leaderboard_states").set_value([]).run()  # every state
    at.toggle(key="leaderboard_group").set_value(True).run()
    assert not at.exception
    grouped = table_with(at, "family", "complete", "stopped_early")
    assert set(grouped["family"]) == {"Linear model"} and len(grouped) == 2  # one per run


@pytest.mark.slow
def test_model_page_diagnostics_report_and_export(at, trained):
    at.switch_page(f"{PAGES}/model.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.selectbox(key="model_run").value == trained.run_id
    labels = [m.label for m in at.metric]
    assert labels == ["Best model", "CV log loss", "± across folds", "Trials",
                      "Rows validated"]
    assert at.metric[4].value == "140"
    assert len(at.get("plotly_chart")) >= 4  # confusion, ROC, PR, calibration (+ features)
    at.button(key="model_permute").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Measured on the training rows" in texts(at.caption)
    at.number_input(key="model_row").set_value(5).run()
    assert not at.exception
    at.selectbox(key="model_row_class").select("cultivar_2").run()
    assert not at.exception and not at.error, texts(at.error)
    trials = table_with(at, "model", "state", "params")
    assert len(trials) >= 1
    at.button(key="model_report_build").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert {d.label for d in downloads(at)} >= {"Download the report (HTML)",
                                                "Download the report (Markdown)"}
    at.button(key="model_export").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Download the bundle (zip)" in {d.label for d in downloads(at)}
    assert f"runs/{trained.run_id}/results/bundle/" in texts(at.caption)


@pytest.mark.slow
def test_predict_page_checks_predicts_and_offers_the_file(at, trained, tmp_path):
    at.switch_page(f"{PAGES}/predict.py").run()
    assert not at.exception
    at.radio(key="predict_how").set_value("A file on this computer").run()
    at.text_input(key="predict_path").input(str(trained.test)).run()
    assert "test.csv: 38 rows; every column the model uses is there" in texts(at.success)
    at.button(key="predict_go").click().run()
    assert not at.exception and not at.error, texts(at.error)
    preview = table_with(at, "lot_code", "proba_cultivar_1")
    assert len(preview) == 38
    assert "Download predictions (CSV)" in {d.label for d in downloads(at)}
    saved = Path(at.session_state["predict_output"])
    expected = pd.read_csv(trained.out / "predictions.csv")
    pd.testing.assert_frame_equal(pd.read_csv(saved), expected)

    odd = pd.read_csv(trained.test).drop(columns=["hue"])
    odd.to_csv(tmp_path / "odd.csv", index=False)
    at.text_input(key="predict_path").input(str(tmp_path / "odd.csv")).run()
    assert "Some columns differ from the training data" in texts(at.warning)
    check = table_with(at, "column", "problem", "what will happen")
    assert check.set_index("column").loc["hue", "problem"] == "missing"


@pytest.mark.slow
def test_predict_page_what_if_and_submission(at, trained):
    at.switch_page(f"{PAGES}/predict.py").run()
    at.button(key="FormSubmitter:predict_what_if-Predict this row").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.metric[0].label == "Predicted cultivar"
    assert shown(at.metric[0].value) in {"cultivar_1", "cultivar_2", "cultivar_3"}
    assert "Upload the competition's sample_submission.csv." in texts(at.info)
    at.file_uploader(key="predict_sample_upload").upload(
        "sample_submission.csv", trained.sample.read_bytes(), "text/csv")
    at.run()
    at.button(key="predict_submission_go").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Checked: the same columns and rows as the sample" in texts(at.success)
    assert "Download submission.csv" in {d.label for d in downloads(at)}
    made = Path(at.session_state["predict_submission"][0])
    assert made.read_text() == (trained.out / "submission.csv").read_text()


@pytest.mark.slow
def test_manage_page_renames_and_deletes_with_dependents_named(at, trained):
    at.switch_page(f"{PAGES}/manage.py").run()
    assert not at.exception
    runs = table_with(at, "run", "checkpoints")
    assert set(runs["run"]) == {"train #1", "the twin run"}
    at.selectbox(key="manage_pick").select(("run", "run_twin0001")).run()
    at.text_input(key="manage_name_run_twin0001").input("wine twin").run()
    at.button(key="manage_rename").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "wine twin" in set(table_with(at, "run", "checkpoints")["run"])
    dataset = next(o for o in at.selectbox(key="manage_pick").options
                   if o.startswith("Data set"))
    at.selectbox(key="manage_pick").select(("dataset", _ident(dataset))).run()
    warning = texts(at.warning)
    assert "2 runs use this data set" in warning and "wine twin" in warning
    assert at.button(key="manage_delete").disabled  # not before the box is ticked
    box = next(c for c in at.checkbox if c.key.startswith("manage_sure_"))
    box.check().run()
    at.button(key="manage_delete").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "No data sets." in texts(at.info) and "No runs." in texts(at.info)


def _ident(option_label: str) -> str:
    return option_label.rsplit("(", 1)[1].rstrip(")")
