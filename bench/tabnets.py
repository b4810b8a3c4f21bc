"""RealMLP and TabM (pytabkit) against Modelyard's `mlp` and LightGBM, each at its
defaults, on the same folds of real tables: the engine's own cross-validation, so the
numbers are what a Run's first trials see; then what `modelyard run` gains or loses
when the rule plan also holds the two networks.

    python -m bench.tabnets cv [--only NAME ...] [--folds 5] [--threads 2]
    python -m bench.tabnets run [--only NAME ...] [--budget 60]

`cv` prints one JSON line per table and family (mean fold score, spread, fit seconds
over the folds). `run` prints one JSON line per table and plan: the rule plan as it is
(which, on a CPU, leaves the networks out: `planning/nets_rule.py`) and the same plan
with both networks added, each run by `modelyard run --plan` on a 75/25 split and
scored on the held-out quarter, with its wall time.
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

from bench import realdata
from bench.catboost_vs_lightgbm import METRIC, default_cv, training_data

FAMILIES = ["lightgbm", "mlp", "tabm", "realmlp"]


def cv(names: list[str], folds: int, threads: int, family_names: list[str]) -> None:
    from sklearn.model_selection import KFold, StratifiedKFold

    from modelyard.engine.training.families.base import FitContext
    from modelyard.schemas import Task

    for name in names:
        frame, target, task = realdata.ALL[name]()
        data = training_data(frame, target, task)
        kind = Task(task)
        splitter = (StratifiedKFold if kind.is_classification else KFold)(
            folds, shuffle=True, random_state=0)
        splits = list(splitter.split(data.X, data.y))
        ctx = FitContext(kind, len(data.y), data.n_classes, threads, 0)
        for family_name in family_names:
            row = default_cv(name, family_name, ctx, data, splits, METRIC[task])
            del row["learnt"]
            print(json.dumps(row | {"load": round(os.getloadavg()[0], 1)}), flush=True)


def _cli(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", "--home", str(home),
                           *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})


def _run_once(home: Path, files: dict, target: str, budget: int, out: Path,
              plan: Path | None) -> tuple[dict, float, str]:
    how = ["--plan", str(plan)] if plan else ["--target", target, "--planner", "rules"]
    started = time.perf_counter()
    done = _cli(home, "run", str(files["train"]), "--test", str(files["test"]),
                "--budget", str(budget), "--out", str(out), "--json", *how,
                timeout=budget * 5 + 300)
    wall = time.perf_counter() - started
    text = done.stdout
    try:
        return json.loads(text[text.find("{"):]), wall, ""
    except ValueError:
        return {}, wall, (done.stderr or text)[-400:]


def run(names: list[str], budget: int) -> None:
    from bench import scoring
    from bench.automl_vs_flaml import split
    from modelyard.engine.planning.nets_rule import with_nets
    from modelyard.engine.planning.rules import MAX_FAMILIES
    from modelyard.schemas import Plan

    for name in names:
        frame, target, task = realdata.ALL[name]()
        frame = frame[frame[target].notna()].reset_index(drop=True)
        train, test = split(frame, target, task, 0)
        classes = sorted(frame[target].astype(str).unique()) if task != "regression" else []
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            files = {"train": tmp / "train.csv", "test": tmp / "test.csv"}
            train.to_csv(files["train"], index=False)
            test.drop(columns=[target]).to_csv(files["test"], index=False)
            home = tmp / "home"
            plan_path = None
            for label in ("rule plan", "with realmlp+tabm"):
                out = tmp / label.replace(" ", "_")
                if plan_path is None and label != "rule plan":
                    break
                result, wall, error = _run_once(home, files, target, budget, out, plan_path)
                score = None
                if result:
                    preds = pd.read_csv(out / "predictions.csv")
                    pred = (preds[target].to_numpy() if task == "regression" else
                            preds[[f"proba_{c}" for c in classes]].to_numpy())
                    y = test[target] if task == "regression" else test[target].astype(str)
                    score = scoring.score(task, y, pred, classes)
                chosen = Plan.model_validate_json((out / "plan.json").read_text()) \
                    if (out / "plan.json").exists() else None
                print(json.dumps({
                    "table": name, "rows": len(train), "plan": label,
                    "families": [c.family for c in chosen.families] if chosen else None,
                    "test_score": None if score is None else round(score, 5),
                    "wall_seconds": round(wall, 1), "best": result.get("best_model"),
                    "error": error or None}), flush=True)
                if label == "rule plan" and chosen is not None:
                    have = {c.family for c in chosen.families}
                    both = chosen.model_copy(update={"families": with_nets(
                        chosen.families, [n for n in ("realmlp", "tabm") if n not in have],
                        MAX_FAMILIES)})
                    plan_path = tmp / "plan_with_nets.json"
                    plan_path.write_text(both.model_dump_json())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("cv", "run"))
    parser.add_argument("--only", nargs="*", default=["breast_cancer", "hitters", "penguins",
                                                       "credit_data", "lending_club"])
    parser.add_argument("--families", nargs="*", default=FAMILIES)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=int, default=60)
    args = parser.parse_args()
    if args.what == "cv":
        cv(args.only, args.folds, args.threads, args.families)
    else:
        run(args.only, args.budget)


if __name__ == "__main__":
    main()
