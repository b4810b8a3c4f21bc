"""The budget on many rows: a family that cannot stop itself is judged by a fit on a
sample before its first trial, and a guarded fit is stopped at the search deadline."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.evaluate import OutOfTime
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.guard import FitGuard
from modelyard.engine.training.trainer import Trainer
from modelyard.schemas import FamilyChoice, Metric, Plan, Task
from modelyard.storage.runfolder import JournalWriter, RunFolder
from tests.engine.test_families_contract import _data


def _events(folder: RunFolder) -> list[dict]:
    return [json.loads(line) for line in folder.events_path.read_text().splitlines()]


@pytest.mark.slow
def test_a_family_whose_first_trial_cannot_finish_is_left_out_and_said_so(tmp_path):
    # A support vector machine on 60,000 rows: its kernel grows with the square of the
    # rows, so five folds take many minutes; 20 seconds cannot hold one trial. The
    # dummy, judged the same way, is quick and runs.
    data = _data(Task.binary, n=60_000)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.dummy, max_trials=1),
                          FamilyChoice(family=Family.svm, max_trials=3)],
                budget_seconds=20)
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(tmp_path / "run_est")
    folder.create({"id": "run_est", "status": "running"})
    journal = JournalWriter(folder)
    started = time.time()
    trainer = Trainer(plan, data, splits, journal, folder.optuna_path, 2, started)
    best = trainer.run()
    journal.close()
    events = _events(folder)
    trials = {e["model"] for e in events if e["kind"] == "trial"}
    said = [f"{e['kind']}: {e['message']}" for e in events if e["kind"] != "resource"]
    assert best.model == "dummy_0" and "dummy_0" in trials, said
    assert not any(m.startswith("svm") for m in trials), said
    left_out = [e["message"] for e in events if e["kind"] == "log" and e["message"]
                .startswith("svm left out: one trial would take about")]
    assert left_out and "on 60,000 rows (judged by fits on samples" in left_out[0]
    estimate = trainer.schedule.family_estimate["svm"]
    assert estimate > trainer.search_deadline() - started
    assert 0 < trainer.schedule.family_estimate["dummy"] < estimate


def test_a_guarded_fit_is_stopped_when_its_moving_deadline_passes(tmp_path):
    data = _data(Task.binary, n=2_000)
    splits = [(np.arange(400, 2_000), np.arange(400))]
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    guard = FitGuard(tmp_path / "guard", data, splits)
    params = families.get("random_forest").default_params(ctx) | {"n_estimators": 5000}
    asked = []

    def deadline() -> float:  # one second from the first question on
        asked.append(time.time())
        return asked[0] + 1.0

    try:
        with pytest.raises(OutOfTime):
            guard.cross_validate("random_forest", params, ctx, Metric.roc_auc,
                                 limit=8 * 2**30, stop_at=deadline)
    finally:
        guard.close()
    assert len(asked) > 1  # asked again at every check, not read once


def test_a_guarded_fit_that_would_start_past_its_deadline_is_not_started(tmp_path):
    data = _data(Task.binary, n=300)
    splits = [(np.arange(60, 300), np.arange(60))]
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    guard = FitGuard(tmp_path / "guard", data, splits)
    params = families.get("linear").default_params(ctx)
    try:
        first = guard.cross_validate("linear", params, ctx, Metric.roc_auc,
                                     limit=8 * 2**30, deadline=time.time() + 120)
        started = first.extra["guard"]["start_seconds"]
        assert guard.start_seconds == started > 0
        # Less time left than the last child took to start: no child is started.
        before = time.perf_counter()
        with pytest.raises(OutOfTime):
            guard.cross_validate("linear", params, ctx, Metric.roc_auc, limit=8 * 2**30,
                                 deadline=time.time() + started / 2)
        assert time.perf_counter() - before < started / 2
    finally:
        guard.close()


def test_the_budget_counts_from_the_workers_launch_up_to_a_tenth_of_it():
    from modelyard.engine.training.schedule import clock_start

    # Imports that took 2 s of a 60 s budget are inside it; 9 s of a 60 s budget (a
    # loaded machine) cost 6 s; a 5 s budget gives up at most half a second.
    assert clock_start(repr(1000.0), 60, now=1002.0) == 1000.0
    assert clock_start(repr(1000.0), 60, now=1009.0) == pytest.approx(1003.0)
    assert clock_start(repr(1000.0), 5, now=1003.0) == pytest.approx(1002.5)
    # No launch time, one that is not a time, or one after now: from now.
    assert clock_start(None, 60, now=1002.0) == 1002.0
    assert clock_start("not a time", 60, now=1002.0) == 1002.0
    assert clock_start(repr(1010.0), 60, now=1002.0) == 1002.0
