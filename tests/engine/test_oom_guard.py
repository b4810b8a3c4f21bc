"""The memory guard: risky fits run in a watched child process, and a trial that runs
out of memory is a failed trial, not a dead Run.

The run tests start real workers (mostly with MODELYARD_GUARD_FITS=always) on data
whose fits really allocate more than the limit, or really run past the budget.
"""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pandas as pd
import psutil
import pytest

from modelyard.app.workspace import Workspace
from modelyard.engine.training import families
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.evaluate import cross_validate
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import Choice, FitContext, Float, Int
from modelyard.engine.training.guard import (
    Allowance,
    FitFailed,
    FitGuard,
    OutOfMemory,
    mode,
    user_limit,
    wants_guard,
)
from modelyard.schemas import Metric, Plan, RunStatus, Task
from modelyard.storage.runfolder import RunFolder
from tests.engine.test_families_contract import _data

TASKS = [Task.binary, Task.multiclass, Task.regression]


# -- the plumbing, in this process ------------------------------------------------------------
@pytest.fixture
def guard(tmp_path):
    data = _data(Task.binary, n=300)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[{"family": "linear"}], budget_seconds=30)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    fit_guard = FitGuard(tmp_path / "guard", data, splits)
    yield fit_guard, data, splits
    fit_guard.close()
    assert not (tmp_path / "guard").exists()


def test_guarded_cv_gives_what_in_process_cv_gives_and_prunes(guard):
    fit_guard, data, splits = guard
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    family = families.get("random_forest")
    params = {**family.default_params(ctx), "n_estimators": 30}
    here_steps, there_steps = [], []
    here = cross_validate(family, params, ctx, data, splits, Metric.roc_auc,
                          after_fold=lambda i, m: here_steps.append((i, m)))
    there = fit_guard.cross_validate("random_forest", params, ctx, Metric.roc_auc, limit=2**34,
                                     after_fold=lambda i, m: there_steps.append((i, m)))
    assert there.fold_scores == here.fold_scores and there.train_scores == here.train_scores
    np.testing.assert_array_equal(there.oof, here.oof)
    assert there_steps == here_steps and len(there_steps) == len(splits)
    assert there.extra["guard"]["peak_bytes"] > 0

    class Pruned(Exception):
        pass

    seen = []

    def prune_second(step, mean):
        seen.append(step)
        if step == 1:
            raise Pruned()

    with pytest.raises(Pruned):  # the caller's verdict stops the child after two folds
        fit_guard.cross_validate("random_forest", params, ctx, Metric.roc_auc, limit=2**34,
                                 after_fold=prune_second)
    assert seen == [0, 1]
    assert not fit_guard._live

    with pytest.raises(FitFailed) as failed:  # the family raises in the child
        fit_guard.cross_validate("random_forest", {**params, "n_estimators": -1}, ctx,
                                 Metric.roc_auc, limit=2**34)
    assert failed.value.kind == "InvalidParameterError" and "n_estimators" in str(failed.value)


def test_guarded_and_in_process_trials_share_prepared_folds(guard):
    """A guarded child sends back the folds it prepared; the next child starts from them
    (a file), and the scores are the same as preparing afresh."""
    from modelyard.engine.training.folds import FoldCache

    fit_guard, data, splits = guard
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    params = {**families.get("random_forest").default_params(ctx), "n_estimators": 20}
    alone = cross_validate(families.get("random_forest"), params, ctx, data, splits,
                           Metric.roc_auc)
    folds = FoldCache(1 << 30)
    first = fit_guard.cross_validate("random_forest", params, ctx, Metric.roc_auc,
                                     limit=2**34, folds=folds)
    assert len(folds.of_kind("ordinal")) == len(splits) and folds.used > 0
    assert "prepared" not in first.extra
    second = fit_guard.cross_validate("extra_trees", families.get("extra_trees")
                                      .default_params(ctx), ctx, Metric.roc_auc,
                                      limit=2**34, folds=folds)
    assert (fit_guard.folder / "folds-ordinal.pkl").exists()
    assert np.isfinite(second.mean)
    again = fit_guard.cross_validate("random_forest", params, ctx, Metric.roc_auc,
                                     limit=2**34, folds=folds)
    assert again.fold_scores == first.fold_scores == alone.fold_scores
    # In this process, the same folds are hits.
    hits = folds.hits
    cross_validate(families.get("random_forest"), params, ctx, data, splits, Metric.roc_auc,
                   folds=folds)
    assert folds.hits == hits + len(splits)


