"""Real worker processes launched through the Workspace: succeed, cancel, die, crowd.

Every test here starts `python -m engine.training.worker` and trains for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from modelyard.app.workspace import Workspace
from modelyard.engine.intake.samples import write_sample
from modelyard.engine.training.bundle import Predictor
from modelyard.schemas import Plan, RunStatus
from modelyard.storage import runs as run_store
from modelyard.storage.files import read_json
from modelyard.storage.paths import Home
from modelyard.storage.runfolder import RunFolder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

BUDGET = 8


def start(ws: Workspace, path, *, budget: int = BUDGET, target=None, test_path=None,
          name=None, asked_at=None):
    """Ingest, propose, approve and launch, as the app and the CLI do."""
    meta = ws.ingest(path, target=target, test_path=test_path)
    proposed = ws.propose_plan(meta["id"], target=target, budget_seconds=budget)
    approved = ws.approve_plan(Plan.model_validate(proposed["plan"]), based_on=proposed)
    folder, proc = ws.start_run(approved, name=name, asked_at=asked_at)
    return folder, proc


def journal_events(folder: RunFolder) -> list[dict]:
    return [json.loads(line) for line in folder.events_path.read_text().splitlines()]


def trial_states(folder: RunFolder) -> dict[tuple[str, int], TrialState]:
    storage = JournalStorage(JournalFileBackend(str(folder.optuna_path)))
    return {
        (study.study_name, trial.number): trial.state
        for study in storage.get_all_studies()
        for trial in storage.get_all_trials(study._study_id, deepcopy=False)
    }


def explain(folder: RunFolder) -> str:
    return f"run.json: {folder.read()}\nworker.log:\n{folder.log_tail(30)}"


def assert_catalog_matches_journal(ws: Workspace, folder: RunFolder) -> None:
    events = journal_events(folder)
    journal_trials = {e["model"] for e in events if e["kind"] == "trial"}
    catalog_trials = {t["model"] for t in run_store.trials(ws.catalog, folder.id)}
    assert journal_trials and catalog_trials == journal_trials
    catalog_seqs = [e["seq"] for e in run_store.events(ws.catalog, folder.id, limit=100_000)]
    assert catalog_seqs == [e["seq"] for e in events]


def group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- one run to completion, with a test table ---------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    ws = Workspace(Home.from_env(root / "home"))
    frame = pd.read_csv(write_sample("breast_cancer", root))
    frame.insert(0, "id", np.arange(900_000, 900_000 + len(frame)))
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, test = frame.iloc[:480], frame.iloc[480:].reset_index(drop=True)
    train.to_csv(root / "train.csv", index=False)
    test.drop(columns="diagnosis").to_csv(root / "test.csv", index=False)
    started = time.monotonic()
    folder, proc = start(ws, root / "train.csv", test_path=root / "test.csv")
    proc.wait(timeout=120)
    wall = time.monotonic() - started
    ws.refresh()
    return SimpleNamespace(ws=ws, folder=folder, proc=proc, test=test, wall=wall)


def test_run_succeeds_with_a_model_and_a_leaderboard(finished):
    ws, folder = finished.ws, finished.folder
    record = folder.read()
    assert finished.proc.returncode == 0, explain(folder)
    assert record["status"] == "succeeded", explain(folder)
    assert {p.name for p in folder.model_dir.iterdir()} == {"pipeline.joblib", "metadata.json",
                                                            "oof.parquet", "manifest.json"}
    meta = read_json(folder.model_dir / "metadata.json")
    assert (meta["run_id"], meta["target"], meta["task"]) == (folder.id, "diagnosis", "binary")
    assert meta["classes"] == ["benign", "malignant"]
    assert meta["id_column"] == "id"
    assert "id" not in meta["numeric"] + meta["categorical"]

    board = run_store.leaderboard(ws.catalog, run_id=folder.id)
    assert {"dummy", "linear", "lightgbm"} <= {r["family"] for r in board}
    assert [r["rank"] for r in board] == sorted(r["rank"] for r in board)
    scores = [r["cv_score"] for r in board]
    assert scores == sorted(scores, reverse=True)  # roc_auc: greater is better
    best = board[0]
    assert best["model"] == record["best_model"] == meta["model"]
    assert best["cv_score"] == pytest.approx(record["best_score"])
    dummy = next(r for r in board if r["family"] == "dummy")
    assert dummy["cv_score"] == pytest.approx(0.5)
    assert best["cv_score"] > 0.95

    run = run_store.get_run(ws.catalog, folder.id)
    assert (run["status"], run["best_model"], run["metric"]) == (
        "succeeded", record["best_model"], "roc_auc")
    assert run["dataset"] == "train"
    assert_catalog_matches_journal(ws, folder)
    kinds = [(e["kind"], e.get("status")) for e in journal_events(folder)]
    assert kinds[0] == ("status", "running") and kinds[-1] == ("status", "succeeded")
    assert ("result", None) in kinds


def test_the_budget_counts_from_the_workers_launch(finished):
    """The worker's start (importing its libraries) is inside the budget a person gave,
    up to a tenth of it (`schedule.clock_start`)."""
    from modelyard.engine.training.schedule import STARTUP_SHARE

    record = finished.folder.read()
    first = journal_events(finished.folder)[0]["ts"]  # the worker's first word, imported
    budget = record["plan"]["budget_seconds"]
    assert record["started_at"] <= max(record["launched_at"],
                                       first - STARTUP_SHARE * budget) + 0.05, \
        explain(finished.folder)


def test_the_budget_counts_from_when_the_command_asked(ws, tmp_path):
    """`modelyard run` reads, profiles and plans before the launch: that time is inside
    the budget too, up to a tenth of it."""
    from modelyard.engine.training.schedule import STARTUP_SHARE

    asked = time.time() - 1.0
    folder, proc = start(ws, write_sample("wine", tmp_path), budget=60, asked_at=asked)
    try:
        deadline = time.monotonic() + 120
        while folder.read().get("started_at") is None:
            assert proc.poll() is None and time.monotonic() < deadline, explain(folder)
            time.sleep(0.2)
    finally:
        ws.cancel(folder.id)
        proc.wait(timeout=60)
    started = folder.read()["started_at"]
    first = journal_events(folder)[0]["ts"]
    # From the moment asked, unless the worker's start took more than the tenth left.
    assert started == pytest.approx(asked, abs=0.01) \
        or started == pytest.approx(first - STARTUP_SHARE * 60, abs=0.1), explain(folder)


def test_run_predicts_the_test_table(finished):
    folder, test = finished.folder, finished.test
    assert folder.read()["status"] == "succeeded", explain(folder)
    out = pd.read_csv(folder.predictions_path)
    assert list(out.columns) == ["id", "diagnosis", "proba_benign", "proba_malignant"]
    assert out["id"].tolist() == test["id"].tolist()  # every row, in the file's order
    assert set(out["diagnosis"]) <= {"benign", "malignant"}
    np.testing.assert_allclose(out[["proba_benign", "proba_malignant"]].sum(axis=1), 1.0,
                               atol=1e-9)
    picked = np.where(out["proba_malignant"] > out["proba_benign"], "malignant", "benign")
    assert (out["diagnosis"].to_numpy() == picked).all()
    assert (out["diagnosis"] == test["diagnosis"]).mean() > 0.85  # it learned something

    # The exported bundle gives the same answers outside the worker.
    again = Predictor.load(folder.model_dir).predict_frame(test.drop(columns="diagnosis"))
    pd.testing.assert_frame_equal(again, out, check_dtype=False, atol=1e-9)


# -- cancel and crash ------------------------------------------------------------------------
def _classification_csv(tmp_path, n=6000):
    """Big enough that each trial takes a while: the worker is almost always mid-trial."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["target"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    return path


