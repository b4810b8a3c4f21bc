"""Fit and predict times of TabPFN and TabICL from TINY random checkpoints on a 1,000-row
table, through the family (the path a Run takes): what this machine can check without the
real weights. No accuracy is measured: tiny random networks predict nonsense, so a score
would say nothing about the real models.

    python -m bench.foundation [--rows 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelyard-foundation-"))
    os.environ["MODELYARD_HOME"] = str(home)
    from modelyard.engine.training import families
    from modelyard.engine.training.families.base import FitContext
    from modelyard.schemas import Task
    from tests.foundation_weights import put_tiny_weights

    put_tiny_weights(home / "weights", home)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 10))
    X[rng.random(X.shape) < 0.05] = np.nan
    y_class = (np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) > 0).astype(np.int64)
    y_value = np.nan_to_num(X[:, 0]) * 2 + rng.normal(size=args.rows)
    fit_rows = int(args.rows * 0.8)
    import torch

    print(f"{args.rows} rows x 10 numeric columns, {fit_rows} fitted and "
          f"{args.rows - fit_rows} predicted, torch threads {torch.get_num_threads()}, "
          f"CUDA {torch.cuda.is_available()}")
    print("| family | task | fit s (median) | predict s (median) | repeats |")
    print("|---|---|---|---|---|")
    for name in ("tabpfn", "tabicl"):
        family = families.get(name)
        for task, y in ((Task.binary, y_class), (Task.regression, y_value)):
            ctx = FitContext(task, fit_rows, 2 if task is Task.binary else 0, 2, 0)
            fits, predicts = [], []
            for _ in range(args.repeats):
                model = family.build({}, ctx)
                started = time.perf_counter()
                model.fit(X[:fit_rows], y[:fit_rows])
                fits.append(time.perf_counter() - started)
                started = time.perf_counter()
                if task is Task.binary:
                    model.predict_proba(X[fit_rows:])
                else:
                    model.predict(X[fit_rows:])
                predicts.append(time.perf_counter() - started)
            print(f"| {name} | {task.value} | {statistics.median(fits):.2f} | "
                  f"{statistics.median(predicts):.2f} | {args.repeats} |")


if __name__ == "__main__":
    main()
