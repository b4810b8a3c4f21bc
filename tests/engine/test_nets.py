"""RealMLP and TabM (pytabkit): a real run that trains and predicts with both, a fit
stopped at its deadline, the rule planner's choice, and the path without the library.

The contract suite (`test_families_contract.py`) fits, predicts and pickles both on
messy data; here are the parts that are theirs alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import psutil
import pytest

from modelyard.app.workspace import Workspace
from modelyard.engine import extras
from modelyard.engine.errors import BadInputError
from modelyard.engine.intake.samples import write_sample
from modelyard.engine.planning import family_notes
from modelyard.engine.planning.nets_rule import (
    default_trial_seconds,
    net_choices,
    with_nets,
)
from modelyard.engine.planning.rules import MAX_FAMILIES, choose_families
from modelyard.engine.training import families
from modelyard.engine.training.bundle import Predictor
from modelyard.engine.training.evaluate import OutOfTime, make_pipeline
from modelyard.engine.training.families import nets
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import (
    ColumnKind,
    ColumnProfile,
    FamilyChoice,
    Metric,
    Plan,
    Profile,
    Task,
    Validation,
    ValidationKind,
)
from tests.engine.test_families_contract import _data

NETS = ("realmlp", "tabm")


def _profile(n_rows: int) -> Profile:
    return Profile(n_rows=n_rows, n_cols=3, columns=[
        ColumnProfile(name=n, dtype="f64", kind=ColumnKind.numeric, n_missing=0,
                      missing_share=0.0, n_distinct=50) for n in ("x1", "x2", "y")])


@pytest.fixture
def without_pytabkit(monkeypatch):
    """This interpreter as if the nets extra were not installed."""
    monkeypatch.setitem(extras.MODULES, "nets", ("torch", "modelyard_no_such_pytabkit"))


# -- without the library ----------------------------------------------------------------
def test_without_pytabkit_the_networks_say_why_and_how_to_install(without_pytabkit):
    ctx = FitContext(Task.binary, 100, 2, 1, 0)
    for name in NETS:
        family = families.get(name)
        reason = family.unavailable()
        assert "modelyard_no_such_pytabkit" in reason and "not installed" in reason
        with pytest.raises(BadInputError) as caught:
            family.build(family.default_params(ctx), ctx)
        assert "pip install 'modelyard[nets]'" in caught.value.hint
    # Nobody plans them: not the rules, not the language model's list of families.
    assert net_choices(_profile(200), 10**6, 5, device="cuda") == []
    listed = family_notes.describe_families()
    assert "realmlp" not in listed and "tabm" not in listed and "lightgbm" in listed


def test_without_pytabkit_a_plan_naming_a_network_is_refused_before_it_runs(
        without_pytabkit):
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="lightgbm"), FamilyChoice(family="tabm")])
    with pytest.raises(BadInputError) as caught:
        Workspace._require_extras(plan)
    assert "TabM" in str(caught.value) and "not installed" in str(caught.value)
    assert "modelyard[nets]" in caught.value.hint
    # A plan without them runs as before.
    Workspace._require_extras(plan.model_copy(update={"families": plan.families[:1]}))


def test_a_trial_that_meets_the_missing_library_fails_with_the_reason(
        without_pytabkit, tmp_path):
    from modelyard.storage.runfolder import read_events
    from tests.engine.test_early_stopping import _train

    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="linear", max_trials=1),
                          FamilyChoice(family="realmlp", max_trials=1)],
                validation=Validation(kind=ValidationKind.stratified_kfold, n_splits=3),
                budget_seconds=120)
    best, folder = _train(plan, _data(Task.binary, n=200), tmp_path / "run_n")
    trials = {e.trial.family: e.trial for e, _ in read_events(folder.events_path, 0)
              if e.trial is not None}
    assert best.family == "linear"
    assert trials["realmlp"].state.value == "failed"
    assert "not installed" in trials["realmlp"].message


# -- the planner's choice ---------------------------------------------------------------
def test_the_rule_planner_adds_the_networks_only_with_a_gpu_and_room_in_the_budget():
    for rows in (300, 2_000, 10_000):
        for budget in (60, 300, 3600):
            assert net_choices(_profile(rows), budget, 5, device="cpu") == [], rows
    # With a GPU they come in where a default trial of each fits a quarter of the budget.
    assert set(net_choices(_profile(10_000), 300, 5, device="cuda")) == set(NETS)
    assert net_choices(_profile(10_000), 60, 5, device="cuda") == []
    assert net_choices(_profile(1_000_000), 300, 5, device="cuda") == []
    assert default_trial_seconds("realmlp", 10_000, 5, "cpu") > \
        default_trial_seconds("realmlp", 10_000, 5, "cuda")


def test_the_networks_displace_the_weakest_families_never_a_booster():
    chosen = choose_families(300, _profile(300))
    assert len(chosen) == MAX_FAMILIES
    out = with_nets(chosen, list(NETS), MAX_FAMILIES, _profile(300))
    names = [c.family for c in out]
    assert len(out) == MAX_FAMILIES and names[-2:] == list(NETS)
    assert {"lightgbm", "xgboost", "catboost"} <= set(names)
    assert "svm" not in names and "extra_trees" not in names
    assert all(c.reason and c.pros for c in out[-2:])


# -- the deadline -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NETS)
def test_a_fit_past_its_deadline_stops_with_out_of_time_and_leaves_nothing_behind(name):
    data = _data(Task.binary, n=3000)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    family = families.get(name)
    pipeline = make_pipeline(family, family.default_params(ctx), ctx, data)
    prepared = pipeline[:-1].fit_transform(data.X, data.y)
    model = pipeline[-1]
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    import torch

    threads = torch.get_num_threads()
    with pytest.raises(OutOfTime):
        family.fit(model, prepared, data.y, deadline=time.time() + 2.0)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
    assert torch.get_num_threads() == threads  # pytabkit put the thread count back
    # A deadline already passed stops it before it starts.
    with pytest.raises(OutOfTime):
        family.fit(family.build(family.default_params(ctx), ctx), prepared, data.y,
                   deadline=time.time() - 1)


# -- a real run -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nets_run(tmp_path_factory, child_env):
    """`modelyard run` on 200 rows of the breast-cancer table with a plan of the two
    networks (and the baseline), 2 folds, a budget they finish a trial each in (on a
    busy 2-core machine a TabM fold took minutes)."""
    root = tmp_path_factory.mktemp("nets-run")
    frame = pd.read_csv(write_sample("breast_cancer", root))
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.iloc[:200].to_csv(root / "train.csv", index=False)
    frame.iloc[200:].drop(columns="diagnosis").to_csv(root / "test.csv", index=False)
    plan = Plan(dataset_id="ds_x", target="diagnosis", task=Task.binary,
                metric=Metric.roc_auc,
                validation=Validation(kind=ValidationKind.stratified_kfold, n_splits=2),
                families=[FamilyChoice(family="dummy", max_trials=1),
                          FamilyChoice(family="tabm", max_trials=1),
                          FamilyChoice(family="realmlp", max_trials=1)],
                budget_seconds=800)
    (root / "plan.json").write_text(plan.model_dump_json())
    env = child_env(root / "home")
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(root / "train.csv"),
         "--target", "diagnosis", "--plan", str(root / "plan.json"), "--test",
         str(root / "test.csv"), "--out", str(root / "out"), "--json"],
        capture_output=True, text=True, env=env, cwd=root, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    return {"root": root, "summary": summary,
            "run_dir": root / "home" / "runs" / summary["run_id"],
            "test": pd.read_csv(root / "test.csv"),
            "truth": frame.iloc[200:]["diagnosis"].to_numpy()}


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_run_trains_both_networks_and_its_bundle_predicts(nets_run):
    leaderboard = pd.read_csv(nets_run["root"] / "out" / "leaderboard.csv")
    for name in NETS:  # the leaderboard ranks the trials that finished
        assert (leaderboard["family"] == name).sum() >= 1, leaderboard.to_string()
    predictor = Predictor.load(nets_run["run_dir"])
    out = predictor.predict_frame(nets_run["test"])
    assert len(out) == len(nets_run["test"])
    proba = out[[f"proba_{c}" for c in predictor.classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    # Better than guessing on the 369 held-out rows.
    right = out["diagnosis"].astype(str).to_numpy() == nets_run["truth"].astype(str)
    assert right.mean() > 0.8


@pytest.mark.slow
def test_a_network_bundle_predicts_on_the_cpu_in_another_process(nets_run):
    """The bundle loads and predicts in a fresh interpreter (no state from the run)."""
    code = ("import sys, pandas as pd; from modelyard.engine.training.bundle import "
            "Predictor; p = Predictor.load(sys.argv[1]); "
            "print(len(p.predict_frame(pd.read_csv(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, str(nets_run["run_dir"]),
                          str(nets_run["root"] / "test.csv")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(len(nets_run["test"]))


def test_the_fitted_model_fills_gaps_and_unseen_categories_the_same_way():
    pytest.importorskip("pytabkit")
    from modelyard.engine.training.families.nets_model import MISSING, NetModel

    model = NetModel()
    model.numeric_, model.flagged_ = ["a", "b"], ["a"]
    model.medians_ = {"a": 2.0, "b": 0.5}
    model.levels_ = {"c": ["red", "blue", MISSING]}
    frame = pd.DataFrame({"a": [np.nan, 1.0], "b": [3.0, np.nan],
                          "c": pd.Categorical(["green", None])})
    out = model._frame(frame)
    assert out["a"].tolist() == [2.0, 1.0] and out["a (missing)"].tolist() == [1.0, 0.0]
    assert out["b"].tolist() == [3.0, 0.5] and "b (missing)" not in out
    assert out["c"].tolist() == [MISSING, MISSING]
    assert list(out["c"].cat.categories) == ["red", "blue", MISSING]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_run_whose_network_cannot_finish_ends_with_its_budget_and_no_stray_process(
        tmp_path, child_env):
    """RealMLP's 256 epochs on 4,000 rows in 5 folds cannot finish in a 20 s budget: its
    trial is stopped at the search deadline, the Run still delivers the baseline, and
    nothing of the Run is left running."""
    from modelyard.storage.runfolder import read_events

    data = _data(Task.binary, n=4000)
    frame = data.X.assign(y=np.where(data.y == 1, "yes", "no"))
    frame.to_csv(tmp_path / "train.csv", index=False)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="dummy", max_trials=1),
                          FamilyChoice(family="realmlp", max_trials=1)],
                budget_seconds=20)
    (tmp_path / "plan.json").write_text(plan.model_dump_json())
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(tmp_path / "train.csv"),
         "--target", "y", "--plan", str(tmp_path / "plan.json"), "--json"],
        capture_output=True, text=True, env=child_env(tmp_path / "home"), cwd=tmp_path,
        timeout=500)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = json.loads(done.stdout)["run_id"]
    run_dir = tmp_path / "home" / "runs" / run_id
    trials = [e.trial for e, _ in read_events(run_dir / "events.jsonl", 0)
              if e.trial is not None and e.trial.family == "realmlp"]
    assert trials and trials[-1].state.value == "pruned"
    assert "time budget ran out" in trials[-1].message
    assert json.loads((run_dir / "run.json").read_text())["status"] == "succeeded"
    # No process of the Run outlives it: the worker (which leads its own process group)
    # and anything it started end once it has written the result.
    of_run = [p for p in psutil.process_iter(["cmdline"])
              if run_id in " ".join(p.info["cmdline"] or [])]
    _, alive = psutil.wait_procs(of_run, timeout=60)
    assert alive == []


def test_the_language_model_is_offered_the_networks_only_with_a_gpu(monkeypatch):
    from modelyard.engine.training.families import base

    if nets.unavailable():
        pytest.skip(nets.unavailable())
    monkeypatch.setattr(base, "cuda_available", lambda: False)
    listed = family_notes.describe_families()
    assert "realmlp" not in listed and "tabm" not in listed and "lightgbm" in listed
    monkeypatch.setattr(base, "cuda_available", lambda: True)
    listed = family_notes.describe_families()
    assert "realmlp" in listed and "tabm" in listed
