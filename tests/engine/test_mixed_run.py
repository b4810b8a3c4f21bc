"""A mixed table end to end through the CLI: `modelyard run table.csv --test test.csv`
trains the table-only, image-only and joined models, then `modelyard predict RUN zip`;
the bundle carries its image network as a tensors-only state dict under the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from tests.mixed_data import make_mixed

pytest.importorskip("timm")
pytestmark = pytest.mark.slow


def cli(*args, timeout=400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_run_a_mixed_table_then_predict_a_zip(tmp_path, modelyard_home):
    table = make_mixed(tmp_path / "train", 160, damaged=1, text=False)
    test = make_mixed(tmp_path / "test", 30, seed=9, name="test.csv", text=False)
    pd.read_csv(test).drop(columns="outcome").to_csv(test, index=False)
    out = tmp_path / "out"
    done = cli("run", table, "--target", "outcome", "--test", test, "--budget", 40,
               "--planner", "rules", "--out", out, "--json")
    assert done.returncode == 0, done.stdout + done.stderr

    board = pd.read_csv(out / "leaderboard.csv")
    complete = board["model"]  # the scored trials
    for inputs in ("table", "image", "joined"):
        assert complete.str.startswith(f"{inputs}_").any(), (inputs, board["model"].tolist())
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 30 and set(predictions["outcome"]) <= {"yes", "no"}

    run_id = json.loads(done.stdout)["run_id"]
    model_dir = modelyard_home / "runs" / run_id / "model"
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["kind"] == "mixed" and meta["inputs"] in ("table", "image", "joined")
    if meta["inputs"] != "table":
        import torch

        state = torch.load(model_dir / "image_network_0.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())

    archive = tmp_path / "new.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(test, "new/test.csv")
        for f in sorted((tmp_path / "test" / "photos").iterdir()):
            zf.write(f, f"new/photos/{f.name}")
    again = cli("predict", run_id, archive, "--out", tmp_path / "again.csv")
    assert again.returncode == 0, again.stderr
    assert pd.read_csv(tmp_path / "again.csv").equals(predictions)

    # A bundle changed after it was sealed is refused before anything is unpickled.
    (model_dir / "images.json").write_text("{}")
    refused = cli("predict", run_id, test, "--out", tmp_path / "never.csv")
    assert refused.returncode != 0 and "images.json" in refused.stderr
