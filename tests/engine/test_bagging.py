"""Bagging and stacking (engine/training/bagging.py, stacking.py).

A real Run (`modelyard run` in a subprocess, its worker a real child, the catalog a real
DuckDB under tmp_path) on scikit-learn's breast-cancer table: its delivered model must
predict exactly the average of the fold models kept in its run folder; the bundle, its
export (ONNX graph averaging the folds, native boosters per fold), the prediction server
and the explanations must all use the whole bag. Stacking is checked on constructed
out-of-fold predictions where a second layer must win, and where it cannot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest

from modelyard.app.workspace import Workspace
from modelyard.engine.errors import BadInputError
from modelyard.engine.intake.samples import write_sample
from modelyard.engine.results import explain
from modelyard.engine.results.artifacts import open_run
from modelyard.engine.results.export import export_bundle
from modelyard.engine.training import bagging, families
from modelyard.engine.training.bagging import BaggedModel
from modelyard.engine.training.bundle import Predictor
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.ensemble import WeightedEnsemble
from modelyard.engine.training.ensembler import blend
from modelyard.engine.training.evaluate import CVResult, predict_matrix
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.guard import FitGuard
from modelyard.engine.training.pool import POOL_SIZE, Candidate, OofPool
from modelyard.engine.training.stacking import StackedModel, features, stack, stacker_predict
from modelyard.schemas import FamilyChoice, Metric, Plan, Task, TrialStatus
from modelyard.storage.paths import Home
from tests.engine.test_families_contract import _data

BUDGET = 60  # generous: the run ends when both families have had their trials


def _plan() -> dict:
    return Plan(dataset_id="ds_x", target="diagnosis", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.linear, max_trials=2),
                          FamilyChoice(family=Family.lightgbm, max_trials=2)],
                budget_seconds=BUDGET).model_dump(mode="json")


def _run_plan(root: Path, plan: dict, env: dict, *more: str) -> dict:
    """`modelyard run` of root/train.csv under `plan` in a subprocess: its JSON summary."""
    (root / "plan.json").write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(root / "train.csv"),
         "--target", "diagnosis", "--plan", str(root / "plan.json"), *more, "--json"],
        capture_output=True, text=True, env=env, cwd=root, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def bagged(tmp_path_factory, child_env):
    """A trained Run whose plan validates in 5 stratified folds: its model is bagged."""
    root = tmp_path_factory.mktemp("bagged-run")
    frame = pd.read_csv(write_sample("breast_cancer", root))
    frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame.iloc[:450].to_csv(root / "train.csv", index=False)
    frame.iloc[450:].drop(columns="diagnosis").to_csv(root / "test.csv", index=False)
    env = child_env(root / "home")
    summary = _run_plan(root, _plan(), env, "--test", str(root / "test.csv"), "--out",
                        str(root / "out"))
    run_dir = root / "home" / "runs" / summary["run_id"]
    return {"root": root, "home": root / "home", "env": env, "summary": summary,
            "run_dir": run_dir, "test": pd.read_csv(root / "test.csv")}


def _fold_mean(bag_dir: Path, X: pd.DataFrame) -> np.ndarray:
    files = sorted(bag_dir.glob("fold*.joblib"))
    assert len(files) == 5, files
    return np.mean([predict_matrix(joblib.load(f), X, True, 2) for f in files], axis=0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_bagged_run_predicts_the_mean_of_its_fold_models(bagged):
    run_dir, test = bagged["run_dir"], bagged["test"]
    predictor = Predictor.load(run_dir)
    meta = predictor.meta
    X = test[predictor.features]
    if meta["family"] == "ensemble":
        members = meta["params"]["members"]
        assert isinstance(predictor.pipeline, WeightedEnsemble)
        assert all(m["bagged"] for m in members)
        expected = sum(m["weight"] * _fold_mean(run_dir / "bags" / m["model"], X)
                       for m in members)
    elif meta["family"] == "stack":  # a stack won on this machine's timing: its first
        # layer is the members' fold-model means, its second weighs them.
        stacked = predictor.pipeline
        assert isinstance(stacked, StackedModel)
        assert all(isinstance(b, BaggedModel) for b in stacked.bases)
        means = [_fold_mean(run_dir / "bags" / m["model"], X) for m in meta["params"]["members"]]
        expected = stacker_predict(stacked.stacker, features(means, True, 2), True, 2)
    else:
        assert isinstance(predictor.pipeline, BaggedModel)
        expected = _fold_mean(run_dir / "bags" / meta["model"], X)
    written = pd.read_csv(bagged["root"] / "out" / "predictions.csv")
    proba = [f"proba_{c}" for c in predictor.classes]
    np.testing.assert_allclose(written[proba].to_numpy(), expected,
                               rtol=1e-9, atol=1e-12)
    assert "bagged" in meta["delivered"] or "average" in meta["delivered"]
    # No refit: the journal says the fold models were kept.
    events = (run_dir / "events.jsonl").read_text()
    assert "keeping the fold models" in events and "refitting" not in events


@pytest.mark.slow
def test_only_the_pools_trials_keep_their_fold_models(bagged):
    run_dir = bagged["run_dir"]
    pooled = {p.stem for p in (run_dir / "oof").glob("*.npy")}
    kept = {p.name for p in (run_dir / "bags").iterdir() if not p.name.startswith(".")}
    assert kept == pooled and kept
    assert not any((run_dir / "bags" / ".pending").glob("*")), "a trial left its folds"


@pytest.mark.slow
def test_the_bundle_round_trips_and_its_manifest_guards_the_bag(bagged, tmp_path):
    ws = Workspace(Home(bagged["home"]))
    result = open_run(ws.home, bagged["summary"]["run_id"])
    out = export_bundle(result, tmp_path / "bundle", make_zip=False).folder
    test = bagged["test"]
    again = Predictor.load(out)
    pd.testing.assert_frame_equal(again.predict_frame(test), result.predictor.predict_frame(test))
    if again.meta["family"] != "ensemble":  # a bag's boosters, fold by fold, in native/
        native = sorted(p.name for p in (out / "native").glob("*.fold*"))
        assert native == [] or len([n for n in native if n.endswith(".txt")]) == 5
    readme = (out / "README.md").read_text()
    assert "How it predicts" in readme
    # One changed byte in the pickled bag: refused before it is unpickled.
    pickled = out / "pipeline.joblib"
    data = bytearray(pickled.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pickled.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="pipeline.joblib"):
        Predictor.load(out)


@pytest.mark.slow
def test_onnx_averages_the_fold_models(bagged, tmp_path):
    from modelyard.engine.results.export_formats import export_as

    ws = Workspace(Home(bagged["home"]))
    result = open_run(ws.home, bagged["summary"]["run_id"])
    found = export_as(result, tmp_path / "onnx", "onnx", make_zip=False)
    report = found.onnx
    assert report["converted"], report
    assert report["check"]["max_difference"] <= report["tolerance"]


@pytest.mark.slow
def test_explanations_use_every_fold_model(bagged):
    predictor = Predictor.load(bagged["run_dir"])
    row = bagged["test"].head(1)
    if predictor.meta["family"] == "stack":  # said, not guessed: see explain.contributions
        with pytest.raises(BadInputError, match="not available for a stacked model"):
            explain.contributions(predictor, row)
        return
    found = explain.contributions(predictor, row)
    assert "5 fold models" in found.explained_by and len(found.values) > 0
    if predictor.meta["family"] != "ensemble":
        importance = explain.model_importance(predictor)
        assert importance is not None and abs(importance["importance"].sum() - 1) < 1e-9


@pytest.mark.slow
def test_the_leaderboard_says_which_layer(bagged):
    ws = Workspace(Home(bagged["home"]))
    ws.refresh()
    trials = ws.trials(bagged["summary"]["run_id"])
    layers = {t["model"]: t["layer"] for t in trials}
    assert layers["linear_0"] == 1 and layers["lightgbm_0"] == 1
    assert layers["ensemble"] == 2


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_server_answers_with_the_bagged_model(bagged, tmp_path):
    from tests.serve.conftest import start_server

    server = start_server([f"bag={bagged['summary']['run_id']}"], bagged["env"],
                          tmp_path / "serve.log")
    try:
        rows = bagged["test"].head(5)
        body = json.loads(rows.to_json(orient="records", double_precision=15))
        answer = httpx.post(f"{server.url}/models/bag/predict", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        got = pd.DataFrame(answer.json()["predictions"])
        expected = Predictor.load(bagged["run_dir"]).predict_frame(rows)
        column = expected.columns[-1]  # the second class's probability
        np.testing.assert_allclose(got[column].to_numpy(float),
                                   expected[column].to_numpy(), rtol=1e-6)
    finally:
        server.stop()


# -- the parts, on their own ------------------------------------------------------------
def test_a_guarded_fit_hands_back_its_fold_models(tmp_path):
    data = _data(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.linear)])
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    ctx = FitContext(task=Task.binary, n_rows=len(data.y), n_classes=2, n_jobs=1, seed=0)
    guard = FitGuard(tmp_path / "guard", data, splits)
    try:
        params = families.get("linear").default_params(ctx)
        result = guard.cross_validate("linear", params, ctx, plan.metric, limit=8 * 2**30,
                                      keep=tmp_path / "bag")
    finally:
        guard.close()
    assert result.bag == str(tmp_path / "bag")
    bag = bagging.load_bag(tmp_path / "bag", True, 2)
    assert len(bag.members) == len(splits)
    # Each fold model predicts its validation rows as the out-of-fold predictions say.
    for fold, (_, valid) in zip(bag.members, splits, strict=True):
        np.testing.assert_allclose(predict_matrix(fold, data.X.iloc[valid], True, 2),
                                   result.oof[valid], rtol=1e-9)


def test_the_pool_moves_its_members_bags_and_removes_those_it_drops(tmp_path):
    pool = OofPool(Metric.rmse, tmp_path / "oof", tmp_path / "bags")
    for i in range(POOL_SIZE + 2):
        pending = tmp_path / "bags" / ".pending" / f"m_{i}"
        for fold in range(3):
            bagging.keep_fold(pending, fold, {"fold": fold})
        score = float(POOL_SIZE + 2 - i)  # each better than the last
        pool.add(Candidate(f"m_{i}", "m", {}, score, 0.1,
                           CVResult([score], np.full(4, score), 0.1, 0.0), pending))
    kept = sorted(p.name for p in (tmp_path / "bags").iterdir() if p.name != ".pending")
    assert kept == sorted(c.model for c in pool.members)
    assert not (tmp_path / "bags" / "m_0").exists()
    again = OofPool(Metric.rmse, tmp_path / "oof", tmp_path / "bags")
    again.restore()
    assert all(c.bag == tmp_path / "bags" / c.model for c in again.members)
    # One that had no bag (the disk allowance refused it) comes back without one: it is
    # refitted if delivered, not looked for in an empty folder.
    pool.add(Candidate("m_best", "m", {}, 0.5, 0.1,
                       CVResult([0.5], np.full(4, 0.5), 0.1, 0.0), None))
    again = OofPool(Metric.rmse, tmp_path / "oof", tmp_path / "bags")
    again.restore()
    assert [(c.model, c.bag) for c in again.members[:2]] == \
        [("m_best", None), (pool.members[1].model, tmp_path / "bags" / pool.members[1].model)]


def _member(name: str, oof: np.ndarray, y: np.ndarray, metric: Metric, splits,
            n_classes: int = 0) -> Candidate:
    from modelyard.engine.training.metrics import score

    folds = [score(metric, y[v], oof[v], n_classes) for _, v in splits]
    return Candidate(name, "linear", {}, float(np.mean(folds)), 0.1,
                     CVResult(folds, oof, 0.1, 0.0), Path(f"/bags/{name}"))


def _best(members: list[Candidate], metric: Metric) -> Candidate:
    return sorted(members, key=lambda c: c.score, reverse=metric.greater_is_better)[0]


def test_a_stack_is_kept_where_it_beats_the_blend():
    """y = a - b: members predicting a and b are each poor, and no positive blend of them
    is better; a regression over both is exact."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=600), rng.normal(size=600)
    y = a - b
    splits = [(np.setdiff1d(np.arange(600), v), v) for v in np.array_split(np.arange(600), 5)]
    members = [_member("a_0", a, y, Metric.rmse, splits), _member("b_0", b, y, Metric.rmse,
                                                                  splits)]
    leader = _best(members, Metric.rmse)
    found = blend(members, leader, y, 0, splits, Metric.rmse, time.time() + 60)
    to_beat = found.chosen if found and found.chosen else leader
    stacked = stack(members, to_beat, y, 0, splits, Metric.rmse, Task.regression)
    assert stacked.trial.state is TrialStatus.complete and stacked.chosen is not None
    assert stacked.trial.cv_score < 0.01 < to_beat.score
    assert stacked.trial.layer == 2


