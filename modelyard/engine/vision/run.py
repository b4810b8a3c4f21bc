"""The image branch of the worker: search, save the bundle, predict the test images.

As in the tabular worker, the bundle is written aside and swapped in whole and the test
predictions renamed into place, so a full disk never damages what a session finished."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from modelyard.engine.errors import ModelyardError
from modelyard.engine.vision.predict import ImagePredictor
from modelyard.engine.vision.trainer import ImageSearch
from modelyard.schemas import Plan, RunRecord
from modelyard.storage.files import replacing
from modelyard.storage.runfolder import JournalWriter, RunFolder


def _save_oof(model_dir: Path, search: ImageSearch, predictor=ImagePredictor) -> None:
    """The winner's predictions for the held-out images, in the tabular layout
    (`row`, `y`, `proba_<class>`), so diagnostics and reports work for images too."""
    import pandas as pd

    paths, codes = search.valid
    proba = predictor(model_dir).predict_paths(paths, [str(p) for p in paths])
    frame = pd.DataFrame({"row": search.valid_rows,
                          "y": [search.classes[c] for c in codes]})
    for cls in search.classes:
        frame[f"proba_{cls}"] = proba[f"proba_{cls}"].to_numpy()
    frame.to_parquet(model_dir / "oof.parquet", index=False)


def train_images(folder: RunFolder, plan: Plan, record: RunRecord,
                 journal: JournalWriter, started: float, dataset_dir: Path, *,
                 search_cls=ImageSearch, predictor=ImagePredictor,
                 unit: str = "images") -> dict[str, Any]:
    """Search, bundle and predict the test files of a data set of files: images, or any
    kind whose search and predictor follow ImageSearch and ImagePredictor (sound)."""
    weights_dir = folder.path.parent.parent / "weights"
    search = search_cls(plan, dataset_dir, folder, journal, started,
                        threads=int(record.threads or 1), weights_dir=weights_dir)
    best = search.run()
    if best is None:
        raise ModelyardError("No model finished within the budget.",
                             "Give the run more time, or choose a smaller backbone.")
    with folder.writing_model() as staging:
        search.save_bundle(staging, {"run_id": folder.id, "task": plan.task.value,
                                     "metric": plan.metric.value, "target": plan.target,
                                     "plan": plan.model_dump(mode="json")})
        _save_oof(staging, search, predictor)
    folder.update(best_model=best.model, best_score=best.score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {best.model}", model=best.model, cv_score=best.score,
                 weights=best.weights)
    test_manifest = dataset_dir / "test_manifest.parquet"
    if test_manifest.exists():
        journal.emit("progress", f"predicting the test {unit}", phase="predict", fraction=1.0)
        rel = pl.read_parquet(test_manifest)["path"].to_list()
        # Stored as <storage folder>/<path as given>: report the path as given.
        names = [PurePosixPath(*PurePosixPath(p).parts[1:]).as_posix() for p in rel]
        order = sorted(range(len(rel)), key=lambda i: names[i])
        predictions = predictor(folder.model_dir).predict_paths(
            [dataset_dir / rel[i] for i in order], [names[i] for i in order])
        with replacing(folder.predictions_path) as tmp:
            predictions.to_csv(tmp, index=False)
    return {"model": best.model, "score": best.score, "trials": max(1, search.trial_count),
            "weights": best.weights}
