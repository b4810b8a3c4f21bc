"""Spoken words in voices held out from training, classified by `modelyard run` on a
folder (the issue's done-when), against the MFCC baseline alone on the same data.

    python -m bench.audio --budget 240     # one JSON line per run, then a summary line

The data is made here by a real speech synthesiser (tests/spoken.py: espeak-ng + sox,
`make audio-tools`): ten digits said by 48 voices (an espeak-ng accent + voice variant
each; random speed, pitch and noise) for training, and 12 other voices for the test
folder only. Both runs go
through the CLI as a person would: `modelyard run TRAIN --test TEST --budget B --out
OUT`; the baseline run uses the first run's plan with only its MFCC families.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from tests.spoken import SpokenSpec, make_spoken, tools_missing

HERE = Path(__file__).resolve().parent


def _run(home: Path, spoken, out: Path, budget: int, plan: Path | None = None) -> dict:
    env = {**os.environ, "MODELYARD_HOME": str(home), "OLLAMA_HOST": "http://127.0.0.1:9"}
    cmd = [sys.executable, "-m", "modelyard.app.cli", "run", str(spoken.train), "--test",
           str(spoken.test), "--budget", str(budget), "--out", str(out)]
    if plan is not None:
        cmd += ["--plan", str(plan)]
    began = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.time() - began
    if proc.returncode != 0:
        raise SystemExit(f"modelyard run failed:\n{proc.stdout}\n{proc.stderr}")
    predictions = pd.read_csv(out / "predictions.csv")
    truth = predictions["path"].map(spoken.answers)
    board = pd.read_csv(out / "leaderboard.csv")
    return {"best_model": board["model"].iloc[0],
            "validation_accuracy": float(board["cv_score"].iloc[0]),
            "test_accuracy_unheard_voices": float((predictions["label"] == truth).mean()),
            "test_clips": len(predictions), "wall_seconds": round(seconds, 1),
            "leaderboard": "; ".join(f"{m} {s:.3f}" for m, s in
                                     zip(board["model"], board["cv_score"], strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=240)
    args = parser.parse_args()
    if why := tools_missing():
        raise SystemExit(f"cannot make the spoken set: {why}")
    began = time.time()
    spoken = make_spoken(HERE / ".work", SpokenSpec())
    made = time.time() - began
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = _run(tmp / "home", spoken, tmp / "full", args.budget)
        plan = json.loads((tmp / "full" / "plan.json").read_text())
        plan["families"] = [f for f in plan["families"]
                            if f["family"] in ("linear", "lightgbm")]
        (tmp / "baseline_plan.json").write_text(json.dumps(plan))
        base = _run(tmp / "home", spoken, tmp / "base", args.budget,
                    plan=tmp / "baseline_plan.json")
    print(json.dumps({"run": f"full plan, budget {args.budget} s", **full}))
    print(json.dumps({"run": "MFCC baseline only (linear, lightgbm)", **base}))
    print(json.dumps({"run": "summary", "train_clips": len(list(spoken.train.rglob("*.*"))),
                      "train_voices": len(spoken.train_voices),
                      "test_voices": len(spoken.test_voices),
                      "seconds_to_make_the_set": round(made, 1),
                      "gain_over_baseline": round(full["test_accuracy_unheard_voices"]
                                                  - base["test_accuracy_unheard_voices"], 3)}))


if __name__ == "__main__":
    main()
