"""One Run's search shared by workers in other processes through a real PostgreSQL server.

The server is Debian's `postgresql` package started in a temporary folder on a free
port (`tests/pg_server.py`); `make test` installs the package when it is missing, so these
tests are skipped only where its programs are absent, and say so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from modelyard.schemas import Plan
from tests.conftest import messy_frame
from tests.pg_server import NEEDS_POSTGRES

pytestmark = NEEDS_POSTGRES  # the `postgres` fixture: tests/conftest.py


def cli(*args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def approved_plan(ws, path: Path, budget: int, families: tuple[str, ...] | None = None):
    meta = ws.ingest(path, target="churn")
    proposed = ws.propose_plan(meta["id"], target="churn", budget_seconds=budget)
    plan = Plan.model_validate(proposed["plan"])
    if families:
        plan = plan.model_copy(update={"families": [c for c in plan.families
                                                    if c.family in families]})
    return ws.approve_plan(plan, based_on=proposed)


def run_trials(url: str, run_id: str):
    """Every trial of the Run in the shared storage: (family, FrozenTrial)."""
    from modelyard.engine.training.sharing import open_storage

    storage = open_storage(url, heartbeat=False)
    try:
        found = []
        for summary in storage.get_all_studies():
            prefix = f"modelyard:{run_id}:"
            if summary.study_name.startswith(prefix):
                family = summary.study_name[len(prefix):]
                found += [(family, t) for t in storage.get_all_trials(summary._study_id)]
        return found
    finally:
        storage.engine.dispose()


# -- the parts ----------------------------------------------------------------------------
def test_a_storage_url_is_read_checked_and_its_password_never_shown():
    from modelyard.engine.settings import mask_url, normalize_storage_url, resolve

    assert normalize_storage_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalize_storage_url(" postgres://u@h/db ") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="mysql:// is not a study storage"):
        normalize_storage_url("mysql://u@h/db")
    with pytest.raises(ValueError, match="not a database URL"):
        normalize_storage_url("just-a-host")
    assert mask_url("postgresql+psycopg://ann:s3cret@db:5432/x") == \
        "postgresql+psycopg://ann:***@db:5432/x"
    assert mask_url("postgresql://ann@db/x") == "postgresql://ann@db/x"
    found = resolve(None, environ={"MODELYARD_STUDY_STORAGE": "postgresql://a:pw@h/d"})
    assert found.study_storage == "postgresql+psycopg://a:pw@h/d"
    assert found.sources["study_storage"] == "MODELYARD_STUDY_STORAGE"
    assert found.record()["values"]["study_storage"] == "postgresql+psycopg://a:***@h/d"
    assert resolve(None, environ={}).study_storage is None  # default: the journal file


def test_predictions_travel_through_the_database_checked(postgres):
    from modelyard.storage.shared_oof import OOF_TABLE, DamagedPredictions, OofStore

    store = OofStore(postgres.url)
    oof = np.random.default_rng(0).random((500, 3))
    store.put("run_x", "lightgbm_3", oof, "host (pid 1)")
    np.testing.assert_array_equal(store.get("run_x", "lightgbm_3"), oof)
    assert store.get("run_x", "lightgbm_4") is None
    with store.engine.begin() as con:  # a payload changed behind our back
        con.execute(OOF_TABLE.update().values(sha256="0" * 64))
    with pytest.raises(DamagedPredictions, match="lightgbm_3"):
        store.get("run_x", "lightgbm_3")
    store.drop_run("run_x")
    assert store.count("run_x") == 0
    store.close()


def test_joining_a_run_that_is_not_there_names_what_is(postgres):
    result = cli("worker", "--join", "run_nope", "--storage", postgres.url, "--wait", "1")
    assert result.returncode == 2, result.stderr  # bad input
    assert "waiting for run run_nope to start its search" in result.stderr
    assert "There is no run “run_nope” in the study storage" in result.stderr


def test_bad_storage_urls_stop_before_anything_runs(tmp_path):
    data = tmp_path / "c.csv"
    messy_frame(n=60).to_csv(data, index=False)
    result = cli("run", str(data), "--target", "churn", "--storage", "mysql://x@y/z")
    assert result.returncode == 2 and "mysql:// is not a study storage" in result.stderr
    result = cli("worker", "--join", "run_x")
    assert result.returncode == 2 and "No study storage to join through" in result.stderr
    unreachable = cli("worker", "--join", "run_x", "--storage",
                      "postgresql://nobody@127.0.0.1:9/none")
    assert unreachable.returncode == 2
    assert "Cannot reach the study storage at postgresql+psycopg://nobody@127.0.0.1:9/none" \
        in unreachable.stderr


def test_a_copy_of_other_data_is_refused_by_its_checksum(postgres, ws, tmp_path):
    """A joined worker whose --data is not the run's table stops before fitting."""
    data = tmp_path / "c.csv"
    messy_frame(n=300).to_csv(data, index=False)
    approved = approved_plan(ws, data, budget=30, families=("dummy", "linear"))
    folder, proc = ws.start_run(approved, storage=postgres.url)
    other = tmp_path / "other.parquet"
    messy_frame(n=300, seed=5).to_parquet(other)
    result = cli("worker", "--join", folder.id, "--storage", postgres.url, "--data",
                 str(other), timeout=180)
    assert result.returncode == 2, result.stderr
    assert "is not the table the run trains on (its SHA-256 differs)" in result.stderr
    proc.wait(timeout=180)
    assert folder.record().status == "succeeded", folder.log_tail()


