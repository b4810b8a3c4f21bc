"""TabPFN and TabICL from local weights: found, planned, fitted, bundled, refused when
missing or damaged, and never a network call. The checkpoints are tiny random ones built
from each library's own network classes (`tests/foundation_weights.py`)."""

from __future__ import annotations

import json
import socket

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.engine.planning.explain import as_text
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.training import families
from modelyard.engine.training.families.foundation_model import (
    CheckpointError,
    FoundationModel,
)
from modelyard.schemas import (
    ColumnKind,
    ColumnProfile,
    FamilyChoice,
    Plan,
    Profile,
    Task,
)
from tests.foundation_weights import TABICL_FILES, TABPFN_FILES, put_tiny_weights

NAMES = ("tabpfn", "tabicl")


@pytest.fixture
def weights(modelyard_home, tmp_path_factory):
    return put_tiny_weights(modelyard_home / "weights", tmp_path_factory.getbasetemp())


def _profile(n_rows: int, n_features: int = 3, classes: int = 2) -> Profile:
    cols = [ColumnProfile(name=f"x{i}", dtype="f64", kind=ColumnKind.numeric, n_missing=0,
                          missing_share=0.0, n_distinct=50) for i in range(n_features)]
    cols.append(ColumnProfile(name="y", dtype="str", kind=ColumnKind.categorical,
                              n_missing=0, missing_share=0.0, n_distinct=classes))
    return Profile(n_rows=n_rows, n_cols=len(cols), columns=cols)