def _mid_search(folder: RunFolder, min_trials: int = 1):
    if folder.read()["status"] != "running" or not folder.events_path.exists():
        return False
    done = [e for e in journal_events(folder) if e["kind"] == "trial"]
    return len(done) >= min_trials


def test_cancel_ends_a_running_worker(ws, tmp_path, wait):
    folder, proc = start(ws, _classification_csv(tmp_path), budget=120)
    pid = folder.read()["pid"]
    assert pid == proc.pid
    wait(lambda: _mid_search(folder) or proc.poll() is not None, 90, what="a first trial")
    assert proc.poll() is None, explain(folder)

    record = ws.cancel(folder.id)
    assert record.status is RunStatus.cancelled and record.message == "Cancelled by you."
    assert proc.wait(timeout=10) in (130, -signal.SIGKILL)
    assert group_gone(pid)

    assert folder.read()["status"] == "cancelled"
    assert run_store.get_run(ws.catalog, folder.id)["status"] == "cancelled"
    assert TrialState.RUNNING not in trial_states(folder).values()
    # Nothing later turns it into something else.
    assert ws.refresh() == []
    assert ws.cancel(folder.id).status is RunStatus.cancelled
    assert run_store.get_run(ws.catalog, folder.id)["status"] == "cancelled"


def test_a_killed_worker_is_marked_failed_and_its_trials_closed(ws, tmp_path, wait):
    folder, proc = start(ws, _classification_csv(tmp_path), budget=120)
    pid = folder.read()["pid"]
    wait(lambda: _mid_search(folder, 2) or proc.poll() is not None, 90, what="two trials")

    def running_trials():
        return [k for k, s in trial_states(folder).items() if s is TrialState.RUNNING]

    wait(running_trials, 30, interval=0.02, what="a RUNNING trial")
    os.killpg(pid, signal.SIGKILL)
    wait(lambda: not psutil.pid_exists(pid)
         or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10, what="the kill")
    left_running = running_trials()
    assert left_running, "the worker died between trials: nothing for the supervisor to close"
    assert folder.read()["status"] == "running"  # nobody has noticed yet

    try:
        failed = ws.refresh()
    finally:
        proc.wait(timeout=10)
    assert failed == [folder.id]
    record = folder.read()
    assert record["status"] == "failed"
    assert record["message"].startswith("The run stopped unexpectedly: the worker process")
    run = run_store.get_run(ws.catalog, folder.id)
    assert (run["status"], run["message"]) == ("failed", record["message"])
    states = trial_states(folder)
    assert TrialState.RUNNING not in states.values()
    assert all(states[k] is TrialState.FAIL for k in left_running)
    # Trials finished before the kill are all in the catalog.
    assert_catalog_matches_journal(ws, folder)
    assert ws.refresh() == []  # reported once