def test_the_watchdog_kills_a_fit_over_its_allowance(tmp_path):
    data = _categorical_table(40_000)
    splits = [(np.arange(8_000, 40_000), np.arange(8_000))]
    fit_guard = FitGuard(tmp_path / "guard", data, splits)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    limit = 120 * 2**20
    try:
        with pytest.raises(OutOfMemory) as oom:  # one-hot of twelve columns: ~250 MB
            fit_guard.cross_validate("mlp", families.get("mlp").default_params(ctx), ctx,
                                     Metric.roc_auc, limit=limit)
    finally:
        fit_guard.close()
    assert oom.value.used > limit
    assert str(oom.value).startswith("out of memory: used ")
    assert str(oom.value).endswith(" of the 120 MB allowed")


def test_the_memory_policy_follows_the_environment(monkeypatch):
    monkeypatch.delenv("MODELYARD_MEMORY_LIMIT_GB", raising=False)
    monkeypatch.delenv("MODELYARD_GUARD_FITS", raising=False)
    assert user_limit() is None and mode() == "auto"
    free = 10 * 2**30
    assert Allowance(free, None).bytes == int(0.8 * free)
    assert Allowance(free, None).describe() == "10.0 GB are free, of which a trial may use 8.0 GB"
    assert wants_guard(3 * 2**30, 8 * 2**30) and not wants_guard(2**30, 8 * 2**30)

    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", "1.5")
    assert user_limit() == int(1.5 * 2**30)
    assert Allowance(free, user_limit()).bytes == int(1.5 * 2**30)
    assert Allowance(free, user_limit()).describe() == "the memory limit is 1.5 GB"
    assert Allowance(2**30, user_limit()).bytes == int(0.8 * 2**30)  # free RAM is less
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", "lots")
    assert user_limit() is None

    monkeypatch.setenv("MODELYARD_GUARD_FITS", "always")
    assert wants_guard(1, 8 * 2**30)
    monkeypatch.setenv("MODELYARD_GUARD_FITS", "never")
    assert not wants_guard(7 * 2**30, 8 * 2**30)


def test_a_trial_that_ran_out_of_memory_teaches_the_trainer(tmp_path):
    from optuna.trial import TrialState

    from modelyard.engine.training.trainer import Trainer
    from modelyard.schemas import FamilyChoice
    from modelyard.storage.runfolder import JournalWriter

    data = _data(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.random_forest),
                          FamilyChoice(family=Family.knn)], budget_seconds=30)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_oom")
    folder.create({"id": "run_oom", "status": "running"})
    journal = JournalWriter(folder)
    trainer = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time())
    forest, knn = (trainer._study(c, i) for i, c in enumerate(plan.families))
    params = families.get("random_forest").default_params(trainer.ctx)
    estimate = families.get("random_forest").memory_bytes(params, trainer.ctx,
                                                          trainer.memory.data_bytes)

    trainer._after_out_of_memory(plan.families[0], forest, "random_forest_0", params,
                                 estimate, used=3 * estimate)
    assert trainer.memory.scale["random_forest"] == pytest.approx(3.0)
    assert trainer.memory.too_big["random_forest"] == estimate
    queued = [t.system_attrs["fixed_params"]
              for t in forest.get_trials(states=(TrialState.WAITING,))]
    assert {**params, "n_estimators": 100, "min_samples_leaf": 2} in queued

    # A family with nothing to shrink: its trials as large are skipped from now on.
    trainer._after_out_of_memory(plan.families[1], knn, "knn_0", {}, 1, used=None)
    assert "knn" not in trainer.memory.scale and trainer.memory.too_big["knn"] == 1
    trainer._one_trial(plan.families[1], knn)
    journal.close()
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    assert [e["message"] for e in events if e["kind"] == "log"] == [
        "random_forest_0 ran out of memory; retrying smaller: n_estimators 200 → 100, "
        "min_samples_leaf 1 → 2; its estimates are now × 3.0",
        "knn_0 ran out of memory; knn trials as large (about 0 MB estimated) are skipped "
        "from now on"]
    skipped = [e for e in events if e["kind"] == "trial"]
    assert [(e["model"], e["state"], e["message"]) for e in skipped] == [
        ("knn_0", "failed", "knn_0 skipped: a similar trial ran out of memory")]


