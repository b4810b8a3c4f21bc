"""`modelyard run` on a real table against LightGBM with default parameters, same split.

    python -m bench.cli_vs_lightgbm [--budget 60] [--dataset credit_data]

Prints the wall time of the command and both test ROC AUCs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from bench import realdata


def lightgbm_default_auc(train: pd.DataFrame, test: pd.DataFrame, target: str) -> float:
    X, Xt = train.drop(columns=[target]).copy(), test.drop(columns=[target]).copy()
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]):
            cats = pd.Categorical(X[col].astype("object")).categories
            X[col] = pd.Categorical(X[col].astype("object"), categories=cats)
            Xt[col] = pd.Categorical(Xt[col].astype("object"), categories=cats)
    classes = sorted(train[target].unique())
    y = (train[target] == classes[1]).astype(int)
    model = lgb.LGBMClassifier(verbose=-1, random_state=0).fit(X, y)
    return roc_auc_score(test[target] == classes[1], model.predict_proba(Xt)[:, 1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--dataset", default="credit_data")
    args = parser.parse_args()
    frame, target = getattr(realdata, args.dataset)()
    train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                   stratify=frame[target])
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "--home", str(work / "home"), "run",
         str(work / "train.csv"), "--target", target, "--test", str(work / "test.csv"),
         "--budget", str(args.budget), "--out", str(work / "out"), "--json"],
        capture_output=True, text=True)
    wall = time.time() - started
    if proc.returncode != 0:
        sys.exit(f"modelyard run failed ({proc.returncode}): {proc.stderr}")
    summary = json.loads(proc.stdout)
    preds = pd.read_csv(work / "out" / "predictions.csv")
    classes = sorted(train[target].unique())
    ours = roc_auc_score(test[target].to_numpy() == classes[1], preds[f"proba_{classes[1]}"])
    base = lightgbm_default_auc(train, test, target)
    print(json.dumps({"dataset": args.dataset, "budget": args.budget,
                      "wall_seconds": round(wall, 1), "best_model": summary["best_model"],
                      "cv_score": summary["cv_score"], "test_auc_modelyard": round(ours, 4),
                      "test_auc_lightgbm_default": round(base, 4),
                      "difference": round(ours - base, 4)}, indent=2))


if __name__ == "__main__":
    main()