# -- the done-when ----------------------------------------------------------------
@pytest.mark.slow
def test_a_run_shared_by_three_workers_survives_one_killed(postgres, ws, tmp_path, wait):
    """The main worker plus two joined workers (separate processes, talking only through
    PostgreSQL and the data path); one is killed with -9 in the middle of a trial. Every
    finished trial reaches the leaderboard, the killed one is failed, the Run succeeds."""
    budget = 90
    data = tmp_path / "customers.csv"
    messy_frame(n=4000).to_csv(data, index=False)
    approved = approved_plan(ws, data, budget)
    folder, main = ws.start_run(approved, storage=postgres.url)
    run_id = folder.id
    train = Path(folder.record().dataset_dir) / "train.parquet"
    copy = tmp_path / "elsewhere" / "train.parquet"  # as if copied to another host
    copy.parent.mkdir()
    copy.write_bytes(train.read_bytes())

    env = {**os.environ, "MODELYARD_HOME": str(tmp_path / "other-host-home")}
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("a", "b")}
    joined = {
        # a: reads the data from the run's own path (a shared folder); b: from its copy.
        "a": subprocess.Popen([sys.executable, "-m", "modelyard.app.cli", "worker", "--join",
                               run_id, "--storage", postgres.url, "--threads", "1"],
                              stdout=logs["a"], stderr=subprocess.STDOUT, env=env),
        "b": subprocess.Popen([sys.executable, "-m", "modelyard.app.cli", "worker", "--join",
                               run_id, "--storage", postgres.url, "--threads", "1",
                               "--data", str(copy)],
                              stdout=logs["b"], stderr=subprocess.STDOUT, env=env),
    }
    victim = joined["a"]
    slow = {"random_forest", "extra_trees", "svm", "catboost", "xgboost", "lightgbm"}

    def victim_mid_trial():
        if victim.poll() is not None:
            raise AssertionError(f"worker a ended early: {(tmp_path / 'a.log').read_text()}")
        return [(f, t) for f, t in run_trials(postgres.url, run_id)
                if t.state.name == "RUNNING" and f in slow
                and f"pid {victim.pid})" in str(t.user_attrs.get("worker"))]

    wait(victim_mid_trial, timeout=budget, interval=0.1, what="worker a fitting a trial")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = [f"{f}_{t.number}" for f, t in run_trials(postgres.url, run_id)
              if t.state.name == "RUNNING" and f"pid {victim.pid})" in
              str(t.user_attrs.get("worker"))]
    assert killed, "worker a finished its trial before it was killed"

    assert main.wait(timeout=4 * budget) is not None
    assert joined["b"].wait(timeout=60) == 0, (tmp_path / "b.log").read_text()
    record = folder.record()
    assert record.status == "succeeded", folder.log_tail()
    # Within its budget: the search and refit end in about the budget (slack for a busy
    # machine; the bench measures time, this only that the Run did not run on and on).
    assert record.finished_at - record.started_at < 2 * budget

    ws.refresh()
    board = {row["model"]: row for row in ws.trials(run_id)}
    stored = run_trials(postgres.url, run_id)
    finished = {f"{f}_{t.number}" for f, t in stored if t.state.name == "COMPLETE"}
    assert finished <= set(board), f"missing from the leaderboard: {finished - set(board)}"
    for model in killed:
        state = next(t.state.name for f, t in stored if f"{f}_{t.number}" == model)
        assert state == "FAIL"
        assert board[model]["state"] == "failed"
        assert "stopped responding" in board[model]["message"] or \
            "was no longer heard from" in board[model]["message"]
    workers = {row["worker"] for row in board.values() if row["worker"]}
    assert any(f"pid {joined['b'].pid})" in w for w in workers), workers
    assert any(f"pid {victim.pid})" in w for w in workers), workers
    assert len(workers) == 3, workers  # the main worker and both joined ones

    # Every worker's predictions reached the ensemble pool: the pool holds the best
    # trials of all, whoever fitted them.
    pool = {p.stem for p in (folder.path / "oof").glob("*.npy")}
    greater = record.greater_is_better
    ranked = sorted((row for row in board.values() if row["state"] == "complete"
                     and row["family"] not in ("dummy", "ensemble")),
                    key=lambda r: r["cv_score"], reverse=greater)
    worst = min if greater else max
    cut = worst(board[m]["cv_score"] for m in pool)
    strictly_better = {r["model"] for r in ranked
                       if (r["cv_score"] > cut if greater else r["cv_score"] < cut)}
    assert strictly_better <= pool
    assert "worker" in folder.events_path.read_text()


def test_the_supervisor_closes_a_dead_runs_trials_in_the_shared_storage(postgres):
    """A Run whose main worker died: its RUNNING trials in the database are failed and
    its state says ended, so joined workers stop asking for trials."""
    from modelyard.engine.training.sharing import SharedRun
    from modelyard.engine.training.studies import close_running_trials

    shared = SharedRun(postgres.url, "run_dead", joined=False)
    try:
        shared.publish(state="running", deadline=0.0)
        family = optuna.create_study(study_name=shared.study_name("linear"),
                                     storage=shared.storage)
        trial = family.ask()
        other = optuna.create_study(study_name="modelyard:run_alive:linear",
                                    storage=shared.storage)
        alive = other.ask()
    finally:
        shared.close()
    assert close_running_trials("/nonexistent/optuna.journal", postgres.url, "run_dead") == 1
    assert family.trials[trial.number].state.name == "FAIL"
    assert other.trials[alive.number].state.name == "RUNNING"  # another Run's: untouched
    looking = SharedRun(postgres.url, "run_dead", joined=True)
    try:
        assert looking.attrs(fresh=True)["state"] == "ended"
    finally:
        looking.close()


def test_the_cli_starts_without_the_database_libraries():
    code = ("import sys, modelyard.app.cli, modelyard.engine.settings, modelyard.engine.jobs; "
            "print(sorted(m for m in ('psycopg', 'sqlalchemy', 'modelyard.engine.training."
            "sharing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