@pytest.mark.parametrize("task", TASKS)
def test_smaller_shrinks_the_configuration_and_its_estimate(task):
    ctx = FitContext(task, 50_000, 0 if task is Task.regression else 3, 2, 0)
    data_bytes = 50_000 * 30 * 8
    shrinking = {"random_forest", "extra_trees", "lightgbm", "xgboost", "catboost",
                 "hist_gradient_boosting", "mlp", "realmlp", "tabm"}
    for member in Family:
        if families.is_image(member):
            continue
        family = families.get(member)
        params = family.default_params(ctx)
        smaller = family.smaller(params, ctx)
        if member.value not in shrinking:
            assert smaller is None, member
            continue
        space = family.search_space(ctx)
        steps = 0
        while smaller is not None:
            assert set(smaller) == set(params)
            for name, spec in space.items():  # Optuna replays it through the space
                if isinstance(spec, (Int, Float)):
                    assert spec.low <= smaller[name] <= spec.high, (member, name)
                else:
                    assert isinstance(spec, Choice) and smaller[name] in spec.options
            assert family.memory_bytes(smaller, ctx, data_bytes) < \
                family.memory_bytes(params, ctx, data_bytes), (member, params, smaller)
            params, smaller = smaller, family.smaller(smaller, ctx)
            steps += 1
        assert 1 <= steps <= 10, member  # it ends at the family's floor


# -- real workers -------------------------------------------------------------------------------
def _categorical_table(n: int, seed: int = 0):
    """Twelve 50-level text columns and one number that decides the target: small as
    strings, but one-hot encoded (and as Python strings on the way) they take several
    times the memory the MLP's estimate allows for; LightGBM keeps them compact."""
    from modelyard.engine.training.data import Features, TrainingData

    frame = _categorical_frame(n, seed)
    y = (frame.pop("target") == "yes").to_numpy().astype(np.int64)
    import polars as pl

    frame = pl.from_pandas(frame).to_pandas()  # strings as the worker loads them
    return TrainingData(frame, y, Features(["x"], [f"c{i}" for i in range(12)]), [0, 1])


