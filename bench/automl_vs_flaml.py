"""Modelyard (`modelyard run`, 60 s) against FLAML (60 s) and LightGBM with default
parameters: the same 75/25 split, the same machine, the same run; scored on the test part.

    python -m bench.automl_vs_flaml [--budget 60] [--only NAME ...]

Prints one JSON line per data set. Metrics: ROC AUC (binary, higher is better),
log loss (multiclass, lower), RMSE (regression, lower).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.model_selection import train_test_split

from bench import realdata

METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def _score(task: str, y_true: pd.Series, proba_or_pred, classes) -> float:
    if task == "regression":
        return float(np.sqrt(metrics.mean_squared_error(y_true, proba_or_pred)))
    if task == "binary":
        return float(metrics.roc_auc_score(y_true == classes[1], proba_or_pred[:, 1]))
    return float(metrics.log_loss(y_true, np.clip(proba_or_pred, 1e-15, 1), labels=classes))


def _native(frame: pd.DataFrame, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """Text columns as pandas categories (what LightGBM and FLAML take natively)."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            source = like[col] if like is not None else out[col]
            cats = pd.Categorical(source.astype("object").dropna()).categories
            out[col] = pd.Categorical(out[col].astype("object"), categories=cats)
    return out


# Scores within this share of each other are called level.
LEVEL = 0.005


def verdict(task: str, ours: float, theirs: float) -> str:
    """"better", "level" or "worse" for Modelyard, in the metric's direction."""
    if abs(ours - theirs) <= LEVEL * abs(theirs):
        return "level"
    higher_is_better = task == "binary"
    return "better" if (ours > theirs) == higher_is_better else "worse"


def modelyard(train, test, target, task, budget, work: Path, classes):
    train.to_csv(work / "train.csv", index=False)
    test.drop(columns=[target]).to_csv(work / "test.csv", index=False)
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "--home", str(work / "home"), "run",
         str(work / "train.csv"), "--target", target, "--test", str(work / "test.csv"),
         "--budget", str(budget), "--out", str(work / "out"), "--json"],
        capture_output=True, text=True)
    wall = time.time() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-1000:])
    preds = pd.read_csv(work / "out" / "predictions.csv")
    if task == "regression":
        out = preds[target].to_numpy()
    else:
        out = preds[[f"proba_{c}" for c in classes]].to_numpy()
    return _score(task, test[target], out, classes), wall, json.loads(proc.stdout)["best_model"]


def flaml(train, test, target, task, budget, classes):
    from flaml import AutoML

    X, Xt = _native(train.drop(columns=[target])), None
    Xt = _native(test.drop(columns=[target]), like=train.drop(columns=[target]))
    automl = AutoML()
    started = time.time()
    automl.fit(X, train[target], task="regression" if task == "regression" else
               "classification", metric=METRIC[task], time_budget=budget, seed=0,
               verbose=0, n_jobs=-1)
    wall = time.time() - started
    if task == "regression":
        out = automl.predict(Xt)
    else:
        proba = automl.predict_proba(Xt)
        out = pd.DataFrame(proba, columns=automl.classes_)[classes].to_numpy()
    return _score(task, test[target], out, classes), wall, automl.best_estimator


def lightgbm_default(train, test, target, task, classes):
    import lightgbm as lgb

    X = _native(train.drop(columns=[target]))
    Xt = _native(test.drop(columns=[target]), like=train.drop(columns=[target]))
    if task == "regression":
        model = lgb.LGBMRegressor(verbose=-1, random_state=0).fit(X, train[target])
        return _score(task, test[target], model.predict(Xt), classes)
    model = lgb.LGBMClassifier(verbose=-1, random_state=0).fit(X, train[target])
    proba = pd.DataFrame(model.predict_proba(Xt), columns=model.classes_)[classes]
    return _score(task, test[target], proba.to_numpy(), classes)


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
        work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        row = {"dataset": name, "rows": len(frame), "task": task, "metric": METRIC[task]}
        try:
            row["modelyard"], row["modelyard_wall_s"], row["modelyard_model"] = modelyard(
                train, test, target, task, args.budget, work, classes)
        except Exception as exc:  # record, keep going
            row["modelyard_error"] = str(exc)[-300:]
        try:
            row["flaml"], row["flaml_wall_s"], row["flaml_model"] = flaml(
                train, test, target, task, args.budget, classes)
        except Exception as exc:
            row["flaml_error"] = str(exc)[-300:]
        row["lightgbm_default"] = lightgbm_default(train, test, target, task, classes)
        if "modelyard" in row and "flaml" in row:
            row["ratio_modelyard_over_flaml"] = row["modelyard"] / row["flaml"]
            row["modelyard_vs_flaml"] = verdict(task, row["modelyard"], row["flaml"])
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
