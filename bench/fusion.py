"""The late-fusion network next to the embedding-joined models, on bench/mixed.py's data
(tests/mixed_data.py: a drawn shape's colour, a dose and a site move the outcome).

Two runs on the same rows, each at the same budget:

- `--families lightgbm,fusion`: the table-only, image-only and embedding-joined LightGBM
  searches and the fused network share the budget; the run logs both scored on the same
  rows (the first validation split's), the fused network on its holdout and LightGBM by
  its out-of-fold predictions, and keeps the better;
- `--families fusion`: the fused network alone with the whole budget, so its score on
  the held-out test rows can be set beside the first run's chosen model's.

    python -m bench.fusion --train 800 --test 400 --budget 240

One JSON line per model kind, then one per run's test scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mixed import cli, train_and_test  # noqa: E402


def one_run(tmp: Path, train: Path, test: Path, answers, families: str, budget: int,
            name: str) -> None:
    began = time.time()
    done = cli(tmp / "home", "run", train, "--target", "outcome", "--budget", budget,
               "--planner", "rules", "--families", families, "--out", tmp / name, "--json")
    wall = time.time() - began
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    run_id = json.loads(done.stdout)["run_id"]
    board = pd.read_csv(tmp / name / "leaderboard.csv")
    for prefix in ("table_", "image_", "joined_lightgbm", "joined_ensemble", "joined_fusion"):
        mine = board[board["model"].str.startswith(prefix)]
        if mine.empty:
            continue
        top = mine.sort_values("cv_score", ascending=False).head(1)
        print(json.dumps({"run": families, "kind": prefix.rstrip("_"),
                          "best_model": top["model"].iloc[0],
                          "score_roc_auc": round(float(top["cv_score"].iloc[0]), 4),
                          "trials": len(mine)}))
    folder = tmp / "home" / "runs" / run_id
    for line in (folder / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if "validation rows of the first split" in event.get("message", ""):
            print(json.dumps({"run": families, "same_rows": event["message"]}))
        if event.get("kind") == "trial" and event.get("family") == "fusion":
            print(json.dumps({"run": families, "fusion_trial": event["message"]}))
    predicted = cli(tmp / "home", "predict", run_id, test, "--out", tmp / f"{name}.csv")
    if predicted.returncode != 0:
        sys.exit(predicted.stderr[-2000:])
    pred = pd.read_csv(tmp / f"{name}.csv")
    print(json.dumps({
        "run": families, "chosen": json.loads((folder / "run.json").read_text())["best_model"],
        "test_roc_auc": round(float(roc_auc_score(answers == "yes", pred["proba_yes"])), 4),
        "test_accuracy": round(float(accuracy_score(answers, pred["outcome"])), 4),
        "budget_s": budget, "wall_seconds": round(wall, 1)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--budget", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", nargs="+", default=["lightgbm,fusion", "fusion"],
                        help="the --families of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train, test, answers = train_and_test(tmp, args.train, args.test, args.seed)
        for i, families in enumerate(args.runs):
            one_run(tmp, train, test, answers, families, args.budget, f"out{i}")


if __name__ == "__main__":
    main()