def _categorical_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = np.array([f"v{j:04d}" for j in range(50)])
    frame = pd.DataFrame({f"c{i}": levels[rng.integers(0, 50, n)] for i in range(12)})
    frame["x"] = rng.normal(size=n)
    frame["target"] = np.where(frame["x"] + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return frame


def _start(ws: Workspace, path, families_: list[str], budget: int, holdout: bool = True):
    meta = ws.ingest(path, target="target")
    proposed = ws.propose_plan(meta["id"], target="target", budget_seconds=budget)
    doc = proposed["plan"]
    doc["families"] = [{"family": f, "max_trials": 4} for f in families_]
    if holdout:
        doc["validation"] = {"kind": "holdout", "holdout_fraction": 0.2}
    approved = ws.approve_plan(Plan.model_validate(doc), based_on=proposed)
    return ws.start_run(approved)


def _events(folder: RunFolder) -> list[dict]:
    if not folder.events_path.exists():
        return []
    return [json.loads(line) for line in folder.events_path.read_text().splitlines()]


def _trials(folder: RunFolder) -> dict[str, dict]:
    return {e["model"]: e for e in _events(folder) if e["kind"] == "trial"}


def _explain(folder: RunFolder) -> str:
    lines = [f"{e['kind']}: {e.get('message')}" for e in _events(folder)]
    return f"run.json: {folder.read()}\nevents:\n" + "\n".join(lines) + \
        f"\nworker.log:\n{folder.log_tail(30)}"


def _fit_children(worker_pid: int, older_than: float = 0.0) -> list[psutil.Process]:
    """The guarded fits of a worker: children of its forkserver, not its own children
    (those are the forkserver and multiprocessing's resource tracker)."""
    try:
        found = psutil.Process(worker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for proc in found:
        try:
            if proc.ppid() != worker_pid and time.time() - proc.create_time() >= older_than \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`."""
    out = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def _describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            out.append(f"{pid} (parent {proc.ppid()}, {proc.status()}, "
                       f"{time.time() - proc.create_time():.1f} s old): {proc.cmdline()}")
        except psutil.NoSuchProcess:
            continue
    return "still running:\n" + "\n".join(out) + "\n"


@pytest.fixture
def guarded(monkeypatch):
    monkeypatch.setenv("MODELYARD_GUARD_FITS", "always")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_fit_over_the_limit_is_killed_retried_smaller_and_the_run_succeeds(
        ws, tmp_path, monkeypatch, guarded):
    monkeypatch.setenv("MODELYARD_MEMORY_LIMIT_GB", str(150 / 1024))  # 150 MB per fit
    path = tmp_path / "wide.csv"
    _categorical_frame(40_000).to_csv(path, index=False)
    # Trial caps and failures end this run; the budget only has to leave room for them
    # on a loaded machine.
    folder, proc = _start(ws, path, ["lightgbm", "mlp"], budget=60)
    proc.wait(timeout=120)
    assert folder.read()["status"] == "succeeded", _explain(folder)

    trials = _trials(folder)
    first = trials.get("mlp_0") or pytest.fail(_explain(folder))
    assert first["state"] == "failed", _explain(folder)
    assert first["message"].startswith("mlp_0 failed: out of memory: used "), first["message"]
    assert first["message"].endswith(" of the 150 MB allowed")
    logs = [e["message"] for e in _events(folder) if e["kind"] == "log"]
    retry = next(m for m in logs if m.startswith("mlp_0 ran out of memory; retrying smaller"))
    assert "layers 128-64 → 128" in retry and "estimates are now ×" in retry
    # The smaller configuration was the family's next trial; it too was too big (skipped
    # on the learned estimate, or killed), and the family stops after MAX_FAILURES.
    assert trials["mlp_1"]["params"]["layers"] == "128"
    mlp = [t for name, t in trials.items() if name.startswith("mlp_")]
    assert all(t["state"] == "failed" for t in mlp) and 2 <= len(mlp) <= 3
    assert all("memory" in t["message"] for t in mlp), [t["message"] for t in mlp]
    # The other family trained under the same guard and won (alone or as an ensemble).
    assert any(t["state"] == "complete" for n, t in trials.items() if n.startswith("lightgbm"))
    best = folder.read()["best_model"]
    assert best in trials and trials[best]["state"] == "complete"
    assert trials[best]["family"] in ("lightgbm", "ensemble")
    if best == "ensemble":
        assert {m["family"] for m in trials[best]["params"]["members"]} == {"lightgbm"}
    assert not (folder.path / "guard").exists()  # the scratch data is gone


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_fit_killed_by_the_system_fails_its_trial_and_the_run_succeeds(
        ws, tmp_path, wait, guarded):
    path = tmp_path / "wide.csv"
    _categorical_frame(4_000).to_csv(path, index=False)
    # Room for the forest after the killed fit, also on a loaded machine.
    folder, proc = _start(ws, path, ["linear", "random_forest"], budget=60, holdout=False)
    pid = folder.read()["pid"]
    # A random forest's fit lasts seconds: kill one that has run for a while, as the
    # kernel's OOM killer would (SIGKILL, no warning).
    victim = wait(lambda: _fit_children(pid, older_than=0.5) or proc.poll() is not None,
                  60, interval=0.05, what="a guarded fit")
    assert proc.poll() is None, _explain(folder)
    victim[0].send_signal(signal.SIGKILL)
    proc.wait(timeout=120)
    assert folder.read()["status"] == "succeeded", _explain(folder)
    killed = [t for t in _trials(folder).values() if "probably" in t["message"]]
    assert len(killed) == 1, _explain(folder)
    assert killed[0]["state"] == "failed"
    assert killed[0]["message"].endswith("failed: out of memory (probably): the system "
                                         "stopped the fit (killed by signal 9)")
    # The run went on: its model comes from a trial that completed.
    best = _trials(folder)[folder.read()["best_model"]]
    assert best["state"] == "complete" and best["model"] != killed[0]["model"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_an_uninterruptible_fit_does_not_break_the_budget(ws, tmp_path):
    # No environment: "auto" judges the first SVM trial on 12,000 rows by a fit on a
    # sample (one fold here takes ~25 s against a budget of 20) and leaves it out; were
    # it started, it would run guarded, and be stopped at the search deadline.
    path = tmp_path / "wide.csv"
    _categorical_frame(12_000).to_csv(path, index=False)
    folder, proc = _start(ws, path, ["linear", "svm"], budget=20)
    proc.wait(timeout=90)
    record = folder.read()
    assert record["status"] == "succeeded", _explain(folder)
    svm = _trials(folder).get("svm_0")
    left_out = [e["message"] for e in _events(folder)
                if e["kind"] == "log" and e["message"].startswith("svm left out: ")]
    assert left_out or (svm["state"], svm["message"]) == (
        "pruned", "svm_0 stopped: the time budget ran out"), _explain(folder)
    assert record["best_model"].startswith("linear_")
    # The budget plus its 10% grace, and room for refitting and saving the winner on a
    # loaded machine.
    assert record["finished_at"] - record["started_at"] < 20 * 1.1 + 8, _explain(folder)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_cancel_during_a_guarded_fit_leaves_no_process_behind(ws, tmp_path, wait, guarded):
    path = tmp_path / "wide.csv"
    _categorical_frame(8_000).to_csv(path, index=False)
    folder, proc = _start(ws, path, ["svm"], budget=60)  # one fold: ~8 s
    pid = folder.read()["pid"]
    children = wait(lambda: _fit_children(pid) or proc.poll() is not None, 60,
                    interval=0.05, what="a guarded fit")
    assert proc.poll() is None, _explain(folder)
    helpers = psutil.Process(pid).children()  # the forkserver and the resource tracker
    assert helpers

    assert ws.cancel(folder.id).status is RunStatus.cancelled
    assert proc.wait(timeout=15) in (130, -signal.SIGKILL)
    for seen in [*children, *helpers]:
        wait(lambda p=seen: not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, 10,
             what=f"process {seen.pid} to end")
    assert _group_members(pid) == []


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_guarded_fit_ends_when_its_worker_is_killed_alone(ws, tmp_path, wait, guarded):
    path = tmp_path / "wide.csv"
    _categorical_frame(8_000).to_csv(path, index=False)
    folder, proc = _start(ws, path, ["svm"], budget=60)  # one fold: ~8 s
    pid = folder.read()["pid"]
    wait(lambda: _fit_children(pid, older_than=1.0) or proc.poll() is not None, 60,
         interval=0.05, what="a guarded fit well into its fold")
    assert proc.poll() is None, _explain(folder)
    os.kill(pid, signal.SIGKILL)  # the worker only, not its group: nothing may linger
    proc.wait(timeout=10)
    # The fit notices by itself, long before its fold would end and find no one to tell.
    try:
        wait(lambda: _group_members(pid) == [], 3, what="the worker's children to end")
    except AssertionError:
        raise AssertionError(_describe(_group_members(pid)) + _explain(folder)) from None
