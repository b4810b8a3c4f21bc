"""The late-fusion network for tables that carry images (engine/mixed/fusion.py): when a
plan lists it, and, through the CLI on a real small table (slow), that it trains in a run
beside the embedding-joined models, is bundled, predicts new rows from their images,
stops at its deadline, and is refused by export and serve by name."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.intake.ingest import ingest, load_profile
from modelyard.engine.mixed.plan import fusion_choice, with_fusion
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.training import families
from modelyard.schemas import FamilyChoice
from tests.mixed_data import make_mixed


@pytest.fixture
def mixed_profile(home, tmp_path):
    meta = ingest(home, make_mixed(tmp_path / "src", 40, text=False), target="outcome")
    return meta["id"], load_profile(home, meta["id"])


def test_a_mixed_plan_lists_the_fused_network_only_with_cuda(mixed_profile):
    _, profile = mixed_profile
    chosen = [FamilyChoice(family="lightgbm"), FamilyChoice(family="linear")]
    with_gpu = with_fusion(chosen, profile, cuda=True)
    assert [c.family for c in with_gpu] == ["lightgbm", "linear", "fusion"]
    assert "A GPU is here" in with_gpu[-1].reason
    assert with_fusion(chosen, profile, cuda=False) == chosen
    # A plan is full at eight families: the fused network takes the last place.
    full = [FamilyChoice(family=f) for f in families.named("tabular")[:8]]
    assert [c.family for c in with_fusion(full, profile, cuda=True)][-1] == "fusion"
    assert len(with_fusion(full, profile, cuda=True)) == 8
    # Added on a CPU, the plan says it is slow there.
    assert "Slow without a GPU" in fusion_choice(profile, cuda=False).reason
    assert any("slow without a GPU" in c for c in fusion_choice(profile, False).cons)


def test_only_a_mixed_table_may_train_the_fused_network(mixed_profile, home, tmp_path):
    dataset_id, profile = mixed_profile
    plan = rule_plan(profile, dataset_id, budget_seconds=60)
    fused = plan.model_copy(update={"families": [*plan.families[:7],
                                                 fusion_choice(profile, False)]})
    assert plan_problems(fused, profile) == []
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 2})
    frame.to_csv(tmp_path / "plain.csv", index=False)
    meta = ingest(home, tmp_path / "plain.csv", target="y")
    plain = load_profile(home, meta["id"])
    plain_plan = rule_plan(plain, meta["id"], budget_seconds=60)
    assert "fusion" not in [c.family for c in plain_plan.families]
    wrong = plain_plan.model_copy(update={"families": [FamilyChoice(family="fusion")]})
    assert any("fusion" in p and "do not fit" in p for p in plan_problems(wrong, plain))


def test_the_fused_family_searches_what_the_image_search_searches():
    from modelyard.engine.training.families.base import FitContext
    from modelyard.engine.training.search import distributions
    from modelyard.engine.vision import trainer
    from modelyard.schemas import Task

    family = families.get("fusion")
    ctx = FitContext(Task.binary, 100, 2, 1, 0)
    assert family.modality == "mixed"
    assert distributions(family.search_space(ctx)) == trainer.space()
    assert family.default_params(ctx) == trainer.DEFAULTS


def cli(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def events(home, run_id: str) -> list[dict]:
    lines = (home / "runs" / run_id / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_the_fused_network_trains_beside_the_embedding_models(tmp_path, modelyard_home):
    pytest.importorskip("timm")
    table = make_mixed(tmp_path / "train", 120, text=False)
    out = tmp_path / "out"
    done = cli("run", table, "--target", "outcome", "--budget", 60, "--planner", "rules",
               "--families", "lightgbm,fusion", "--out", out, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["model"].str.startswith("joined_lightgbm_").any(), board["model"].tolist()
    assert "joined_fusion_0" in board["model"].tolist()
    seen = events(modelyard_home, run_id)
    fused = [e for e in seen if e["kind"] == "trial" and e.get("family") == "fusion"]
    assert fused and all(e["inputs"] == "joined" for e in fused)
    assert any(e["kind"] == "epoch" and e["model"] == "joined_fusion_0" for e in seen)
    # Both are scored on the same rows before one is kept.
    assert any("validation rows of the first split" in e.get("message", "") for e in seen)

    from modelyard.app.views import inputs_of

    assert inputs_of("joined_fusion_0") == "table + images, one fused network"
    assert inputs_of("joined_lightgbm_2") == "table + images"


@pytest.mark.slow
def test_a_fused_network_is_bundled_predicts_new_rows_and_stops_in_time(tmp_path,
                                                                         modelyard_home):
    pytest.importorskip("timm")
    from modelyard.engine.mixed.fusion import FusionSearch
    from modelyard.engine.vision.trainer import MAX_EPOCHS

    table = make_mixed(tmp_path / "train", 100, text=False)
    budget = 30
    done = cli("run", table, "--target", "outcome", "--budget", budget, "--planner",
               "rules", "--families", "fusion", "--out", tmp_path / "out", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    # The fused network is kept (its search may try more than one; under load a later
    # trial has won).
    assert json.loads(done.stdout)["best_model"].startswith("joined_fusion_")
    model_dir = modelyard_home / "runs" / run_id / "model"
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["kind"] == "mixed" and meta["fusion"] is True and meta["inputs"] == "joined"
    import torch

    state = torch.load(model_dir / "fusion.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())

    # It stopped at its deadline: no epoch began after it (one may end just past it).
    seen = events(modelyard_home, run_id)
    began = next(e["ts"] for e in seen if e.get("message", "").startswith("late-fusion"))
    epochs = [e for e in seen if e["kind"] == "epoch"]
    assert 0 < len(epochs) < MAX_EPOCHS
    assert sum(e["ts"] > began + budget for e in epochs) <= 1
    assert FusionSearch.kind == "mixed"

    # New rows with their images next to the table; one row's image is missing.
    new = make_mixed(tmp_path / "new", 12, seed=5, name="new.csv", text=False)
    rows = pd.read_csv(new).drop(columns="outcome")
    rows.loc[0, "photo"] = "photos/nowhere.png"
    rows.to_csv(new, index=False)
    predicted = cli("predict", run_id, new, "--out", tmp_path / "pred.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert "1 row(s) had no readable image" in predicted.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == 12 and set(pred["outcome"]) <= {"yes", "no"}
    assert np.allclose(pred["proba_yes"] + pred["proba_no"], 1.0)

    # Export and serve cannot carry it, and say so by name.
    refused = cli("export", run_id, "--out", tmp_path / "bundle")
    assert refused.returncode != 0 and "late-fusion network" in refused.stderr
    from modelyard.engine.errors import BadInputError
    from modelyard.serve.server import load

    with pytest.raises(BadInputError, match="late-fusion network"):
        load("fused", model_dir)


def test_with_a_gpu_the_fused_network_sees_larger_images(mixed_profile, home):
    pytest.importorskip("timm")
    from modelyard.engine.mixed.embed import load_pixels
    from modelyard.engine.mixed.run import _fusion_pixels
    from modelyard.engine.training.data import read_table

    dataset_id, profile = mixed_profile
    big = profile.model_copy(update={"mixed": profile.mixed.model_copy(
        update={"width": {"median": 100.0}, "height": {"median": 100.0}})})
    folder = home.dataset_dir(dataset_id)
    cells = read_table(folder / "train.parquet", ["photo"])
    decoded = {"photo": load_pixels([None if v is None else folder / v
                                     for v in cells["photo"]], 64)}
    same, size = _fusion_pixels(big, decoded, cells, folder, 64, cuda=False)
    assert size == 64 and same is decoded  # a CPU reuses what the image networks decoded
    larger, size = _fusion_pixels(big, decoded, cells, folder, 64, cuda=True)
    assert size == 96 and larger["photo"][0].shape[1:] == (3, 96, 96)
    assert (larger["photo"][1] == decoded["photo"][1]).all()
