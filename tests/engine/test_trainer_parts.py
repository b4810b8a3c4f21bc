"""The trainer's parts on their own: the schedule's turns, the out-of-fold pool, and
each trial's outcome recorded once, the same in the journal and in Optuna."""

from __future__ import annotations

import time

import numpy as np
from optuna.trial import TrialState

from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.evaluate import CVResult
from modelyard.engine.training.families import Family
from modelyard.engine.training.pool import POOL_SIZE, Candidate, OofPool
from modelyard.engine.training.schedule import TOP_FAMILIES, Schedule
from modelyard.engine.training.trainer import Trainer
from modelyard.schemas import FamilyChoice, Metric, Plan, Task, TrialStatus
from modelyard.storage.runfolder import JournalWriter, RunFolder, read_events
from tests.engine.test_families_contract import _data


def _plan(*names: str, metric: Metric = Metric.roc_auc, max_trials: int = 3) -> Plan:
    return Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=metric,
                families=[FamilyChoice(family=Family(n), max_trials=max_trials)
                          for n in names], budget_seconds=60)


def test_untried_families_come_first_then_the_best_few():
    schedule = Schedule(_plan("linear"), n_splits=5, started=time.time())
    for name, score in [("a", 0.7), ("b", 0.9), ("c", 0.8), ("d", 0.6), ("e", 0.5)]:
        schedule.scored(name, score)
    active = dict.fromkeys(["a", "b", "c", "d", "e", "new"])
    assert schedule.contenders(active) == ["new", "b", "c", "a"][:1 + TOP_FAMILIES]
    schedule.scored("b", 0.1)  # a worse score never lowers a family's best
    assert schedule.family_best["b"] == 0.9


def test_on_many_rows_the_boosters_have_their_first_turns_first():
    plan = _plan("dummy", "linear", "random_forest", "lightgbm", "xgboost")
    active = {str(c.family): (c, None) for c in plan.families}
    small = Schedule(plan, n_splits=5, started=time.time(), n_rows=9_999)
    assert small.contenders(active) == ["dummy", "linear", "random_forest", "lightgbm",
                                        "xgboost"]
    large = Schedule(plan, n_splits=5, started=time.time(), n_rows=10_000)
    assert large.contenders(active) == ["lightgbm", "xgboost", "dummy", "linear",
                                        "random_forest"]
    # With free text the linear model goes first whatever the size: the trees' text
    # features need an SVD that took a whole 60 s budget on 20,000 tweets.
    text = Schedule(plan, n_splits=5, started=time.time(), n_rows=20_000, text=True)
    assert text.contenders(active) == ["linear", "lightgbm", "xgboost", "dummy",
                                       "random_forest"]


def test_a_first_trial_judged_quick_by_its_sample_runs_unguarded():
    from modelyard.engine.training import families

    schedule = Schedule(_plan("linear"), n_splits=5, started=time.time(), n_rows=50_000)
    linear = families.get("linear")
    assert not schedule.wants_estimate(linear, 49_999) and schedule.may_overrun(linear, 49_999)
    assert schedule.wants_estimate(linear, 50_000) and schedule.may_overrun(linear, 50_000)
    schedule.family_estimate["linear"] = 2.0  # of 60 s
    assert not schedule.wants_estimate(linear, 50_000)
    assert not schedule.may_overrun(linear, 50_000)
    schedule.family_estimate["linear"] = 40.0
    assert schedule.may_overrun(linear, 50_000)
    assert not schedule.wants_estimate(families.get("lightgbm"), 50_000)  # stops itself


def test_a_searched_trial_on_many_rows_is_judged_by_what_the_search_may_reach():
    from modelyard.engine.training import families

    # A 60 s budget; the forest's default trial took 1 s. On a small table the next one
    # runs in-process; on many rows a searched forest (more trees, every row) can take
    # ten times as long, more than a quarter of what is left: it runs where it can be
    # stopped.
    forest = families.get("random_forest")
    small = Schedule(_plan("random_forest"), n_splits=5, started=time.time(), n_rows=5_000)
    small.timed("random_forest", 1.0)
    assert not small.may_overrun(forest, 5_000)
    large = Schedule(_plan("random_forest"), n_splits=5, started=time.time(),
                     n_rows=245_000)
    large.timed("random_forest", 2.0)
    assert large.may_overrun(forest, 245_000)
    large.family_seconds["random_forest"] = [0.5]
    assert not large.may_overrun(forest, 245_000)


def _candidate(name: str, score: float) -> Candidate:
    oof = np.full(4, score)
    return Candidate(name, name.split("_")[0], {"i": score}, score, 0.5,
                     CVResult([score], oof, 0.5, 0.0))


