"""The search across sessions and runs: the queue, "add more time", pruning, and the same
leaderboard from the same Plan and seed."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from modelyard.engine.intake.samples import write_sample
from modelyard.engine.training import families
from modelyard.engine.training.evaluate import cross_validate
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import FamilyChoice, Metric, Plan, Task
from modelyard.storage import runs as run_store
from modelyard.storage.runfolder import ACTIVE, RunFolder
from tests.engine.test_families_contract import _data


def _approved(ws, tmp_path, *, budget=6, families_=None, seed=0):
    meta = ws.ingest(write_sample("breast_cancer", tmp_path), target="diagnosis")
    proposed = ws.propose_plan(meta["id"], budget_seconds=budget, seed=seed)
    plan = Plan.model_validate(proposed["plan"])
    if families_ is not None:
        plan = plan.model_copy(update={"families": families_})
    return ws.approve_plan(plan, based_on=proposed)


def _wait_done(ws, folder: RunFolder, wait, timeout=120):
    def done():
        ws.refresh()  # supervises and drives the queue, as the app does
        return folder.read()["status"] not in ACTIVE
    wait(done, timeout, interval=0.3, what=f"{folder.id} to finish")
    return folder.read()


def test_after_fold_can_stop_a_cross_validation_early():
    data = _data(Task.binary)
    family = families.get("linear")
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    folds = np.array_split(np.arange(len(data.y)), 4)
    splits = [(np.concatenate(folds[:i] + folds[i + 1:]), folds[i]) for i in range(4)]
    seen = []

    def after_fold(step, mean):
        seen.append((step, mean))
        if step == 1:
            raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        cross_validate(family, family.default_params(ctx), ctx, data, splits,
                       Metric.roc_auc, after_fold=after_fold)
    assert [s for s, _ in seen] == [0, 1]  # stopped after the second of four folds


@pytest.mark.slow
def test_the_queue_holds_a_second_run_until_the_first_is_done(ws, tmp_path, monkeypatch,
                                                              wait):
    monkeypatch.setenv("MODELYARD_MAX_PARALLEL_RUNS", "1")
    plan = _approved(ws, tmp_path, budget=5)
    first, first_proc = ws.start_run(plan, name="first")
    second, second_proc = ws.start_run(plan, name="second")
    assert first_proc is not None and second_proc is None
    assert second.read()["status"] == "queued"
    assert run_store.get_run(ws.catalog, second.id)["status"] == "queued"
    _wait_done(ws, first, wait)
    second_record = _wait_done(ws, second, wait)
    first_record = first.read()
    assert first_record["status"] == second_record["status"] == "succeeded"
    assert second_record["started_at"] >= first_record["finished_at"] - 1.0


@pytest.mark.slow
def test_added_time_that_finds_nothing_better_keeps_the_earlier_model(ws, tmp_path, wait):
    """A later session's best (a blend recomputed over a larger pool can score a little
    lower) does not replace a better model an earlier session delivered: that model stays,
    the journal says so, and it is the leaderboard's best."""
    quick = [FamilyChoice(family=f, max_trials=50)
             for f in (Family.dummy, Family.linear, Family.lightgbm)]
    plan = _approved(ws, tmp_path, budget=6, families_=quick)
    folder, _ = ws.start_run(plan)
    before = _wait_done(ws, folder, wait)
    assert before["status"] == "succeeded"
    # The earlier session's model, made unbeatable: a perfect score.
    meta_path = folder.model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text())
    perfect = 1.0 if before["greater_is_better"] else 0.0
    meta_path.write_text(json.dumps({**meta, "cv_score": perfect}))
    bundle = meta_path.read_bytes()

    ws.add_time(folder.id, 8)
    after = _wait_done(ws, folder, wait)
    assert after["status"] == "succeeded", after.get("message")
    assert after["best_model"] == before["best_model"] and after["best_score"] == perfect
    assert "kept from an earlier session" in after["message"]
    assert meta_path.read_bytes() == bundle  # the bundle was not replaced
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    assert any(e["message"].startswith(f"kept {before['best_model']} from the earlier "
                                       "session") for e in events)
    ws.refresh()
    second_layer = [t for t in run_store.trials(ws.catalog, folder.id)
                    if t["model"] in ("ensemble", "stack") and t["model"] !=
                    before["best_model"]]
    assert all(t["state"] != "complete" for t in second_layer)


