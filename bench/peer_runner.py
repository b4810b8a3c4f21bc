"""Fit FLAML, or LightGBM with its default parameters, on one split in its own process.

    python -m bench.peer_runner flaml --train T.parquet --test X.parquet --label y \
        --task binary --metric roc_auc --budget 60 --out DIR

The side-by-side bench runs every system in a subprocess so that each one's wall time and
peak memory are measured the same way (bench/proctree.py). Writes DIR/predictions.parquet
(`proba_<class>` columns in sorted class order, or `prediction`) and DIR/info.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd


def native(frame: pd.DataFrame, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """Text columns as pandas categories (what LightGBM and FLAML take natively)."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            source = like[col] if like is not None else out[col]
            cats = pd.Categorical(source.astype("object").dropna()).categories
            out[col] = pd.Categorical(out[col].astype("object"), categories=cats)
    return out


def flaml_estimators(task: str) -> list[str]:
    """FLAML's own default list, less CatBoost.

    FLAML adds CatBoost whenever it can import it (Modelyard's environment has it), and
    its CatBoost trials ignore the time budget: here one ran past 280 s of a 20 s budget
    on 258 rows and a 60 s run was killed after 13 minutes. Without CatBoost installed
    FLAML would use exactly this list.
    """
    names = ["lgbm", "rf", "xgboost", "extra_tree", "xgb_limitdepth", "sgd"]
    return names if task == "regression" else [*names, "lrl1"]


def _flaml(X, y, Xt, task: str, metric: str, budget: float):
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X, y, task="regression" if task == "regression" else "classification",
               metric=metric, time_budget=budget, seed=0, verbose=0, n_jobs=-1,
               estimator_list=flaml_estimators(task))
    if task == "regression":
        return automl.predict(Xt), None, automl.best_estimator
    return automl.predict_proba(Xt), list(automl.classes_), automl.best_estimator


def _lightgbm(X, y, Xt, task: str):
    import lightgbm as lgb

    if task == "regression":
        return lgb.LGBMRegressor(verbose=-1, random_state=0).fit(X, y).predict(Xt), None, "lgbm"
    model = lgb.LGBMClassifier(verbose=-1, random_state=0).fit(X, y)
    return model.predict_proba(Xt), list(model.classes_), "lgbm"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=["flaml", "lightgbm"])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--task", required=True, choices=["binary", "multiclass", "regression"])
    parser.add_argument("--metric", required=True)
    parser.add_argument("--budget", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = pd.read_parquet(args.train)
    features = train.drop(columns=[args.label])
    X = native(features)
    Xt = native(pd.read_parquet(args.test), like=features)
    started = time.time()
    if args.system == "flaml":
        pred, classes, best = _flaml(X, train[args.label], Xt, args.task, args.metric,
                                     args.budget)
    else:
        pred, classes, best = _lightgbm(X, train[args.label], Xt, args.task)
    fit_s = time.time() - started
    if classes is None:
        frame = pd.DataFrame({"prediction": pred})
    else:
        frame = pd.DataFrame({f"proba_{c}": pred[:, i] for i, c in enumerate(classes)})
    frame.to_parquet(out / "predictions.parquet")
    (out / "info.json").write_text(json.dumps({"best_model": str(best), "fit_s": round(fit_s, 1)}),
                                   encoding="utf-8")


if __name__ == "__main__":
    main()
