"""`modelyard` as a person runs it: real subprocesses, real files, exit codes, one-line errors."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from modelyard.schemas import Plan

MODELYARD = Path(sys.executable).parent / "modelyard"
LEADERBOARD_HEADER = ["rank", "model", "family", "cv_score", "metric", "greater_is_better",
                      "fit_seconds", "params"]
BUDGET = 8


def cli(*args, env=None, cwd=None, timeout=120, script=False) -> subprocess.CompletedProcess:
    """Run `python -m app.cli ARGS` (or the installed `modelyard` script)."""
    command = [str(MODELYARD)] if script else [sys.executable, "-m", "modelyard.app.cli"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def cli_many(*calls: tuple, env=None) -> list[subprocess.CompletedProcess]:
    """Several `modelyard` commands at once (each a tuple of arguments): quicker, and
    they contend for the catalog as several windows and scripts would."""
    procs = [subprocess.Popen([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for args in calls]
    results = []
    for args, proc in zip(calls, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


def one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modelyard: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def as_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- one real run, shared by the read-only commands ---------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env, make_messy):
    root = tmp_path_factory.mktemp("cli")
    env = child_env(root / "home")
    frame = make_messy(n=300).rename(columns={"churn": "y"})
    frame.iloc[:240].to_csv(root / "train.csv", index=False)
    test = frame.iloc[240:].sample(frac=1.0, random_state=1).reset_index(drop=True)
    # The test file carries the target column too, with a value never seen in training.
    test.assign(y="maybe").to_csv(root / "test.csv", index=False)
    out = root / "out"
    began = time.monotonic()
    result = cli("run", root / "train.csv", "--target", "y", "--test", root / "test.csv",
                 "--budget", BUDGET, "--out", out, "--json", env=env, cwd=root, timeout=180)
    return SimpleNamespace(root=root, home=root / "home", env=env, out=out, result=result,
                           test=test, seconds=time.monotonic() - began)


@pytest.fixture(scope="module")
def summary(trained):
    result = trained.result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # stdout is the JSON document and nothing else


@pytest.mark.slow
def test_run_prints_a_json_summary(trained, summary):
    assert set(summary) >= {"run_id", "status", "task", "metric", "greater_is_better",
                            "best_model", "cv_score", "paths"}
    assert (summary["status"], summary["task"], summary["metric"]) == (
        "succeeded", "binary", "roc_auc")
    assert summary["greater_is_better"] is True
    assert summary["best_model"] and not summary["best_model"].startswith("dummy")
    assert 0.5 < summary["cv_score"] <= 1.0
    paths = summary["paths"]
    assert set(paths) == {"plan", "leaderboard", "predictions", "model"}
    for key in ("plan", "leaderboard", "predictions"):
        assert Path(paths[key]) == trained.out / f"{key}.{'json' if key == 'plan' else 'csv'}"
        assert Path(paths[key]).is_file()
    assert Path(paths["model"]) == trained.home / "runs" / summary["run_id"] / "model"
    assert (Path(paths["model"]) / "pipeline.joblib").is_file()
    # Progress went to stderr, not into the JSON: with no terminal, one line per trial.
    assert f"run {summary['run_id']}" in trained.result.stderr
    assert "dummy_0: roc_auc 0.5" in trained.result.stderr
    # What it predicts and how it is scored, said before the wait.
    plan = json.loads((trained.out / "plan.json").read_text())
    assert (f"  predicting y (binary, scored by ROC AUC) with "
            f"{', '.join(f['family'] for f in plan['families'])}\n") in trained.result.stderr


@pytest.mark.slow
def test_run_writes_the_plan(trained, summary):
    plan = Plan.model_validate_json((trained.out / "plan.json").read_text())
    assert (plan.target, plan.task.value, plan.metric.value) == ("y", "binary", "roc_auc")
    assert plan.budget_seconds == BUDGET
    assert plan.excluded_columns == ["customer_id"]


@pytest.mark.slow
def test_run_writes_the_leaderboard(trained, summary):
    with open(trained.out / "leaderboard.csv", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [dict(zip(header, r, strict=True)) for r in reader]
    assert header == LEADERBOARD_HEADER
    assert {"dummy", "linear", "lightgbm"} <= {r["family"] for r in rows}
    assert [int(r["rank"]) for r in rows] == sorted(int(r["rank"]) for r in rows)
    assert rows[0]["rank"] == "1" and rows[0]["model"] == summary["best_model"]
    assert float(rows[0]["cv_score"]) == pytest.approx(summary["cv_score"])
    scores = [float(r["cv_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert {r["metric"] for r in rows} == {"roc_auc"}
    assert {r["greater_is_better"] for r in rows} == {"True"}
    for r in rows:
        assert float(r["fit_seconds"]) >= 0
        assert isinstance(json.loads(r["params"]), dict)
    assert json.loads(next(r for r in rows if r["family"] == "dummy")["params"]) == {}


@pytest.mark.slow
def test_run_writes_predictions_in_test_order(trained, summary):
    out = pd.read_csv(trained.out / "predictions.csv")
    assert list(out.columns) == ["customer_id", "y", "proba_no", "proba_yes"]
    assert out["customer_id"].tolist() == trained.test["customer_id"].tolist()
    # The test file's own "y" column (all "maybe") was ignored, not copied or learned from.
    assert set(out["y"]) <= {"no", "yes"}
    assert ((out["proba_no"] + out["proba_yes"]) - 1.0).abs().max() < 1e-9
    assert (out["y"] == out[["proba_no", "proba_yes"]].idxmax(axis=1).str[6:]).all()


@pytest.mark.slow
def test_datasets_runs_show_and_leaderboard(trained, summary):
    env = trained.env
    datasets, runs, shown, board, by_name, by_run, text = cli_many(
        ("datasets", "--json"), ("runs", "--json"), ("show", summary["run_id"], "--json"),
        ("leaderboard", "--json"), ("leaderboard", "train", "--json"),
        ("leaderboard", summary["run_id"], "--json"), ("runs",), env=env)
    datasets, runs, shown, board, by_name, by_run = map(
        as_json, (datasets, runs, shown, board, by_name, by_run))
    assert [(d["name"], d["target"], d["task"], d["has_test"], d["n_rows"]) for d in datasets
            ] == [("train", "y", "binary", True, 240)]

    assert [(r["id"], r["status"], r["best_model"], r["dataset"]) for r in runs] == [
        (summary["run_id"], "succeeded", summary["best_model"], "train")]

    assert shown["id"] == summary["run_id"] and shown["status"] == "succeeded"
    assert shown["best_score"] == pytest.approx(summary["cv_score"])
    with open(trained.out / "leaderboard.csv") as fh:
        n_rows = sum(1 for _ in fh) - 1
    assert len(shown["leaderboard"]) == n_rows
    assert shown["leaderboard"][0]["model"] == summary["best_model"]

    assert len(board) == n_rows and {r["run_id"] for r in board} == {summary["run_id"]}
    assert board[0]["rank"] == 1 and board[0]["model"] == summary["best_model"]
    assert [r["model"] for r in by_name] == [r["model"] for r in board]
    assert [r["model"] for r in by_run] == [r["model"] for r in board]

    assert text.returncode == 0 and summary["run_id"] in text.stdout


@pytest.mark.slow
def test_reindex_rebuilds_a_deleted_catalog(trained, summary, tmp_path):
    home = tmp_path / "copy"
    shutil.copytree(trained.home, home, ignore=shutil.ignore_patterns("*.lock", ".*.lock"))
    env = {**trained.env, "MODELYARD_HOME": str(home)}
    before = as_json(cli("leaderboard", "--json", env=env))
    (home / "modelyard.duckdb").unlink()
    result = cli("reindex", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("catalog rebuilt: 1 datasets, 2 plans, 1 runs, ")
    after = as_json(cli("leaderboard", "--json", env=env))
    assert after == before
    runs = as_json(cli("runs", "--json", env=env))
    assert [(r["id"], r["status"]) for r in runs] == [(summary["run_id"], "succeeded")]


@pytest.mark.slow
def test_the_same_file_run_twice(tmp_path, child_env, make_messy):
    """The second run reuses the data set (and says so) and gets its own name; a run
    trained with "None" read as missing predicts a "None" as it predicts a gap."""
    env = child_env(tmp_path / "home")
    frame = make_messy(n=200)
    frame["plan_type"] = np.where(frame.index % 4 == 0, "None", "basic")
    frame.to_csv(tmp_path / "churn.csv", index=False)
    first = as_json(cli("run", tmp_path / "churn.csv", "--target", "churn", "--budget", 5,
                        "--words-as-missing", "--json", env=env, timeout=180))
    second = cli("run", tmp_path / "churn.csv", "--target", "churn", "--budget", 5, "--json",
                 env=env, timeout=180)
    assert second.returncode == 0, second.stderr
    assert "modelyard: Using data set “churn” (same content, added 20" in second.stderr
    assert len(as_json(cli("datasets", "--json", env=env))) == 1
    runs = as_json(cli("runs", "--json", env=env))
    assert sorted(r["name"] for r in runs) == ["churn #1", "churn #2"]
    shown = as_json(cli("show", "churn #1", "--json", env=env))
    assert shown["id"] == first["run_id"]
    # Both runs trained on the data set as chosen, and their models say so.
    bundle = json.loads((Path(first["paths"]["model"]) / "metadata.json").read_text())
    assert bundle["missing_words"] == {"plan_type": ["None"]}
    rows = frame.drop(columns="churn").head(40)
    rows.to_csv(tmp_path / "words.csv", index=False)
    rows.assign(plan_type=rows["plan_type"].replace("None", "")).to_csv(
        tmp_path / "gaps.csv", index=False)
    for name in ("words", "gaps"):
        made = cli("predict", first["run_id"], tmp_path / f"{name}.csv", "--out",
                   tmp_path / f"{name}-out.csv", env=env, timeout=120)
        assert made.returncode == 0, made.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "words-out.csv"),
                                  pd.read_csv(tmp_path / "gaps-out.csv"))


@pytest.mark.slow
def test_run_waits_in_a_small_process_and_ctrl_c_cancels(tmp_path, child_env, make_messy):
    """Once the Run has started, `modelyard run` hands its process over to one that only
    follows it (app/follow.py): the same process, without DuckDB or polars mapped. Ctrl-C
    there cancels the Run, as it did before."""
    import psutil

    env = child_env(tmp_path / "home")
    make_messy(n=300).to_csv(tmp_path / "churn.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "modelyard.app.cli", "run",
                             tmp_path / "churn.csv", "--target", "churn", "--budget", "120",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        me = psutil.Process(proc.pid)
        deadline = time.monotonic() + 90
        while "modelyard.app.follow" not in me.cmdline():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        workers = [c for c in me.children() if "modelyard.engine.training.worker"
                   in " ".join(c.cmdline())]
        assert len(workers) == 1  # the worker is still its child
        mapped = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "duckdb" not in mapped and "polars" not in mapped
        time.sleep(2)  # a trial or two
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    run_id = err.split("run ", 1)[1].split(" ", 1)[0]
    assert f"run {run_id} cancelled." in err
    assert as_json(cli("show", run_id, "--json", env=env))["status"] == "cancelled"
    psutil.wait_procs(workers, timeout=30)  # the worker has ended too


# -- fast commands -------------------------------------------------------------------------------
def test_version():
    result = cli("--version", script=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"modelyard {metadata.version('modelyard')}"


def test_ingest_json(modelyard_home, messy_csv, tmp_path):
    result = cli("ingest", messy_csv, "--name", "Customers", "--json", cwd=tmp_path)
    doc = as_json(result)
    assert doc["name"] == "Customers" and doc["n_rows"] == 240 and doc["n_cols"] == 6
    assert (doc["target"], doc["task"]) == ("churn", "binary")
    assert doc["profile"]["target"]["column"] == "churn"
    assert [c["name"] for c in doc["profile"]["columns"]][0] == "customer_id"
    folder = modelyard_home / "datasets" / doc["id"]
    assert {p.name for p in folder.iterdir()} == {"train.parquet", "profile.json",
                                                  "dataset.json"}
    listed = as_json(cli("datasets", "--json"))
    assert [d["id"] for d in listed] == [doc["id"]]


def test_ingest_text_output(messy_csv):
    result = cli("ingest", messy_csv)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ds_")
    assert "240 rows × 6 columns" in lines[1]
    assert "target guess: churn (binary" in result.stdout


def test_names_from_the_data_are_shown_not_obeyed_by_the_terminal(modelyard_home, tmp_path):
    """A column name that holds a terminal escape (here: set the window title) or a
    right-to-left override is printed with those characters as visible escapes, on stdout
    and in the one-line error on stderr alike; other letters print as they are."""
    titled, flipped = "amount\x1b]0;owned\x07", "note\u202egnp.exe"
    with open(tmp_path / "odd.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", titled, flipped, "größe ✓"])
        writer.writerows([i, i * 0.5, "ab"[i % 2], "ja" if i % 3 else "nein"]
                         for i in range(60))
    chosen = cli("ingest", tmp_path / "odd.csv", "--target", titled)
    assert chosen.returncode == 0, chosen.stderr
    assert "target guess: amount\\x1b]0;owned\\x07 (regression" in chosen.stdout
    missing = cli("ingest", tmp_path / "odd.csv", "--target", "größe\rx", "--copy")
    line = one_line_error(missing, 2, "“größe\\x0dx”", "note\\u202egnp.exe", "größe ✓")
    for result in (chosen, missing):
        out = result.stdout + result.stderr
        assert not any(ch in out for ch in "\x1b\x07\r\u202e"), repr(out)
    assert line.count("\\") == 4


def test_adding_the_same_file_with_another_target_sets_it(modelyard_home, messy_csv):
    first = as_json(cli("ingest", messy_csv, "--json"))
    assert first["target"] == "churn"
    again = cli("ingest", messy_csv, "--target", "region")
    assert again.returncode == 0, again.stderr
    assert "Using data set “customers” (same content" in again.stderr
    assert "Its target is now “region” (it was “churn”)." in again.stderr
    assert "target guess: region (" in again.stdout and "chosen by you" in again.stdout
    listed = as_json(cli("datasets", "--json"))
    assert [(d["id"], d["target"]) for d in listed] == [(first["id"], "region")]
    one_line_error(cli("ingest", messy_csv, "--target", "nope"), 2, "no column “nope”")
    assert as_json(cli("datasets", "--json"))[0]["target"] == "region"  # kept


def test_a_german_export_trains_and_predicts_on_its_amounts(modelyard_home, tmp_path):
    """Semicolons, decimal commas and points grouping thousands, in Latin-1: the amount is
    read as a number in training and again in the new rows, so the model predicts from
    it (it decides the outcome here), and the ingest says how the column was read."""
    rng = np.random.default_rng(3)

    def write(path, n):
        amounts = rng.uniform(0, 3000, n)
        with open(path, "w", encoding="latin-1") as f:
            f.write("Betrag;Stadt;Kauf\n")
            for a in amounts:
                written = f"{a:,.2f}".translate(str.maketrans(",.", ".,"))
                f.write(f"{written};{rng.choice(['Köln', 'Zürich'])};"
                        f"{'ja' if a > 1500 else 'nein'}\n")
        return amounts

    write(tmp_path / "kauf.csv", 300)
    amounts = write(tmp_path / "neu.csv", 60)
    out = tmp_path / "out"
    result = cli("run", tmp_path / "kauf.csv", "--target", "Kauf", "--test",
                 tmp_path / "neu.csv", "--families", "linear", "--budget", 8, "--out", out)
    assert result.returncode == 0, result.stderr
    assert ("Numbers written as text were read as numbers: “Betrag”: a decimal comma, "
            "thousands separators") in result.stdout + result.stderr
    predicted = pd.read_csv(out / "predictions.csv")["Kauf"]
    right = (predicted == np.where(amounts > 1500, "ja", "nein")).mean()
    assert right >= 0.9, predicted.tolist()


def test_run_warns_of_a_leaking_column_and_ignore_leaves_it_out(modelyard_home, tmp_path):
    """A column that gives the answer away is said by `run` (a headless person never sees
    the Data page), with the flag that leaves it out; --ignore does, and is checked."""
    rng = np.random.default_rng(4)
    amount = rng.uniform(0, 100, 200)
    pd.DataFrame({"amount": amount, "refund issued": np.where(amount > 50, "yes", "no"),
                  "region": rng.choice(["n", "s"], 200),
                  "y": np.where(amount > 50, 1, 0)}).to_csv(tmp_path / "t.csv", index=False)
    warned = cli("run", tmp_path / "t.csv", "--target", "y", "--families", "linear",
                 "--budget", 5, "--out", tmp_path / "a")
    assert warned.returncode == 0, warned.stderr
    assert ("modelyard: warning: “refund issued” is one-to-one with the target “y”: a model "
            "would learn nothing real from it. Ignore this column (or make it the target). "
            "(--ignore 'refund issued' leaves it out)") in warned.stderr, warned.stderr
    left_out = cli("run", tmp_path / "t.csv", "--target", "y", "--families", "linear",
                   "--budget", 5, "--out", tmp_path / "b", "--ignore", "refund issued",
                   "--ignore", "region")
    assert left_out.returncode == 0, left_out.stderr
    assert "refund issued" not in left_out.stderr
    plan = Plan.model_validate_json((tmp_path / "b" / "plan.json").read_text())
    assert plan.excluded_columns[-2:] == ["refund issued", "region"]
    for ignore, said in (("Region", "modelyard: --ignore names no column “Region”. Did you "
                                    "mean “region”?"),
                         ("region,y", "modelyard: --ignore names “y”, the target.")):
        refused = cli("run", tmp_path / "t.csv", "--target", "y", "--ignore", ignore,
                      "--budget", 5)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines()[-1].startswith(said), refused.stderr
    assert len(as_json(cli("runs", "--json"))) == 2  # nothing started for the refused


def test_home_flag_wins_over_the_environment(modelyard_home, messy_csv, tmp_path):
    other = tmp_path / "other-home"
    doc = as_json(cli("--home", other, "ingest", messy_csv, "--json"))
    assert (other / "datasets" / doc["id"] / "dataset.json").is_file()
    assert as_json(cli("datasets", "--json")) == []


def test_plan_json(messy_csv):
    dataset_id = as_json(cli("ingest", messy_csv, "--json"))["id"]
    doc = as_json(cli("plan", dataset_id, "--budget", "45", "--json"))
    plan = Plan.model_validate(doc["plan"])
    assert (plan.dataset_id, plan.target, plan.budget_seconds) == (dataset_id, "churn", 45)
    assert doc["planner"] == "rules" and doc["plan_id"].startswith("plan_")


def test_missing_file_is_a_one_line_error(modelyard_home, tmp_path):
    missing = tmp_path / "nowhere.csv"
    run, ingest = cli_many(("run", missing, "--target", "y"), ("ingest", missing))
    one_line_error(run, 2, str(missing), "no such file")
    one_line_error(ingest, 2, "no such file")
    assert list((modelyard_home / "datasets").iterdir()) == []


def test_a_budget_out_of_range_is_a_usage_error_before_anything_is_read(modelyard_home,
                                                                        messy_csv):
    short, words = cli_many(("run", messy_csv, "--budget", "4"), ("plan", "x", "--budget", "a"))
    for result, said in ((short, "4 s is outside 5 s"), (words, "'a' is not a whole number")):
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("modelyard: argument --budget: " + said), result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert not (modelyard_home / "datasets").exists() or \
        list((modelyard_home / "datasets").iterdir()) == []


def test_unknown_target_is_a_one_line_error(modelyard_home, messy_csv):
    line = one_line_error(cli("run", messy_csv, "--target", "nope", "--budget", "5"), 2,
                          "There is no column “nope”", "customers.csv", "churn")
    assert "Columns are: customer_id" in line
    assert list((modelyard_home / "datasets").iterdir()) == []
    assert list((modelyard_home / "runs").iterdir()) == []


def test_bad_plan_file_is_a_one_line_error(modelyard_home, messy_csv, tmp_path):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"target": "churn", "task": "regression",
                                     "metric": "roc_auc", "families": [{"family": "dummy"}]}))
    one_line_error(cli("run", messy_csv, "--plan", plan_file), 2, "not a valid plan",
                   "does not fit")
    assert list((modelyard_home / "runs").iterdir()) == []


def test_unknown_run_or_dataset(modelyard_home):
    cancel, show, plan, board = cli_many(("cancel", "run_nope"), ("show", "run_nope"),
                                         ("plan", "ds_nope"), ("leaderboard", "ds_nope"))
    one_line_error(cancel, 2, "There is no run “run_nope”")
    one_line_error(show, 2, "There is no run")
    one_line_error(plan, 2, "There is no data set “ds_nope”")
    one_line_error(board, 2, "There is no run or data set “ds_nope”", "modelyard runs")


def test_usage_errors_exit_2():
    result = cli("frobnicate")
    assert result.returncode == 2
    assert "See `modelyard --help`" in result.stderr
    assert cli().returncode == 2  # a command is required


def test_empty_listings():
    datasets, runs, board, text = cli_many(("datasets", "--json"), ("runs", "--json"),
                                           ("leaderboard", "--json"), ("runs",))
    assert as_json(datasets) == as_json(runs) == as_json(board) == []
    assert text.returncode == 0 and text.stdout.strip() == "(none)"


def test_doctor_says_ollama_is_not_reachable(modelyard_home):
    result = cli("doctor", script=True)
    assert result.returncode == 0, result.stderr
    assert f"home:      {modelyard_home}" in result.stdout
    ollama = next(line for line in result.stdout.splitlines() if line.startswith("ollama:"))
    assert os.environ["OLLAMA_HOST"] in ollama
    assert "not reachable" in ollama and "rule planner" in ollama
    assert "duckdb" in result.stdout and "CPU cores" in result.stdout


def test_reindex_of_an_empty_home():
    result = cli("reindex")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("catalog rebuilt: 0 datasets, 0 plans, 0 runs, 0 trials, "
                                     "0 events")


def test_every_subcommand_has_a_handler_and_every_handler_a_subcommand():
    import argparse
    import inspect

    from modelyard.app import cli

    parser = cli.build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subcommands.choices) == set(cli.COMMANDS)
    assert cli.WITHOUT_WORKSPACE <= set(cli.COMMANDS)
    for name, handler in cli.COMMANDS.items():
        # What _dispatch passes: the arguments, and a Workspace unless the command says not.
        wanted = 1 if name in cli.WITHOUT_WORKSPACE else 2
        assert len(inspect.signature(handler).parameters) == wanted, name