def _table(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, (np.nan_to_num(X[:, 0]) > 0).astype(np.int64)


@pytest.mark.parametrize("name", NAMES)
def test_without_weights_a_family_is_unavailable_and_says_which_file_goes_where(
        name, modelyard_home):
    family = families.get(name)
    for task in (Task.binary, Task.regression):
        reason = family.unavailable(task)
        kind = "classifier" if task.is_classification else "regressor"
        wanted = (TABPFN_FILES if name == "tabpfn" else TABICL_FILES)[kind]
        assert reason is not None and wanted in reason
        assert str(modelyard_home / "weights") in reason and "never downloaded" in reason
    plan = rule_plan(_profile(300), "ds_x", target="y")
    assert not {c.family for c in plan.families} & set(NAMES)
    # A plan naming it anyway (a person, a language model) is refused before it runs.
    named = plan.model_copy(update={"families": [FamilyChoice(family=name)]})
    assert any(f"family {name} cannot run here" in p and "weights" in p
               for p in plan_problems(named, _profile(300)))


def test_with_weights_the_rule_plan_names_each_file_and_its_licence(weights):
    plan = rule_plan(_profile(300), "ds_x", target="y")
    chosen = {c.family: c for c in plan.families}
    assert set(NAMES) <= set(chosen) and len(plan.families) <= 8
    assert chosen["tabpfn"].max_trials == chosen["tabicl"].max_trials == 1
    assert TABPFN_FILES["classifier"] in chosen["tabpfn"].reason
    assert "Prior Labs License" in chosen["tabpfn"].reason  # TabPFN-2's weights licence
    assert TABICL_FILES["classifier"] in chosen["tabicl"].reason
    assert "BSD 3-Clause" in chosen["tabicl"].reason
    text = as_text(plan)  # what `modelyard plan` prints
    assert "TabPFN (pretrained, local weights)" in text and "Prior Labs License" in text
    assert plan_problems(plan, _profile(300)) == []


def test_tables_beyond_the_pretraining_limits_leave_the_family_out_with_a_reason(weights):
    tabpfn, tabicl = families.get("tabpfn"), families.get("tabicl")
    big = _profile(20_000)  # over TabPFN-2's 10,000 rows, within TabICL's 100,000
    assert "10,000 rows" in tabpfn.fits_table(big, "y", Task.binary)
    assert tabicl.fits_table(big, "y", Task.binary) is None
    chosen = {c.family for c in rule_plan(big, "ds_x", target="y").families}
    assert "tabpfn" not in chosen and "tabicl" in chosen
    many = _profile(300, classes=12)
    assert "at most 10 classes" in tabpfn.fits_table(many, "y", Task.multiclass)
    wide = _profile(300, n_features=2_001)
    assert "2,000 columns" in tabicl.fits_table(wide, "y", Task.binary)


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_predicts_with_no_network_call(name, weights, monkeypatch):
    """Every socket is refused while the family fits and predicts: nothing may try the
    network (a download attempt would raise here)."""
    tried = []

    def refuse(self, address, *args, **kwargs):
        tried.append(address)
        raise OSError(f"network blocked by the test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    X, y = _table()
    family = families.get(name)
    ctx = families.FitContext(Task.binary, len(y), 2, 1, 0)
    model = family.build({}, ctx).fit(X[:240], y[:240])
    proba = model.predict_proba(X[240:])
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert tried == []
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    # A pickled model (what a bundle holds) predicts alike without the checkpoint file.
    path = weights / (TABPFN_FILES if name == "tabpfn" else TABICL_FILES)["classifier"]
    dumped = weights.parent / "model.joblib"
    joblib.dump(model, dumped)
    path.unlink()
    again = joblib.load(dumped).predict_proba(X[240:])
    np.testing.assert_allclose(again, proba, atol=1e-5)


class _NotWeights:
    """Something a malicious checkpoint could carry instead of tensors."""


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", ["garbage", "pickled object", "other library"])
def test_a_damaged_or_foreign_checkpoint_is_a_clear_error_naming_the_file(
        name, damage, weights):
    files = TABPFN_FILES if name == "tabpfn" else TABICL_FILES
    path = weights / files["classifier"]
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 10)
    elif damage == "pickled object":  # refused by weights_only=True: never unpickled
        torch.save({"state_dict": {}, "config": _NotWeights()}, path)
    else:  # the other library's checkpoint under this one's name
        other = TABICL_FILES if name == "tabpfn" else TABPFN_FILES
        path.write_bytes((weights / other["classifier"]).read_bytes())
    X, y = _table()
    model = FoundationModel(name, str(path), classification=True)
    with pytest.raises(CheckpointError) as err:
        model.fit(X, y)
    message = str(err.value)
    assert str(path) in message and "Replace" in message
    assert "other model families run without it" in message


def _run(ws, wait, frame: pd.DataFrame, chosen: list[str], tmp_path, budget: int = 60):
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    meta = ws.ingest(path, target="y")
    proposed = ws.propose_plan(meta["id"], target="y", budget_seconds=budget)
    plan = Plan.model_validate(proposed["plan"])
    plan = plan.model_copy(update={"families": [c for c in plan.families
                                                if c.family in chosen]})
    assert [c.family for c in plan.families] == chosen
    approved = ws.approve_plan(plan, based_on=proposed)
    folder, proc = ws.start_run(approved)
    wait(lambda: folder.read().get("status") in ("succeeded", "failed"), 240,
         what="the run to end")
    proc.wait(timeout=30)
    events = [json.loads(line) for line in folder.events_path.read_text().splitlines()]
    return folder, events


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    X, y = _table(n, seed)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["colour"] = np.random.default_rng(seed).choice(["red", "blue"], size=n)
    frame["y"] = np.where(y == 1, "yes", "no")
    return frame


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_run_uses_the_local_weights_says_so_and_its_bundle_predicts(ws, wait, weights,
                                                                       tmp_path):
    from modelyard.engine.results.predict import predict
    from modelyard.engine.training.bundle import Predictor

    folder, events = _run(ws, wait, _frame(), ["tabpfn", "tabicl"], tmp_path)
    assert folder.read()["status"] == "succeeded", folder.log_tail(30)
    logs = [e["message"] for e in events if e["kind"] == "log"]
    for file in (TABPFN_FILES["classifier"], TABICL_FILES["classifier"]):
        assert any(file in m and "licence" in m for m in logs), logs
    trials = {e["family"]: e for e in events if e["kind"] == "trial"}
    assert {trials[n]["state"] for n in NAMES} == {"complete"}, trials
    predictor = Predictor.load(folder.path)
    assert predictor.meta.get("family") in (*NAMES, "ensemble"), predictor.meta
    # The weights travel in the bundle: it predicts with the checkpoints gone.
    for path in weights.iterdir():
        path.unlink()
    out = predict(predictor, _frame(20, seed=5).drop(columns="y"))
    assert len(out) == 20 and set(map(str, out["y"])) <= {"yes", "no"}
    proba = out[[c for c in out.columns if c.startswith("proba_")]].to_numpy(float)
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    # The leaderboard names the family by its title, which says where the weights came from.
    from modelyard.engine.results.words import family_name

    assert family_name("tabpfn") == "TabPFN (pretrained, local weights)"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_damaged_checkpoint_fails_its_trial_and_the_run_goes_on(ws, wait, weights,
                                                                  tmp_path):
    damaged = weights / TABPFN_FILES["classifier"]
    damaged.write_bytes(b"\x00" * 1000)
    folder, events = _run(ws, wait, _frame(), ["linear", "tabpfn"], tmp_path)
    assert folder.read()["status"] == "succeeded", folder.log_tail(30)
    trials = {e["family"]: e for e in events if e["kind"] == "trial"}
    assert trials["tabpfn"]["state"] == "failed"
    assert str(damaged) in trials["tabpfn"]["message"]
    assert "Replace" in trials["tabpfn"]["message"]
    assert trials["linear"]["state"] == "complete"


def test_the_rule_plan_tries_them_right_after_the_fast_boosters(weights):
    order = [c.family for c in rule_plan(_profile(300), "ds_x", target="y").families]
    assert order[:6] == ["dummy", "linear", "lightgbm", "xgboost", "tabpfn", "tabicl"]


@pytest.fixture
def customers(home, messy_csv):
    from modelyard.engine.intake.ingest import ingest, load_profile

    meta = ingest(home, messy_csv)
    return meta["id"], load_profile(home, meta["id"])


def _llm_reply(customers, chosen: list[str]):
    from modelyard.engine.planning.checks import read_reply
    from modelyard.engine.planning.schema import draft_schema
    from tests.fake_ollama import draft

    raw = {**draft(), "families": chosen}
    raw = {key: raw[key] for key in draft_schema()["properties"]}
    dataset_id, profile = customers
    return read_reply(json.dumps(raw), profile, dataset_id=dataset_id, budget_seconds=60,
                      seed=0)


def test_a_language_model_naming_one_without_weights_is_mended_and_not_told_of_it(
        customers):
    from modelyard.engine.planning.family_notes import describe_families

    assert "tabpfn" not in describe_families() and "tabicl" not in describe_families()
    plan, problems, mends = _llm_reply(customers, ["linear", "tabpfn"])
    chosen = [f.family for f in plan.families]
    assert problems == [] and "linear" in chosen and "tabpfn" not in chosen
    assert any(m.startswith("“tabpfn” was left out:") and "tabpfn-v2-classifier.ckpt" in m
               for m in mends), mends


def test_a_language_model_naming_one_with_weights_gets_the_file_and_licence_said(
        customers, weights):
    from modelyard.engine.planning.family_notes import describe_families

    assert "tabpfn" in describe_families()
    plan, problems, _ = _llm_reply(customers, ["linear", "tabicl"])
    assert problems == []
    tabicl = next(f for f in plan.families if f.family == "tabicl")
    assert TABICL_FILES["classifier"] in tabicl.reason and "licence" in tabicl.reason
