"""CatBoost against LightGBM, each at Modelyard's defaults for it, on the same folds of
real tables: the engine's own cross-validation (its preparation, CatBoost's early
stopping), so the numbers are what a Run's first trials see.

    python -m bench.catboost_vs_lightgbm [--only NAME ...] [--folds 5] [--threads 1]

Prints one JSON line per table and family: mean fold score, its spread, the total fit
seconds over the folds and CatBoost's learnt number of trees.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from bench import realdata
from modelyard.engine.training import families
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import cross_validate
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import Metric, Task

METRIC = {"binary": Metric.roc_auc, "multiclass": Metric.log_loss, "regression": Metric.rmse}


def training_data(frame: pd.DataFrame, target: str, task: str) -> TrainingData:
    """Numbers as numeric features, everything else as categories; the target coded."""
    frame = frame[frame[target].notna()].reset_index(drop=True)
    X = frame.drop(columns=[target])
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
               and not pd.api.types.is_bool_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    if task == "regression":
        return TrainingData(X, frame[target].to_numpy(np.float64),
                            Features(numeric, categorical))
    codes, classes = pd.factorize(frame[target].astype(str), sort=True)
    return TrainingData(X, codes.astype(np.int64), Features(numeric, categorical),
                        list(classes))


def default_cv(name: str, family_name: str, ctx: FitContext, data: TrainingData, splits,
               metric: Metric) -> dict:
    """One family's cross-validation at its defaults on one table, as a result row: the
    score, the fit, wall and CPU seconds (CPU: of this process, all its threads; on a busy
    machine the wall time says more about the neighbours than about the family)."""
    family = families.get(family_name)
    started, cpu = time.perf_counter(), time.process_time()
    result = cross_validate(family, family.default_params(ctx), ctx, data, splits, metric)
    return {"table": name, "rows": len(data.y), "family": family_name,
            "metric": metric.value, "score": round(result.mean, 5),
            "std": round(result.std, 5),
            "fit_seconds": round(result.fit_seconds * len(splits), 2),
            "wall_seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2), "learnt": result.learnt}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=["credit_data", "telco_churn",
                                                       "mlc_churn"])
    parser.add_argument("--families", nargs="*", default=["lightgbm", "catboost"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for name in args.only:
        frame, target, task = realdata.ALL[name]()
        data = training_data(frame, target, task)
        kind = Task(task)
        splitter = (StratifiedKFold if kind.is_classification else KFold)(
            args.folds, shuffle=True, random_state=0)
        splits = list(splitter.split(data.X, data.y))
        ctx = FitContext(kind, len(data.y), data.n_classes, args.threads, 0)
        for family_name in args.families:
            print(json.dumps(default_cv(name, family_name, ctx, data, splits,
                                        METRIC[task])), flush=True)


if __name__ == "__main__":
    main()