def test_a_stack_leaves_out_the_large_bags_it_does_as_well_without(tmp_path):
    """y = a - b, and a third member of pure noise whose bag is the largest (a forest's):
    the second layer drops the noise, and keeps the large bag it needs."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=600), rng.normal(size=600)
    y = a - b
    splits = [(np.setdiff1d(np.arange(600), v), v) for v in np.array_split(np.arange(600), 5)]
    members = [_member("a_0", a, y, Metric.rmse, splits), _member("b_0", b, y, Metric.rmse,
                                                                  splits),
               _member("noise_0", rng.normal(size=600), y, Metric.rmse, splits)]
    for member, size in zip(members, (200_000, 1_000, 500_000), strict=True):
        member.bag = tmp_path / member.model
        member.bag.mkdir()
        (member.bag / "fold_0.joblib").write_bytes(b"x" * size)
    stacked = stack(members, _best(members, Metric.rmse), y, 0, splits, Metric.rmse,
                    Task.regression)
    kept = [m["model"] for m in stacked.trial.params["members"]]
    assert kept == ["a_0", "b_0"] and "over 2 bagged models" in stacked.trial.message
    assert stacked.chosen is not None and stacked.trial.cv_score < 0.01
    assert stacked.chosen.result.extra["bags"] == [members[0].bag, members[1].bag]


def test_a_stack_is_not_kept_where_it_cannot_beat_the_best():
    """One member predicts the target exactly: nothing beats it, the stack is recorded as
    not chosen."""
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    splits = [(np.setdiff1d(np.arange(500), v), v) for v in np.array_split(np.arange(500), 5)]
    members = [_member("exact_0", y.copy(), y, Metric.rmse, splits),
               _member("noise_0", rng.normal(size=500), y, Metric.rmse, splits)]
    stacked = stack(members, _best(members, Metric.rmse), y, 0, splits, Metric.rmse,
                    Task.regression)
    assert stacked.trial.state is TrialStatus.not_chosen and stacked.chosen is None
    # Worse, not equal: the words say which (they said "as good" for a stack far behind).
    assert stacked.trial.message.endswith("(not chosen: exact_0 scores better)"), \
        stacked.trial.message


def test_a_stack_mends_what_a_blend_cannot_in_classification():
    """Two members whose probabilities are squeezed towards 1/2: log loss punishes them,
    averaging keeps them squeezed, a logistic regression on their log-odds undoes it."""
    rng = np.random.default_rng(2)
    logit = rng.normal(0, 3, size=800)
    y = (rng.uniform(size=800) < 1 / (1 + np.exp(-logit))).astype(int)
    splits = [(np.setdiff1d(np.arange(800), v), v) for v in np.array_split(np.arange(800), 5)]

    def squeezed(noise: float) -> np.ndarray:
        p = 1 / (1 + np.exp(-0.2 * (logit + rng.normal(0, noise, 800))))
        return np.column_stack([1 - p, p])

    members = [_member(f"m_{i}", squeezed(0.5), y, Metric.log_loss, splits, 2)
               for i in range(2)]
    leader = _best(members, Metric.log_loss)
    found = blend(members, leader, y, 2, splits, Metric.log_loss, time.time() + 60)
    to_beat = found.chosen if found and found.chosen else leader
    stacked = stack(members, to_beat, y, 2, splits, Metric.log_loss, Task.binary)
    assert stacked.chosen is not None and stacked.trial.cv_score < to_beat.score


def test_a_stack_is_no_average_of_members_and_a_blend_of_bags_flattens():
    from modelyard.engine.results.onnx_export import members
    from modelyard.engine.results.onnx_prepare import NotConvertible

    # A stack is drawn as its second layer over its bases (test_onnx_export.py).
    model = StackedModel([BaggedModel([object(), object()], True, 2)] * 2, object(), True, 2)
    with pytest.raises(NotConvertible, match="stacked model.*not an average"):
        members(model)
    # A blend of bags flattens into fold models whose weights add up to one.
    bag = BaggedModel(["f0", "f1", "f2"], True, 2)
    flat = members(WeightedEnsemble([bag, "single"], [3, 1], False))
    assert [m for m, _ in flat] == ["f0", "f1", "f2", "single"]
    assert np.isclose(sum(w for _, w in flat), 1.0) and np.isclose(flat[0][1], 0.25)


def test_a_bag_that_cannot_be_written_leaves_the_trial_scored_without_one(tmp_path):
    """No room for the fold models (here: their folder would lie under a file): the
    trial still scores, with no bag, and is refitted if it is delivered."""
    from modelyard.engine.training.evaluate import cross_validate

    data = _data(Task.binary, n=120)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family=Family.linear)])
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    ctx = FitContext(task=Task.binary, n_rows=len(data.y), n_classes=2, n_jobs=1, seed=0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    family = families.get("linear")
    result = cross_validate(family, family.default_params(ctx), ctx, data, splits,
                            plan.metric, keep=blocker / "bag")
    assert result.bag is None and len(result.fold_scores) == len(splits)


def test_a_holdout_keeps_its_model_as_fitted_unless_time_is_left_to_refit(tmp_path):
    """On a holdout the trials' models are kept as fitted (a bag of one) and delivered
    so, without a refit: the delivered model predicts the holdout rows exactly as the
    winning trial did. Only when the search left time for it is the winner refitted on
    every row. No second layer on a holdout (nothing to cross-validate it on)."""
    from modelyard.engine.training.trainer import Trainer
    from modelyard.engine.training.worker import refit
    from modelyard.schemas import Validation, ValidationKind
    from modelyard.storage.runfolder import JournalWriter, RunFolder

    holdout = Validation(kind=ValidationKind.holdout, holdout_fraction=0.2)
    assert bagging.bags(ValidationKind.holdout, 1)

    data = _data(Task.binary, n=600)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                validation=holdout, budget_seconds=60,
                families=[FamilyChoice(family=Family.linear, max_trials=2),
                          FamilyChoice(family=Family.lightgbm, max_trials=2)])
    splits, _ = make_splits(plan.validation, data.y, plan.task, 0)
    assert len(splits) == 1 and len(splits[0][0]) == 480

    def train(run_id: str) -> tuple[Trainer, Candidate]:
        folder = RunFolder(tmp_path / run_id)
        folder.create({"id": run_id, "status": "running"})
        journal = JournalWriter(folder)
        trainer = Trainer(plan, data, splits, journal, folder.optuna_path, 1, time.time(),
                          oof_dir=folder.path / "oof")
        best = trainer.run()
        journal.close()
        return trainer, best

    trainer, best = train("run_holdout")
    assert trainer.bags_dir is not None and all(c.bag is not None
                                                for c in trainer.pool.members)
    assert best.family != "stack"
    ctx = FitContext(task=Task.binary, n_rows=len(data.y), n_classes=2, n_jobs=1, seed=0)
    delivered = refit(best, ctx, data, trainer.bags_dir)
    models = delivered.members if isinstance(delivered, WeightedEnsemble) else [delivered]
    assert all(isinstance(m, BaggedModel) and len(m.members) == 1 for m in models)
    valid = splits[0][1]
    np.testing.assert_allclose(predict_matrix(delivered, data.X.iloc[valid], True, 2),
                               best.result.oof[valid], rtol=1e-7, atol=1e-9)
    assert "holdout split" in bagging.describe(delivered)

    # Refitted when the time is there: its fits on 80% of the rows, scaled to all of
    # them, with the margin, before the end.
    seconds = best.fit_seconds / 0.8 * 1.3
    assert bagging.refit_in_time(best.fit_seconds, 0.2, end=100.0 + seconds + 0.01, now=100.0)
    assert not bagging.refit_in_time(best.fit_seconds, 0.2, end=100.0 + seconds - 0.01,
                                     now=100.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_holdout_run_with_time_left_refits_its_winner_on_every_row(tmp_path, child_env):
    """The same small plan on a holdout: its search ends long before the budget, so the
    winner is refitted on every row rather than delivered as the holdout fitted it."""
    from modelyard.schemas import Validation, ValidationKind

    frame = pd.read_csv(write_sample("breast_cancer", tmp_path))
    frame.to_csv(tmp_path / "train.csv", index=False)
    plan = _plan() | {"validation": Validation(kind=ValidationKind.holdout).model_dump(
        mode="json")}
    summary = _run_plan(tmp_path, plan, child_env(tmp_path / "home"))
    run_dir = tmp_path / "home" / "runs" / summary["run_id"]
    events = (run_dir / "events.jsonl").read_text()
    assert "refitting" in events and "as the holdout split fitted it" not in events
    delivered = Predictor.load(run_dir).pipeline
    models = delivered.members if isinstance(delivered, WeightedEnsemble) else [delivered]
    assert not any(isinstance(m, BaggedModel) for m in models)
