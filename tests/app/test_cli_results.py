"""`modelyard predict / export / report / submission / rename / delete / du / clean` as a
person runs them, on the shared trained Run (tests/results_run.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.results_run import copy_home, same_predictions, shared_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def cli(*args, env, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def one_line_error(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelyard: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


def test_predict_with_a_run_and_with_its_exported_zip(trained, tmp_path):
    env = trained.env
    by_run = cli("predict", trained.run_id, trained.test, "--out", tmp_path / "a.csv", env=env)
    assert by_run.returncode == 0, by_run.stderr
    assert by_run.stdout.strip() == f"{tmp_path / 'a.csv'}: 38 rows"
    exported = cli("export", trained.run_id, "--out", tmp_path / "bundle", env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.split() == [str(tmp_path / "bundle"), str(tmp_path / "bundle.zip")]
    by_zip = cli("predict", tmp_path / "bundle.zip", trained.test, "--out",
                 tmp_path / "b.parquet", "--json", env=env)
    doc = json.loads(by_zip.stdout)
    assert doc["rows"] == 38 and doc["issues"] == []
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_parquet(tmp_path / "b.parquet")
    assert same_predictions(a, b)
    assert list(a.columns) == ["lot_code", "cultivar", "proba_cultivar_1", "proba_cultivar_2",
                               "proba_cultivar_3"]
    assert same_predictions(a, pd.read_csv(trained.out / "predictions.csv"))


def test_predict_names_column_problems_and_strict_refuses(trained, tmp_path):
    rows = pd.read_csv(trained.test).drop(columns=["hue"])
    rows["proline"] = rows["proline"].astype(str)
    rows.loc[0, "proline"] = "n/a?"
    rows.to_csv(tmp_path / "odd.csv", index=False)
    loose = cli("predict", trained.run_id, tmp_path / "odd.csv", "--out", tmp_path / "p.csv",
                env=trained.env)
    assert loose.returncode == 0, loose.stderr
    assert "modelyard: note: hue: the model uses this column; the file lacks it → treated " \
           "as unknown in every row" in loose.stderr
    assert "proline: numbers expected; 1 value(s) are not numbers" in loose.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 38
    strict = cli("predict", trained.run_id, tmp_path / "odd.csv", "--out", tmp_path / "q.csv",
                 "--strict", env=trained.env)
    assert strict.returncode == 2 and "2 column problems" in strict.stderr
    assert not (tmp_path / "q.csv").exists()


def test_bad_arguments_are_one_line_errors(trained, tmp_path):
    env = trained.env
    one_line_error(cli("predict", "run_nope", trained.test, "--out", tmp_path / "x.csv",
                       env=env), 2, "There is no run “run_nope”")
    one_line_error(cli("predict", trained.run_id, tmp_path / "none.csv", "--out",
                       tmp_path / "x.csv", env=env), 2, "no such file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    one_line_error(cli("export", trained.run_id, "--out", tmp_path / "full", env=env), 2,
                   "already exists and is not empty")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    one_line_error(cli("submission", trained.run_id, "--sample", tmp_path / "none.csv",
                       "--out", tmp_path / "s.csv", env=env), 2, "no such file")


def test_report_as_html_and_markdown(trained, tmp_path):
    html = cli("report", trained.run_id, "--out", tmp_path / "r.html", env=trained.env)
    md = cli("report", trained.run_id, "--out", tmp_path / "r.md", env=trained.env)
    assert html.returncode == md.returncode == 0, html.stderr + md.stderr
    page = (tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page
    text = (tmp_path / "r.md").read_text()
    assert text.splitlines()[0].endswith(": predicting cultivar")
    assert "## Model card: intended use and limitations" in text


def test_submission_command_matches_the_runs_submission(trained, tmp_path):
    made = cli("submission", trained.run_id, "--sample", trained.sample, "--out",
               tmp_path / "s.csv", env=trained.env)
    assert made.returncode == 0, made.stderr
    assert "38 rows, checked against the test file" in made.stdout
    assert (tmp_path / "s.csv").read_text() == (trained.out / "submission.csv").read_text()


def test_run_refuses_an_unreadable_sample_before_training(trained, tmp_path):
    (tmp_path / "s.csv").write_text("just_one_column\n1\n")
    result = cli("run", trained.train, "--target", "cultivar", "--test", trained.test,
                 "--sample-submission", tmp_path / "s.csv", "--budget", "5",
                 env={**trained.env, "MODELYARD_HOME": str(tmp_path / "home")})
    one_line_error(result, 2, "needs an id column")
    assert list((tmp_path / "home" / "datasets").iterdir()) == []  # failed before intake
    no_test = cli("run", trained.train, "--target", "cultivar", "--sample-submission",
                  trained.sample, "--budget", "5",
                  env={**trained.env, "MODELYARD_HOME": str(tmp_path / "home2")})
    one_line_error(no_test, 2, "--sample-submission needs a test table")
    assert not list((tmp_path / "home2" / "runs").glob("*"))


def test_rename_du_clean_delete(trained, tmp_path):
    home = copy_home(trained.home, tmp_path / "home")
    env = {**trained.env, "MODELYARD_HOME": str(home)}
    renamed = cli("rename", "run", trained.run_id, "wine lots", env=env)
    assert renamed.stdout.strip() == f"{trained.run_id}: wine lots"
    shown = json.loads(cli("show", "wine lots", "--json", env=env).stdout)
    assert shown["id"] == trained.run_id
    du = cli("du", env=env)
    assert du.returncode == 0 and trained.run_id in du.stdout and "total" in du.stdout
    dry = cli("clean", "--older-than", "0", "--dry-run", env=env)
    assert "would free" in dry.stdout and (home / "runs" / trained.run_id / "oof").exists()
    asked = cli("delete", "dataset", "train", env=env)
    one_line_error(asked, 2, f"{trained.run_id} (“wine lots”)", "--with-runs")
    refused = cli("delete", "dataset", "train", "--yes", env=env)
    one_line_error(refused, 2, "has 1 run with its model: “wine lots”")
    assert (home / "runs" / trained.run_id).exists()
    gone = cli("delete", "run", "wine lots", "--yes", env=env)
    assert gone.returncode == 0 and gone.stdout.startswith("deleted run “wine lots”")
    assert not (home / "runs" / trained.run_id).exists()
    assert json.loads(cli("runs", "--json", env=env).stdout) == []
    dataset = cli("delete", "dataset", "train", "--yes", env=env)
    assert dataset.returncode == 0 and "2 plan versions" in dataset.stdout
    assert json.loads(cli("datasets", "--json", env=env).stdout) == []
    assert Path(trained.home / "runs" / trained.run_id).exists()  # the original is untouched


def test_leaderboard_shows_one_data_set_and_says_which(trained, tmp_path):
    from tests.app.test_result_pages import _copy_run, journal_counts

    home = copy_home(trained.home, tmp_path / "home")
    source = next(p for p in (home / "datasets").iterdir() if p.is_dir())
    shutil.copytree(source, home / "datasets" / "ds_other0001")
    meta = json.loads((home / "datasets" / "ds_other0001" / "dataset.json").read_text())
    meta.update(id="ds_other0001", name="other data", content_hash="other")
    (home / "datasets" / "ds_other0001" / "dataset.json").write_text(json.dumps(meta))
    created = json.loads((home / "runs" / trained.run_id / "run.json").read_text())[
        "created_at"]
    _copy_run(home, trained.run_id, "run_other001", name="other run",
              dataset_id="ds_other0001", created_at=created + 60)
    env = {**trained.env, "MODELYARD_HOME": str(home)}
    trials, _, _ = journal_counts(home / "runs" / trained.run_id)

    newest = cli("leaderboard", env=env)  # the newest run's data set, said first
    assert newest.returncode == 0, newest.stderr
    first, header, *rows = newest.stdout.splitlines()
    assert first.startswith("Data set “other data” (ds_other0001), ranked by log loss "
                            f"(lower is better) within each run: 1 run, {trials} trials")
    assert "modelyard leaderboard DATASET" in first
    assert header.split() == ["rank", "run", "model", "family", "CV", "score", "fit", "(s)"]
    assert {re.split(r"\s{2,}", row)[1] for row in rows} == {"other run"}
    assert "None" not in newest.stdout

    by_name = cli("leaderboard", "train", "--json", env=env)
    board = json.loads(by_name.stdout)
    assert {r["run_id"] for r in board} == {trained.run_id}
    assert "data set “train” (" in by_name.stderr and f"{trials} trials" in by_name.stderr
    one = cli("leaderboard", trained.run_id, env=env)
    assert one.stdout.startswith(f"Run {trained.run_id} of data set “train”")
    wrong = cli("leaderboard", "train", "--metric", "roc_auc", env=env)
    one_line_error(wrong, 2, "No run of this data set is scored by “roc_auc”")
    # The run's own message counts the same trials.
    shown = json.loads(cli("show", trained.run_id, "--json", env=env).stdout)
    assert f"after {trials} trials" in shown["message"]