@pytest.mark.slow
def test_add_time_continues_the_same_study(ws, tmp_path, wait):
    # Quick families only: one CatBoost fit with early stopping can outlast 6 seconds on
    # a loaded machine, and then neither session adds a trial (what is tested here is
    # that the second session goes on with the first one's studies).
    quick = [FamilyChoice(family=f, max_trials=50)
             for f in (Family.dummy, Family.linear, Family.lightgbm, Family.random_forest)]
    plan = _approved(ws, tmp_path, budget=6, families_=quick)
    folder, _ = ws.start_run(plan)
    before = _wait_done(ws, folder, wait)
    assert before["status"] == "succeeded"
    ws.refresh()
    models_before = {t["model"] for t in run_store.trials(ws.catalog, folder.id)}
    optuna_before = _trial_numbers(folder)

    ws.add_time(folder.id, 10)  # room for a new trial after the worker's start, loaded
    after = _wait_done(ws, folder, wait)
    assert after["status"] == "succeeded", after.get("message")
    assert after["sessions"] == 2 and after["total_budget_seconds"] == 16
    ws.refresh()
    models_after = {t["model"] for t in run_store.trials(ws.catalog, folder.id)}
    optuna_after = _trial_numbers(folder)
    # The same studies went on: every earlier trial is still there, numbered as before,
    # and new ones follow them.
    for study, numbers in optuna_before.items():
        assert optuna_after[study][: len(numbers)] == numbers
    assert sum(map(len, optuna_after.values())) > sum(map(len, optuna_before.values()))
    assert models_before <= models_after and len(models_after) > len(models_before)
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    assert any(e["message"].startswith("continuing:") for e in events)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))  # one journal, numbered on
    # The better model of the two sessions is kept.
    if after["greater_is_better"]:
        assert after["best_score"] >= before["best_score"] - 1e-12


def _trial_numbers(folder: RunFolder) -> dict[str, list[int]]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder.optuna_path)))
    return {s.study_name: [t.number for t in storage.get_all_trials(s._study_id)]
            for s in storage.get_all_studies()}


@pytest.mark.slow
def test_same_plan_and_seed_with_fixed_trials_give_the_same_leaderboard(ws, tmp_path, wait):
    # Trial caps end the search long before the (generous) budget: no clock involved.
    fixed = [FamilyChoice(family=Family.dummy, max_trials=1),
             FamilyChoice(family=Family.linear, max_trials=4),
             FamilyChoice(family=Family.lightgbm, max_trials=4)]
    plan = _approved(ws, tmp_path, budget=600, families_=fixed, seed=7)
    boards = []
    for name in ("a", "b"):
        folder, _ = ws.start_run(plan, name=name)
        assert _wait_done(ws, folder, wait, timeout=200)["status"] == "succeeded"
        ws.refresh()
        boards.append([(r["model"], round(r["cv_score"], 12), json.dumps(r["params"]))
                       for r in run_store.leaderboard(ws.catalog, run_id=folder.id)])
    assert boards[0] == boards[1]
    assert len(boards[0]) >= 8


def test_a_trial_that_would_not_fit_in_memory_is_skipped_with_the_reason(tmp_path,
                                                                          monkeypatch):
    from types import SimpleNamespace

    from modelyard.engine.training.cv import make_splits
    from modelyard.engine.training.trainer import Trainer
    from modelyard.storage.runfolder import JournalWriter

    data = _data(Task.binary)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.lightgbm, max_trials=3)],
                budget_seconds=30)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_mem")
    folder.create({"id": "run_mem", "status": "running"})
    journal = JournalWriter(folder)
    monkeypatch.setattr("modelyard.engine.training.memory.psutil.virtual_memory",
                        lambda: SimpleNamespace(available=1_000))  # 1 kB free
    import time

    best = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time()).run()
    journal.close()
    assert best.model == ""
    trials = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    skipped = [e for e in trials if e["kind"] == "trial"]
    assert skipped and all(e["state"] == "failed" for e in skipped)
    assert "of memory and 0.0 GB are free" in skipped[0]["message"]


