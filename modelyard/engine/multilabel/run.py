"""The multi-label branch of the worker: load the labels, search, refit the winner, save
the sealed bundle, predict the test rows. As in the tabular worker, the bundle is written
aside and swapped in whole and the test predictions renamed into place."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modelyard.engine.errors import ModelyardError, PlanError
from modelyard.engine.intake.missing_words import words_to_blank
from modelyard.engine.multilabel.labels import label_matrix
from modelyard.engine.multilabel.metrics import all_scores, per_label
from modelyard.engine.multilabel.model import (
    STRATEGY_WORDS,
    MultiLabelModel,
    label_estimator,
    preprocessing_for,
    preprocessor,
)
from modelyard.engine.multilabel.search import LabelSearch
from modelyard.engine.training import families
from modelyard.engine.training.bundle import Predictor, save_bundle
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.data import choose_features, read_table
from modelyard.schemas import Plan, Profile, RunRecord, Task
from modelyard.storage.files import replacing
from modelyard.storage.runfolder import JournalWriter, RunFolder


def load(dataset_dir: Path, plan: Plan, profile: Profile):
    """Features, the label matrix and names, the feature lists, the validation columns."""
    features = choose_features(plan, profile)
    extra = [c for c in (plan.validation.group_column, plan.validation.time_column)
             if c and c not in features.all and c not in plan.label_columns]
    table = read_table(dataset_dir / "train.parquet",
                       features.all + plan.label_columns + extra,
                       keep=tuple(plan.label_columns))
    if plan.labels and plan.labels.separator:
        # A row whose label list is missing is unknown, not "no label": left out, as a
        # missing target is in the tabular path.
        table = table[table[plan.target].notna()].reset_index(drop=True)
    if table.empty:
        raise PlanError(f"The labels “{plan.target}” are missing in every row.",
                        "Choose another target column.")
    Y, names = label_matrix(table, plan)
    groups = table[plan.validation.group_column].to_numpy() \
        if plan.validation.group_column else None
    order = table[plan.validation.time_column].to_numpy() \
        if plan.validation.time_column else None
    return table[features.all], Y, names, features, groups, order


def train_multilabel(folder: RunFolder, plan: Plan, record: RunRecord, profile: Profile,
                     journal: JournalWriter, started: float, dataset_dir: Path
                     ) -> dict[str, Any]:
    X, Y, names, features, groups, order = load(dataset_dir, plan, profile)
    # Folds of shuffled rows (no stratification by several labels), or the plan's groups
    # or time order: the splitter only needs the row count for those.
    splits, note = make_splits(plan.validation, np.zeros(len(Y), dtype=np.int64),
                               Task.regression, plan.seed, groups=groups, order=order)
    if note:
        journal.emit("log", note, level="warning")
    journal.emit("log", f"{len(Y)} rows, {len(names)} labels ({', '.join(names[:10])}), "
                        f"{len(features.all)} features, {len(splits)} validation split(s)")
    threads = int(record.threads or 1)
    search = LabelSearch(plan, X, Y, features, splits, journal, started, threads)
    best = search.run()
    if not best.model:
        raise ModelyardError("No multi-label model could be trained: every trial failed or "
                             "ran out of time.",
                             "Look at the failed trials, or give the run more time.")
    journal.emit("progress", f"refitting {best.model} on all rows", phase="refit",
                 fraction=min(1.0, (time.time() - started) / plan.budget_seconds))
    family = families.get(best.family)
    kind = preprocessing_for(family, best.strategy)
    pipeline = Pipeline([("prepare", preprocessor(kind, features)),
                         ("model", label_estimator(family, best.params, best.strategy,
                                                   plan.seed, threads))]).fit(X, Y)
    separator = plan.labels.separator if plan.labels else None
    model = MultiLabelModel(pipeline, names, list(best.thresholds), separator)
    table = per_label(Y, best.oof, best.thresholds, names)
    scores = all_scores(Y, best.oof, best.thresholds)
    with folder.writing_model() as staging:
        _save_oof(staging, Y, best.oof, names)
        save_bundle(staging, model, {
            "kind": "multilabel", "run_id": folder.id, "model": best.model,
            "family": best.family, "params": best.params | {"strategy": best.strategy},
            "task": plan.task.value, "metric": plan.metric.value, "cv_score": best.score,
            "target": plan.target, "labels": names, "separator": separator,
            "thresholds": [float(t) for t in best.thresholds], "per_label": table,
            "scores": scores, "strategy": best.strategy,
            "numeric": features.numeric, "categorical": features.categorical,
            "datetime": features.datetime, "text": features.text,
            "dtypes": {c: str(t) for c, t in X.dtypes.items()},
            "missing_words": words_to_blank(profile), "id_column": features.id_column,
            "plan": plan.model_dump(mode="json"),
        })
    folder.update(best_model=best.model, best_score=best.score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {best.model}", model=best.model,
                 cv_score=best.score, strategy=best.strategy, scores=scores,
                 per_label=table)
    if (dataset_dir / "test.parquet").exists():
        journal.emit("progress", "predicting the test rows", phase="predict", fraction=1.0)
        predictions = Predictor.load(folder.model_dir).predict_frame(
            read_table(dataset_dir / "test.parquet"))
        with replacing(folder.predictions_path) as tmp:
            predictions.to_csv(tmp, index=False)
    return {"model": best.model, "score": best.score,
            "how": f"{STRATEGY_WORDS[best.strategy]}, {len(names)} labels"}


def _save_oof(model_dir: Path, Y: np.ndarray, oof: np.ndarray, names: list[str]) -> None:
    """The winner's out-of-fold probabilities beside the model: `row`, then per label
    `y_<label>` (0/1) and `proba_<label>`."""
    frame = pd.DataFrame({"row": np.arange(len(Y))})
    for j, name in enumerate(names):
        frame[f"y_{name}"] = Y[:, j]
        frame[f"proba_{name}"] = oof[:, j]
    model_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(model_dir / "oof.parquet", index=False)
