"""Sound classification end to end through the CLI, on words spoken by a real speech
synthesiser (tests/spoken.py): `modelyard run DIR --test DIR --out`, then `modelyard
predict RUN ZIP`, the bundle sealed like every other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.spoken import DIGITS, SpokenSpec, make_spoken, tools_missing

pytest.importorskip("soundfile")
pytest.importorskip("timm")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "")]

CACHE = Path(__file__).resolve().parents[2] / "bench" / ".work"
SPEC = SpokenSpec(words=DIGITS[:3], train_voices=4, test_voices=2, takes=2,
                  formats=("wav", "flac", "ogg", "mp3"), stereo_share=0.3)


def cli(*args, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_run_a_folder_then_predict_a_zip(tmp_path):
    spoken = make_spoken(CACHE, SPEC)
    out = tmp_path / "out"
    done = cli("run", spoken.train, "--test", spoken.test, "--budget", 30, "--out", out,
               "--json")
    assert done.returncode == 0, done.stdout + done.stderr

    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns[:2]) == ["path", "label"]
    assert predictions["path"].tolist() == sorted(spoken.answers)
    assert set(predictions["label"]) <= set(DIGITS[:3])
    board = pd.read_csv(out / "leaderboard.csv")
    assert {"linear_mfcc", "lightgbm_mfcc"} <= set(board["model"])
    assert any(m.startswith("resnet18_") for m in board["model"])

    assert json.loads((out / "plan.json").read_text())["families"][0]["family"] == "resnet18"
    run_id = json.loads(done.stdout)["run_id"]
    archive = tmp_path / "new.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(spoken.test.iterdir()):
            zf.write(f, f"new/{f.name}")
        zf.writestr("new/broken.wav", b"not sound")
    again = cli("predict", run_id, archive, "--out", tmp_path / "again.csv")
    assert again.returncode == 0, again.stderr
    # The zip's lone top folder is stepped into, as for images: names are relative to it.
    assert "left out broken.wav" in again.stderr
    second = pd.read_csv(tmp_path / "again.csv")
    assert second["path"].tolist() == sorted(spoken.answers)
    assert second["label"].tolist() == predictions["label"].tolist()

    # Nothing usable to predict: one clear sentence that names the file.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "noise.mp3").write_bytes(b"")
    nothing = cli("predict", run_id, junk, "--out", tmp_path / "n.csv")
    assert nothing.returncode != 0
    assert "No readable recordings were found (noise.mp3: an empty file)" in nothing.stderr

    # The bundle is sealed: a changed file is refused before anything in it is loaded.
    home = Path(os.environ["MODELYARD_HOME"])
    model = home / "runs" / run_id / "model"
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["kind"] == "audio"
    target = model / ("weights.pt" if (model / "weights.pt").exists() else "pipeline.joblib")
    target.write_bytes(target.read_bytes() + b"x")
    tampered = cli("predict", model, spoken.test, "--out", tmp_path / "t.csv")
    assert tampered.returncode != 0
    assert "manifest" in tampered.stderr.lower() or "changed" in tampered.stderr.lower()
