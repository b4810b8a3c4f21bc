"""Fit AutoGluon (medium quality) on one split and write its test predictions.

Runs with the Python of AutoGluon's own virtual environment (`python -m bench.agenv`
makes it), never Modelyard's: AutoGluon pins an older pandas. So this file imports only
what that environment has (pandas, AutoGluon) and nothing from Modelyard or bench/.

    bench/.work/ag-venv/bin/python bench/ag_runner.py --train T.parquet --test X.parquet \
        --label y --problem-type binary --metric roc_auc --time-limit 60 --out DIR

Writes DIR/predictions.parquet (`proba_<class>` columns, or `prediction`) and
DIR/info.json (version, models trained, best model, fit seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

METRICS = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--problem-type", required=True,
                        choices=["binary", "multiclass", "regression"])
    parser.add_argument("--metric", required=True, choices=sorted(METRICS))
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--presets", default="medium_quality")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import autogluon.tabular
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = pd.read_parquet(args.train)
    test = pd.read_parquet(args.test)
    started = time.time()
    predictor = TabularPredictor(
        label=args.label, problem_type=args.problem_type, eval_metric=METRICS[args.metric],
        path=str(out / "ag-models"), verbosity=2,
    ).fit(train, time_limit=args.time_limit, presets=args.presets)
    fit_s = time.time() - started
    if args.problem_type == "regression":
        preds = pd.DataFrame({"prediction": predictor.predict(test).to_numpy()})
    else:
        proba = predictor.predict_proba(test)
        preds = pd.DataFrame({f"proba_{c}": proba[c].to_numpy() for c in proba.columns})
    preds.to_parquet(out / "predictions.parquet")
    board = predictor.leaderboard(silent=True)
    info = {
        "version": autogluon.tabular.__version__,
        "presets": args.presets,
        "best_model": predictor.model_best,
        "models": board["model"].tolist(),
        "fit_s": round(fit_s, 1),
    }
    (out / "info.json").write_text(json.dumps(info), encoding="utf-8")


if __name__ == "__main__":
    main()
