"""Early stopping: a booster learns its number of trees on each validation fold, and the
final model (refit or ensemble member) is built with the mean over the folds. CatBoost's
own handling (categories as strings, its deadline, no files written) is checked here too."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.evaluate import (
    OutOfTime,
    cross_validate,
    make_pipeline,
    make_preprocessor,
    mean_learnt,
    predict_matrix,
)
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.families.catboost import MISSING
from modelyard.engine.training.families.catboost_model import catboost_frame
from modelyard.engine.training.trainer import Trainer
from modelyard.schemas import FamilyChoice, Metric, Plan, Task
from modelyard.storage.runfolder import JournalWriter, RunFolder, read_events
from tests.engine.test_families_contract import _data

CATBOOST = families.get("catboost")


def _splits(n: int, k: int = 3):
    folds = np.array_split(np.arange(n), k)
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i])
            for i in range(k)]


def _train(plan: Plan, data, path):
    """One Trainer run of `plan` on `data` in a run folder at `path`: its best candidate
    and the folder (for the journal)."""
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    folder = RunFolder(path)
    folder.create({"id": path.name, "status": "running"})
    journal = JournalWriter(folder)
    try:
        best = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time()).run()
    finally:
        journal.close()
    return best, folder


def _noisy(task: Task, n: int = 300):
    """The contract's table with a quarter of its classes shuffled: the validation loss
    turns up after a while instead of falling for ever on separable classes."""
    data = _data(task, n=n)
    if task.is_classification:
        rng = np.random.default_rng(1)
        flip = rng.random(n) < 0.25
        data.y[flip] = rng.permutation(data.y[flip])
    return data


def test_the_mean_of_what_the_folds_learnt_rounds_up_and_needs_every_fold():
    assert mean_learnt([{"iterations": 10}, {"iterations": 11}]) == {"iterations": 11}
    assert mean_learnt([{"rate": 0.1}, {"rate": 0.2}]) == pytest.approx({"rate": 0.15})
    # A fold that learnt nothing (no early stop there): the final model keeps its params.
    assert mean_learnt([{"iterations": 10}, {}]) == {}
    assert mean_learnt([]) == {}


# The boosters that learn their number of trees: the setting it lands in, and how many
# rounds a fitted model holds.
STOPPING = {
    "catboost": ("iterations", lambda m: m.model_.tree_count_),
    "lightgbm": ("n_estimators", lambda m: m.booster_.current_iteration()),
    "xgboost": ("n_estimators", lambda m: m.get_booster().num_boosted_rounds()),
}


@pytest.mark.parametrize("task", [Task.binary, Task.multiclass, Task.regression])
@pytest.mark.parametrize("name", list(STOPPING))
def test_boosters_learn_their_trees_on_the_folds_and_the_final_model_uses_them(name, task):
    family = families.get(name)
    setting, rounds_of = STOPPING[name]
    assert setting not in family.search_space(FitContext(task, 300, 3, 1, 0))  # not searched
    data = _noisy(task)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    params = family.default_params(ctx) | {"learning_rate": 0.3}
    metric = {Task.binary: Metric.roc_auc, Task.multiclass: Metric.log_loss,
              Task.regression: Metric.rmse}[task]
    result = cross_validate(family, params, ctx, data, _splits(len(data.y)), metric)
    rounds = result.learnt[setting]
    # Early stopping ended it long before the cap, on this small and noisy table.
    assert isinstance(rounds, int) and 1 <= rounds < 200
    final = make_pipeline(family, params | result.learnt, ctx, data).fit(data.X, data.y)
    assert rounds_of(final.named_steps["model"]) == rounds


def test_catboost_without_a_learnt_number_grows_its_default_trees():
    data = _data(Task.binary, n=60)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    plain = make_pipeline(CATBOOST, CATBOOST.default_params(ctx), ctx, data)
    plain.fit(data.X, data.y)
    assert plain.named_steps["model"].model_.tree_count_ == 1000


def test_families_that_do_not_stop_early_learn_nothing():
    data = _data(Task.binary)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    for name in ("linear", "random_forest"):
        family = families.get(name)
        result = cross_validate(family, family.default_params(ctx), ctx, data,
                                _splits(len(data.y)), Metric.roc_auc)
        assert result.learnt == {}


def test_the_trainer_hands_the_learnt_trees_to_the_refit_and_says_so(tmp_path):
    data = _noisy(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="catboost", max_trials=1)], budget_seconds=60)
    best, folder = _train(plan, data, tmp_path / "run_es")
    assert best.family == "catboost"
    learnt = best.result.learnt["iterations"]
    assert best.params["iterations"] == learnt
    trial = next(e.trial for e, _ in read_events(folder.events_path, 0)
                 if e.trial is not None and e.trial.family == "catboost")
    # The record keeps the searched settings (as Optuna has them), and says what was learnt.
    assert "iterations" not in trial.params
    assert f"iterations {learnt} learnt on the folds" in trial.message


def test_catboost_gets_categories_as_strings_the_same_way_at_fit_and_predict():
    frame = pd.DataFrame({"n": [1.0, np.nan, 3.0],
                          "c": pd.Categorical(["a", None, "b"], categories=["a", "b"])})
    out, cats, texts = catboost_frame(frame)
    assert cats == ["c"] and texts == []
    assert list(out["c"]) == ["a", MISSING, "b"] and out["c"].dtype == object
    assert np.isnan(out["n"].iloc[1])  # missing numbers stay missing
    assert frame["c"].isna().iloc[1]  # the caller's frame is left as it was
    # An unseen category reaches the model as missing (the native preparation's rule),
    # so it predicts exactly as a missing one.
    data = _data(Task.binary)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    pipeline = make_pipeline(CATBOOST, CATBOOST.default_params(ctx), ctx, data)
    pipeline.fit(data.X, data.y)
    rows = data.X.head(2).copy()
    rows["colour"] = ["never-seen", None]
    pred = predict_matrix(pipeline, rows.assign(x1=0.0, x2=0.0), True, 2)
    np.testing.assert_allclose(pred[0], pred[1])


def test_catboost_stops_at_the_deadline_and_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _data(Task.binary, n=2000)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    prepared = make_preprocessor(CATBOOST, data).fit_transform(data.X, data.y)
    # Deep trees, 1000 rounds, a slow rate: seconds of work, stopped after ~0.2 s.
    model = CATBOOST.build(CATBOOST.default_params(ctx) | {"depth": 10}, ctx)
    started = time.perf_counter()
    with pytest.raises(OutOfTime):
        model.fit(prepared, data.y, **CATBOOST.fit_params(time.time() + 0.2))
    assert time.perf_counter() - started < 1.5
    assert model.model_.tree_count_ < 1000
    assert list(tmp_path.iterdir()) == []  # no catboost_info/ in the working directory


def test_xgboost_stops_at_the_deadline_and_keeps_no_hooks():
    import pickle

    data = _data(Task.binary, n=2000)
    family = families.get("xgboost")
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    prepared = make_preprocessor(family, data).fit_transform(data.X, data.y)
    # Deep trees, 2000 rounds at a slow rate: seconds of work, stopped after ~0.2 s.
    model = family.build(family.default_params(ctx) | {"max_depth": 12,
                                                       "learning_rate": 0.01}, ctx)
    started = time.perf_counter()
    with pytest.raises(OutOfTime):
        family.fit(model, prepared, data.y, deadline=time.time() + 0.2)
    assert time.perf_counter() - started < 1.5
    assert model.get_booster().num_boosted_rounds() < 2000
    # The fitted model carries neither the deadline nor early stopping into a bundle.
    assert model.get_params()["callbacks"] is None
    assert model.get_params()["early_stopping_rounds"] is None
    pickle.loads(pickle.dumps(model)).predict_proba(prepared.head(3))


def test_catboost_is_planned_for_moderate_tables_only():
    from modelyard.engine.planning.rules import choose_families

    assert "catboost" in [c.family for c in choose_families(5_000)]
    assert "catboost" not in [c.family for c in choose_families(500_000)]
    small = [c.family for c in choose_families(1_000)]
    assert "catboost" in small and len(small) <= 8  # a Plan holds at most 8 families


def test_a_plans_limit_on_a_learnt_setting_is_kept_not_refused(tmp_path):
    """A model's plan may cap LightGBM's n_estimators, as it could when the number was
    searched: the cap now bounds every fold and what the refit gets."""
    from modelyard.engine.training.search import learnt_caps, learnt_limits, limit_problems

    space = families.get("lightgbm").search_space(
        FitContext(task=Task.binary, n_rows=200, n_classes=2, n_jobs=1, seed=0))
    assert limit_problems(space, {"n_estimators": (None, 40)}, ("n_estimators",)) == []
    assert limit_problems(space, {"n_estimators": (None, 40)}) != []  # not learnt: refused
    assert limit_problems(space, {"made_up": (1, 2)}, ("n_estimators",)) != []
    assert learnt_caps(("n_estimators",), {"n_estimators": (10, 40)}) == {"n_estimators": 40}
    assert learnt_caps(("n_estimators",), {"n_estimators": (10, None)}) == {}
    assert learnt_limits({"n_estimators": 7}, {"n_estimators": (10, 40)}) == {"n_estimators": 10}

    data = _noisy(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="lightgbm", max_trials=2,
                                       limits={"n_estimators": (None, 12)})],
                budget_seconds=60)
    best, folder = _train(plan, data, tmp_path / "run_cap")
    # The winner, or each member of the blend of the two LightGBM trials.
    chosen = ([m["params"] for m in best.params["members"]] if best.family == "ensemble"
              else [best.params])
    assert all(1 <= p["n_estimators"] <= 12 for p in chosen)
    trials = [e.trial for e, _ in read_events(folder.events_path, 0)
              if e.trial is not None and e.trial.family == "lightgbm"]
    assert trials and all(t.params["n_estimators"] == 12 for t in trials)


@pytest.mark.parametrize("task", [Task.multiclass, Task.regression])
@pytest.mark.parametrize("name", list(STOPPING))
def test_a_booster_given_a_share_of_time_is_scored_on_the_rounds_it_had(name, task):
    """A trial's share of the time ends each fold's boosting where it is (the model keeps
    its rounds), rather than the deadline stopping the trial unscored."""
    family = families.get(name)
    assert family.cuts_short
    setting, rounds_of = STOPPING[name]
    data = _data(task, n=2000)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    # Deep trees at a slow rate: thousands of rounds' work, cut after a fraction of it.
    params = family.default_params(ctx) | {"learning_rate": 0.005}
    metric = Metric.log_loss if task.is_classification else Metric.rmse
    splits = _splits(len(data.y))
    started = time.time()
    result = cross_validate(family, params, ctx, data, splits, metric, seconds=0.6,
                            deadline=started + 60)
    assert time.time() - started < 10
    assert result.extra["cut_short"] == len(splits)
    assert np.isfinite(result.mean) and not np.isnan(result.oof).any()
    rounds = result.learnt[setting]
    assert 1 <= rounds < 1000
    final = make_pipeline(family, params | result.learnt, ctx, data).fit(data.X, data.y)
    assert rounds_of(final.named_steps["model"]) == rounds


def test_the_share_of_time_is_for_boosting_not_for_preparing_the_features(monkeypatch):
    """Preparing a fold's features (free text's TF-IDF on a large table takes seconds) is
    not taken from the booster's share: the fold cache keeps it for later trials. Before,
    a holdout whose preparation outlasted the share was boosted for a single round."""
    from modelyard.engine.training import evaluate

    class Slow:
        def __init__(self, inner):
            self.inner = inner

        def fit_transform(self, X, y=None):
            time.sleep(1.0)
            return self.inner.fit_transform(X, y)

        def transform(self, X):
            return self.inner.transform(X)

    real = evaluate.make_preprocessor
    monkeypatch.setattr(evaluate, "make_preprocessor", lambda f, d: Slow(real(f, d)))
    family = families.get("lightgbm")
    data = _data(Task.regression, n=2000)
    ctx = FitContext(Task.regression, len(data.y), data.n_classes, 1, 0)
    params = family.default_params(ctx) | {"learning_rate": 0.005}
    splits = _splits(len(data.y))
    result = cross_validate(family, params, ctx, data, splits, Metric.rmse, seconds=1.5,
                            deadline=time.time() + 60)
    assert result.extra["cut_short"] == len(splits)
    assert result.learnt["n_estimators"] > 2  # 1 when the share went on the preparation


def test_a_family_that_cannot_cut_short_ignores_the_share():
    family = families.get("random_forest")
    assert not family.cuts_short
    data = _data(Task.binary, n=300)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    result = cross_validate(family, family.default_params(ctx), ctx, data,
                            _splits(len(data.y)), Metric.roc_auc, seconds=1e-3)
    assert "cut_short" not in result.extra and np.isfinite(result.mean)