# -- three workers and a reader, all at once ---------------------------------------------------
_READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from modelyard.app.workspace import Workspace
    from modelyard.storage import datasets, runs
    from modelyard.storage.paths import Home

    root, stop = Path(sys.argv[1]), Path(sys.argv[2])
    loops = most_trials = 0
    while not stop.exists():
        ws = Workspace(Home(root))
        ws.refresh()
        found = runs.list_runs(ws.catalog)
        datasets.list_datasets(ws.catalog)
        most_trials = max(most_trials, len(runs.leaderboard(ws.catalog)))
        for run in found:
            runs.events(ws.catalog, run["id"], limit=20)
            runs.trials(ws.catalog, run["id"])
        loops += 1
        time.sleep(0.02)
    print(loops, most_trials)
    """
)


def test_three_workers_and_a_reader_at_once(ws, home, tmp_path):
    paths = {key: write_sample(key, tmp_path) for key in ("breast_cancer", "wine", "diabetes")}
    stop = tmp_path / "stop-reader"
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(home.root), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = {}
    try:
        for key, path in paths.items():
            runs[key] = start(ws, path, name=key)
        deadline = time.monotonic() + 150
        while any(proc.poll() is None for _, proc in runs.values()):
            assert time.monotonic() < deadline, "the workers did not finish"
            ws.refresh()  # this process reads and writes the catalog too
            time.sleep(0.3)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
        for _, proc in runs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    assert reader.returncode == 0, err
    for bad in ("IOException", "Could not set lock", "Conflicting lock", "Traceback",
                "ResourceInUse"):
        assert bad not in err, err
    loops, most_trials = map(int, out.split())
    assert loops >= 5 and most_trials > 0, out

    ws.refresh()
    for key, (folder, proc) in runs.items():
        assert proc.returncode == 0 and folder.read()["status"] == "succeeded", explain(folder)
        run = run_store.get_run(ws.catalog, folder.id)
        assert (run["name"], run["status"]) == (key, "succeeded")
        assert_catalog_matches_journal(ws, folder)
        assert (folder.model_dir / "pipeline.joblib").exists()
    tasks = {run_store.get_run(ws.catalog, f.id)["task"] for f, _ in runs.values()}
    assert tasks == {"binary", "multiclass", "regression"}