def test_parallel_trials_share_the_journal_and_the_state_safely(tmp_path):
    import time

    from modelyard.engine.training.cv import make_splits
    from modelyard.engine.training.trainer import Trainer, parallel_trials
    from modelyard.storage.runfolder import JournalWriter

    assert parallel_trials(2) == 1 and parallel_trials(4) == 2 and parallel_trials(16) == 8
    data = _data(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.dummy, max_trials=1),
                          FamilyChoice(family=Family.linear, max_trials=6),
                          FamilyChoice(family=Family.lightgbm, max_trials=6)],
                budget_seconds=120)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_par")
    folder.create({"id": "run_par", "status": "running"})
    journal = JournalWriter(folder)
    trainer = Trainer(plan, data, splits, journal, folder.optuna_path, n_jobs=4,
                      started=time.time())
    assert trainer.slots == 2 and trainer.ctx.n_jobs == 2
    best = trainer.run()
    journal.close()
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    trials = [e for e in events if e["kind"] == "trial" and e["model"] != "ensemble"]
    assert sorted(e["model"] for e in trials) == sorted(
        ["dummy_0"] + [f"linear_{i}" for i in range(6)] + [f"lightgbm_{i}" for i in range(6)])
    assert best.model and best.score > 0.8


def test_the_search_stays_inside_the_plans_limits(tmp_path):
    """Limits from a review reach every trial, the library defaults included."""
    import time

    from modelyard.engine.training.cv import make_splits
    from modelyard.engine.training.trainer import Trainer
    from modelyard.storage.runfolder import JournalWriter

    data = _data(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.lightgbm, max_trials=6,
                                       limits={"num_leaves": (None, 8),
                                               "min_child_samples": (30, None)})],
                budget_seconds=120)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_lim")
    folder.create({"id": "run_lim", "status": "running"})
    journal = JournalWriter(folder)
    Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time()).run()
    journal.close()
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    trials = [e for e in events if e["kind"] == "trial" and e["family"] == "lightgbm"]
    assert len(trials) == 6
    assert trials[0]["params"]["num_leaves"] == 8  # LightGBM's 31, moved inside
    assert all(4 <= t["params"]["num_leaves"] <= 8 for t in trials)
    assert all(30 <= t["params"]["min_child_samples"] <= 100 for t in trials)


def test_a_member_too_slow_to_refit_is_left_out_of_the_ensemble(tmp_path):
    """Three models whose blend beats each; the slowest cannot be refitted before the
    budget ends, so the blend of the other two is chosen, and says so."""
    import time

    from modelyard.engine.training.cv import make_splits
    from modelyard.engine.training.evaluate import CVResult
    from modelyard.engine.training.pool import Candidate
    from modelyard.engine.training.trainer import Trainer
    from modelyard.storage.runfolder import JournalWriter

    rng = np.random.default_rng(0)
    n = 600
    truth = rng.normal(size=n)
    data = _data(Task.regression, n=n)
    data.y = truth
    plan = Plan(dataset_id="ds_x", target="y", task=Task.regression, metric=Metric.rmse,
                families=[FamilyChoice(family=Family.dummy, max_trials=1)],
                budget_seconds=60)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_ens")
    folder.create({"id": "run_ens", "status": "running"})
    journal = JournalWriter(folder)
    trainer = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time())

    def member(name, noise_seed, seconds):
        oof = truth + np.random.default_rng(noise_seed).normal(scale=0.5, size=n)
        folds = [float(np.sqrt(np.mean((oof[v] - truth[v]) ** 2))) for _, v in splits]
        return Candidate(name, name.split("_")[0], {}, float(np.mean(folds)), seconds,
                    CVResult(folds, oof, seconds, 0.0))

    trainer.pool.members = [member("lightgbm_0", 1, 0.1), member("xgboost_0", 2, 0.1),
                            member("random_forest_0", 3, 30.0)]
    trainer.pool.sort()
    trainer.best = trainer.pool.members[0]
    trainer.schedule.end = time.time() + 5  # 30 s of refitting cannot fit any more
    trainer._ensemble()
    journal.close()
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    blend = [e for e in events if e["kind"] == "trial" and e["model"] == "ensemble"][-1]
    assert blend["state"] == "complete", blend["message"]
    assert "without random_forest_0" in blend["message"]
    members = {m["model"] for m in blend["params"]["members"]}
    assert members == {"lightgbm_0", "xgboost_0"}
    assert trainer.best.model == "ensemble" and trainer.best.score < trainer.pool.members[0].score
