"""A table whose rows point at images, where both kinds of data carry signal
(tests/mixed_data.py: a drawn shape's colour, a dose and a site move the outcome):
`modelyard run table.csv` trains models on the table alone, on the images alone and on
both joined, on the same validation splits; this reports the best of each and the chosen
model's score on held-out rows it never saw.

    python -m bench.mixed --train 800 --test 400 --budget 240

One JSON line per kind of input (best cross-validated ROC AUC and accuracy-at-0.5 of its
out-of-fold predictions are not stored per trial, so the leaderboard's CV score is what
is compared), then the chosen model's test scores.
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
from sklearn.metrics import accuracy_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mixed_data import make_mixed  # noqa: E402

KINDS = {"table": "table only", "image": "images only", "joined": "table + images"}


def cli(home: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELYARD_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


def train_and_test(tmp: Path, n_train: int, n_test: int, seed: int):
    """A training table and a test table (its answers taken out and returned), with their
    images, from the same generator with different seeds."""
    train = make_mixed(tmp / "train", n_train, seed=seed)
    test = make_mixed(tmp / "test", n_test, seed=seed + 100, name="test.csv")
    answers = pd.read_csv(test)["outcome"]
    pd.read_csv(test).drop(columns="outcome").to_csv(test, index=False)
    return train, test, answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--budget", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train, test, answers = train_and_test(tmp, args.train, args.test, args.seed)
        began = time.time()
        done = cli(tmp / "home", "run", train, "--target", "outcome", "--budget",
                   args.budget, "--planner", "rules", "--out",
                   tmp / "out", "--json")
        wall = time.time() - began
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
        run_id = json.loads(done.stdout)["run_id"]
        board = pd.read_csv(tmp / "out" / "leaderboard.csv")
        for prefix, words in KINDS.items():
            mine = board[board["model"].str.startswith(f"{prefix}_")]
            top = mine.sort_values("cv_score", ascending=False).head(1)
            print(json.dumps({"inputs": words, "best_model": top["model"].iloc[0],
                              "cv_roc_auc": float(top["cv_score"].iloc[0]),
                              "complete_trials": len(mine)}))
        predicted = cli(tmp / "home", "predict", run_id, test, "--out", tmp / "pred.csv")
        if predicted.returncode != 0:
            sys.exit(predicted.stderr[-2000:])
        pred = pd.read_csv(tmp / "pred.csv")
        print(json.dumps({
            "inputs": "chosen model on held-out rows",
            "best_model": json.loads((tmp / "home" / "runs" / run_id / "run.json")
                                     .read_text())["best_model"],
            "test_roc_auc": float(roc_auc_score(answers == "yes", pred["proba_yes"])),
            "test_accuracy": float(accuracy_score(answers, pred["outcome"])),
            "train_rows": args.train, "test_rows": args.test, "budget_s": args.budget,
            "wall_seconds": round(wall, 1)}))


if __name__ == "__main__":
    main()
