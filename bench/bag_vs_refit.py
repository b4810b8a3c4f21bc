"""Bagging vs a refit, the same models: after a `modelyard run --budget 60` on the bench's
75/25 split (bench/automl_vs_flaml.py), every pool trial that kept its fold models is
scored on the test rows twice: as its bag (the average of its 5 fold models, what the
Run delivers) and refitted once on every training row (what the Run delivered before
bagging), with the seconds each took to make.

    python -m bench.bag_vs_refit [--budget 60] [--only NAME ...]

Prints one JSON line per data set.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from bench import realdata
from bench.automl_vs_flaml import _score, modelyard
from modelyard.engine.training import families
from modelyard.engine.training.bagging import load_bag
from modelyard.engine.training.bundle import Predictor
from modelyard.engine.training.data import load_training_data, read_table
from modelyard.engine.training.evaluate import make_pipeline, predict_matrix
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import Plan, Profile


def compare(run_dir: Path, dataset_dir: Path, test, target: str, task: str, classes) -> list:
    """Per pool member with a bag: (model, bag score, refit score, refit seconds)."""
    plan = Plan.model_validate(json.loads((run_dir / "run.json").read_text())["plan"])
    profile = Profile.model_validate(json.loads((dataset_dir / "profile.json").read_text()))
    data = load_training_data(dataset_dir, plan, profile)
    ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                     n_jobs=2, seed=plan.seed)
    X_test = read_table(dataset_dir / "test.parquet")[data.X.columns.tolist()]
    order = Predictor.load(run_dir).classes  # the class codes' labels
    rows = []
    for meta_path in sorted((run_dir / "oof").glob("*.json")):
        meta = json.loads(meta_path.read_text())
        bag_dir = run_dir / "bags" / meta["model"]
        if not bag_dir.exists():
            continue
        classification = plan.task.is_classification
        bag = load_bag(bag_dir, classification, data.n_classes)
        started = time.perf_counter()
        refit = make_pipeline(families.get(meta["family"]), meta["params"], ctx, data) \
            .fit(data.X, data.y)
        seconds = time.perf_counter() - started
        scores = []
        for model in (bag, refit):
            pred = predict_matrix(model, X_test, classification, data.n_classes)
            if classification:  # into the bench's class order
                pred = pred[:, [order.index(c) for c in classes]]
            scores.append(_score(task, test[target], pred, classes))
        rows.append({"model": meta["model"], "cv": meta["score"], "bag": scores[0],
                     "refit": scores[1], "refit_s": round(seconds, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    for name, loader in realdata.ALL.items():
        if args.only and name not in args.only:
            continue
        frame, target, task = loader()
        stratify = frame[target] if task != "regression" else None
        train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                       stratify=stratify)
        train, test = train.reset_index(drop=True), test.reset_index(drop=True)
        classes = sorted(frame[target].unique().tolist()) if task != "regression" else []
        work = Path(tempfile.mkdtemp(prefix=f"bagref-{name}-"))
        score, wall, best = modelyard(train, test, target, task, args.budget, work, classes)
        run_dir = next((work / "home" / "runs").iterdir())
        dataset_dir = next((work / "home" / "datasets").iterdir())
        rows = compare(run_dir, dataset_dir, test, target, task, classes)
        higher = task == "binary"
        wins = sum((r["bag"] > r["refit"]) == higher and r["bag"] != r["refit"] for r in rows)
        print(json.dumps({"dataset": name, "task": task, "delivered": best,
                          "delivered_score": score, "wall_s": round(wall, 1),
                          "members": rows, "bag_better": wins, "of": len(rows),
                          "mean_bag": float(np.mean([r["bag"] for r in rows])),
                          "mean_refit": float(np.mean([r["refit"] for r in rows]))}),
              flush=True)


if __name__ == "__main__":
    main()