def test_the_pool_keeps_the_best_and_a_later_session_finds_them(tmp_path):
    pool = OofPool(Metric.rmse, tmp_path / "oof")  # lower is better
    for i in range(POOL_SIZE + 3):
        pool.add(_candidate(f"m_{i}", float(POOL_SIZE + 3 - i)))
    kept = [c.model for c in pool.members]
    assert kept == [f"m_{i}" for i in range(POOL_SIZE + 2, 2, -1)]
    assert sorted(p.stem for p in (tmp_path / "oof").glob("*.npy")) == sorted(kept)
    again = OofPool(Metric.rmse, tmp_path / "oof")
    again.restore()
    assert [c.model for c in again.members] == kept
    assert np.array_equal(again.members[0].result.oof, pool.members[0].result.oof)


def test_every_trial_is_recorded_once_alike_in_the_journal_and_in_optuna(tmp_path):
    data = _data(Task.binary, n=200)
    plan = _plan("dummy", "linear", "knn", max_trials=3)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_rec")
    folder.create({"id": "run_rec", "status": "running"})
    journal = JournalWriter(folder)
    trainer = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time())
    trainer.memory.too_big["knn"] = 0  # every knn trial is skipped: a failed outcome
    trainer.run()
    journal.close()
    trials = [e.trial for e, _ in read_events(folder.events_path, 0)
              if e.trial is not None and e.trial.family != "ensemble"]
    assert len({t.model for t in trials}) == len(trials), "a trial was recorded twice"
    states = {TrialStatus.complete: TrialState.COMPLETE, TrialStatus.pruned: TrialState.PRUNED,
              TrialStatus.failed: TrialState.FAIL}
    studies = {s.study_name: s for s in trainer.storage.get_all_studies()}
    recorded = {}
    for summary in studies.values():
        for t in trainer.storage.get_all_trials(summary._study_id):
            if t.state is not TrialState.WAITING:
                recorded[f"{summary.study_name}_{t.number}"] = (t.state, t.value)
    assert recorded == {t.model: (states[t.state], t.cv_score) for t in trials}
    knn = [t for t in trials if t.family == "knn"]
    assert knn and all(t.state is TrialStatus.failed and "skipped" in t.message for t in knn)
    assert any(t.state is TrialStatus.complete and t.family == "linear" for t in trials)


def test_small_tables_train_with_one_blas_thread():
    # Run in a fresh interpreter: the limit is for the worker's whole process.
    import subprocess
    import sys

    code = ("from threadpoolctl import threadpool_info\n"
            "from modelyard.engine.training.worker import one_blas_thread\n"
            "one_blas_thread((7000, 60))\n"
            "print(sorted({i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          "OPENBLAS_NUM_THREADS": "2"})
    assert out.stdout.strip() == "[1]", out.stderr


def test_a_refitted_leader_keeps_time_for_its_likely_blend_partner(tmp_path):
    data = _data(Task.binary, n=200)
    plan = _plan("dummy", "linear", "lightgbm")
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_partner")
    folder.create({"id": "run_partner", "status": "running"})
    trainer = Trainer(plan, data, splits, JournalWriter(folder), folder.optuna_path, 1,
                      time.time())

    def member(model: str, family: str, score: float, seconds: float) -> Candidate:
        found = _candidate(model, score)
        found.family, found.fit_seconds = family, seconds
        return found

    leader = member("lightgbm_3", "lightgbm", 0.9, 2.0)
    trainer.best = leader
    trainer.pool.add(leader)
    trainer.pool.add(member("lightgbm_1", "lightgbm", 0.89, 1.0))
    alone = trainer.schedule.search_deadline(2.0)
    # Another trial of the leader's family is not the likely partner.
    assert trainer.search_deadline() == alone
    trainer.pool.add(member("linear_0", "linear", 0.85, 1.5))
    assert trainer.search_deadline() == trainer.schedule.search_deadline(3.5) < alone
    # A partner whose refit would take more than its share of the budget is not waited for.
    trainer.pool.members[-1].fit_seconds = 0.2 * plan.budget_seconds
    assert trainer.search_deadline() == alone


def test_a_first_trial_shares_the_time_left_with_the_untried_families(tmp_path):
    from modelyard.engine.training.trainer import TRIAL_SHARE

    data = _data(Task.binary, n=200)
    plan = _plan("dummy", "linear", "lightgbm", "catboost", "random_forest")
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_share")
    folder.create({"id": "run_share", "status": "running"})
    trainer = Trainer(plan, data, splits, JournalWriter(folder), folder.optuna_path, 1,
                      time.time())
    trainer._active = {c.family: None for c in plan.families}
    trainer.schedule.scored("dummy", 0.5)
    trainer.schedule.scored("linear", 0.8)
    deadline = time.time() + 40
    # CatBoost untried, LightGBM and the forest too: a third of the time left each.
    assert abs(trainer._trial_seconds("catboost", deadline) - 40 / 3) < 0.1
    # A family with a score already: its searched trials may take TRIAL_SHARE.
    assert abs(trainer._trial_seconds("linear", deadline) - 40 * TRIAL_SHARE) < 0.1
    # The last untried family is not given more than TRIAL_SHARE either.
    for name in ("lightgbm", "random_forest"):
        trainer.schedule.scored(name, 0.9)
    assert abs(trainer._trial_seconds("catboost", deadline) - 40 * TRIAL_SHARE) < 0.1
