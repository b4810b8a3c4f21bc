"""The mixed branch of the worker: a table whose rows point at images.

One mechanism: each image column becomes a few numeric columns (`embed.py`: out-of-fold
predictions of an image network), then the ordinary table search (`Trainer`) runs three
times on the same validation splits, each on its own share of the budget and its own
Optuna journal:

- `table`: the table's own columns (numeric, categorical, text, dates);
- `image`: the image columns alone;
- `joined`: both.

Every trial is recorded with its inputs in its name (`joined_lightgbm_3`) and in an
`inputs` field, so the leaderboard shows what each kind of data adds. The best of the
three is refitted on every row and bundled with its image networks' weights (tensors
only; `predict.py` reads them). Shares of the budget: the image networks `IMAGE_SHARE`,
then of the rest 30% table, 20% image (few columns: a quick search), 50% joined.

When the Plan lists the late-fusion network (`fusion.py`; by default only with a GPU),
it gets `FUSION_SHARE` of the budget, after the image networks and before the three
searches (which share what is left). It is scored on the first
split's validation rows only, so it competes on those rows: the best table model's
out-of-fold predictions for the same rows are scored too, and the better of the two on
them is bundled. It does not join the ensembles (they blend predictions for every row,
and the fused network has them for one split's rows only).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.engine.errors import ModelyardError
from modelyard.engine.mixed.embed import (
    IMAGE_SHARE,
    ImageNetworks,
    colour_stats,
    column_names,
    image_splits,
    load_pixels,
    stat_names,
)
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.data import Features, TrainingData, load_training_data, read_table
from modelyard.engine.training.metrics import better
from modelyard.schemas import Plan, Profile, RunRecord, TrialResult
from modelyard.storage.files import replacing, write_json_atomic
from modelyard.storage.runfolder import JournalWriter, RunFolder

SHARES = {"table": 0.3, "image": 0.2, "joined": 0.5}
# Of the budget, when the Plan lists the late-fusion network beside table families. At
# 0.5 on a busy 2-core CPU (240 s, 800 rows) the table searches were left ~50 s for three
# searches and their first trials ran out of time: 0.35 leaves them room.
FUSION_SHARE = 0.35
INPUT_WORDS = {"table": "the table's columns only", "image": "the images only",
               "joined": "the table's columns and the images"}


class TaggedJournal:
    """The Run's journal, with every trial named and marked by the inputs it used."""

    def __init__(self, journal: JournalWriter, inputs: str):
        self._journal, self.inputs = journal, inputs

    def trial(self, result: TrialResult):
        return self._journal.trial(result.model_copy(update={
            "model": f"{self.inputs}_{result.model}", "inputs": self.inputs,
            "message": f"{self.inputs}_{result.message}" if result.message.startswith(
                result.model) else result.message}))

    def emit(self, kind, message: str = "", **data: Any):
        if kind == "epoch" and data.get("model"):  # epoch curves carry the trial's name
            data["model"] = f"{self.inputs}_{data['model']}"
            message = f"{self.inputs}_{message}"
        if data.get("best_model"):  # progress names the leader as the leaderboard does
            data["best_model"] = f"{self.inputs}_{data['best_model']}"
            message = message.replace(f"best {data['best_model'][len(self.inputs) + 1:]}",
                                      f"best {data['best_model']}")
        return self._journal.emit(kind, message, **data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


def _image_side(profile: Profile) -> int:
    from modelyard.engine.mixed.embed import side

    mixed = profile.mixed
    return side(mixed.width.get("median", 64.0), mixed.height.get("median", 64.0))


def _variant(data: TrainingData, inputs: str, image_cols: list[str]) -> TrainingData | None:
    """The training data seen by one kind of model, or None when it has no column."""
    f = data.features
    if inputs == "image":
        features = Features(list(image_cols), [], f.id_column)
    elif inputs == "table":
        features = Features([c for c in f.numeric if c not in image_cols], f.categorical,
                            f.id_column, f.datetime, f.text)
    else:
        features = f
    if not features.all:
        return None
    return replace(data, X=data.X[features.all], features=features)


def train_mixed(folder: RunFolder, plan: Plan, record: RunRecord, profile: Profile,
                journal: JournalWriter, started: float, dataset_dir: Path) -> dict[str, Any]:
    """Search the three kinds of model, bundle the best, predict the test rows."""
    from modelyard.engine.mixed.fusion import FAMILY
    from modelyard.engine.training.trainer import Trainer

    fusion = next((c for c in plan.families if c.family == FAMILY), None)
    full_plan = plan
    # The table searches see the table families only, in their share of the time.
    plan = plan.model_copy(update={
        "families": [c for c in plan.families if c.family != FAMILY],
        "budget_seconds": int(plan.budget_seconds * (1 - FUSION_SHARE)) if fusion
        else plan.budget_seconds})
    data = load_training_data(dataset_dir, plan, profile)
    columns = [c for c in profile.mixed.image_columns if c not in plan.excluded_columns]
    cells = read_table(dataset_dir / "train.parquet", columns + [plan.target])
    cells = cells[cells[plan.target].notna()].reset_index(drop=True)
    splits, note = make_splits(plan.validation, data.y, plan.task, plan.seed,
                               groups=data.groups, order=data.order)
    if note:
        journal.emit("log", note, level="warning")
    threads = int(record.threads or 1)
    networks = ImageNetworks(plan.task, data.n_classes, _image_side(profile),
                             plan.seed, threads, folder.path.parent.parent / "weights")
    budget = float(plan.budget_seconds)
    folds = image_splits(splits, data.y, plan.task, plan.seed)
    # The folds' networks and the final one share the image time evenly.
    per_network = IMAGE_SHARE * budget / (len(folds) + 1) / max(1, len(columns))
    pixels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    image_cols: list[str] = []
    for column in columns:
        paths = [None if v is None or v != v else dataset_dir / v for v in cells[column]]
        pixels[column] = load_pixels(paths, networks.size)
        present = pixels[column][1]
        if present.sum() < 2:
            journal.emit("log", f"“{column}”: fewer than two rows have an image; left out",
                         level="warning")
            continue
        if not plan.families:  # only the fused network: it learns from the pixels itself
            continue
        journal.emit("log", f"“{column}”: training {len(folds)} image networks "
                            f"({networks.size}×{networks.size} px, {int(present.sum())} "
                            "images), each on the rows the others hold out", phase="images")
        oof = networks.out_of_fold(pixels[column][0], present, data.y, folds,
                                   time.time() + per_network * len(folds))
        names = column_names(column, networks.width) + stat_names(column)
        values = np.hstack([oof, colour_stats(*pixels[column])])
        for i, name in enumerate(names):
            data.X[name] = values[:, i]
        data.features.numeric += names
        image_cols += names
    journal.emit("log", f"{len(data.y)} rows, {len(splits)} validation split(s); models on "
                        "the table alone, the images alone, and both joined")
    # The fused network trains first, in its own share: the table searches fill the rest.
    search = None
    if fusion is not None:
        fused_pixels, size = _fusion_pixels(profile, pixels, cells, dataset_dir,
                                            networks.size, networks.torch.cuda.is_available())
        search = _fuse(folder, full_plan, profile, journal, data, fused_pixels, image_cols,
                       splits[0], size, threads, started, reserve=per_network * len(columns))
    rest = max(0.0, started + full_plan.budget_seconds - time.time()
               - per_network * len(columns))
    best, best_data, best_inputs = None, None, ""
    for inputs, share in SHARES.items() if plan.families else ():
        part = _variant(data, inputs, image_cols)
        if part is None:
            journal.emit("log", f"no model on {INPUT_WORDS[inputs]}: no such column",
                         level="warning")
            continue
        sub = plan.model_copy(update={"budget_seconds": max(5, int(rest * share))})
        trainer = Trainer(sub, part, splits, TaggedJournal(journal, inputs),
                          folder.path / f"optuna-{inputs}.log", n_jobs=threads,
                          started=time.time(), oof_dir=folder.path / f"oof-{inputs}")
        found = trainer.run()
        if found.model and (best is None or better(plan.metric, found.score, best.score)):
            best, best_data, best_inputs = found, part, inputs
    if search is not None and _fusion_wins(plan, data, splits[0], search, best,
                                           best_inputs, journal):
        return _finish_fusion(folder, full_plan, profile, journal, dataset_dir, search,
                              _variant(data, "table", image_cols), columns)
    if best is None:
        raise ModelyardError("No model could be trained: every trial failed or ran out of "
                             "time.", "Look at the failed trials, or give the run more time.")
    used = [c for c in columns if any(n in best_data.features.all for n in
                                      column_names(c, networks.width) + stat_names(c))]
    finals = {}
    for column in used:  # the final network learns from every row with an image
        pix, present = pixels[column]
        journal.emit("log", f"“{column}”: training the final image network on every row")
        finals[column] = networks.train(pix[present], data.y[present],
                                        time.time() + per_network)
    model = f"{best_inputs}_{best.model}"
    _bundle(folder, full_plan, profile, best, best_data, model, best_inputs, finals,
            threads)
    folder.update(best_model=model, best_score=best.score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {model}", model=model, cv_score=best.score,
                 inputs=best_inputs)
    _predict_test(folder, journal, dataset_dir)
    return {"model": model, "score": best.score, "how": f"it uses {INPUT_WORDS[best_inputs]}"}


def _bundle(folder: RunFolder, plan: Plan, profile: Profile, best, data: TrainingData,
            model: str, inputs: str, finals: dict, threads: int) -> None:
    """The refitted winner, its image networks (tensors only) and its metadata, sealed."""
    import torch

    from modelyard.engine.intake.missing_words import words_to_blank
    from modelyard.engine.training.bundle import save_bundle
    from modelyard.engine.training.families.base import FitContext
    from modelyard.engine.training.worker import _save_oof, refit

    ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                     n_jobs=threads, seed=plan.seed)
    pipeline = refit(best, ctx, data)
    networks = {}
    with folder.writing_model() as staging:
        for i, (column, network) in enumerate(finals.items()):
            name = f"image_network_{i}.pt"
            torch.save(network.state, staging / name)
            networks[column] = {"file": name, "weights": network.weights, **network.config}
        write_json_atomic(staging / "images.json", networks)
        extra = _save_oof(staging, best, data, plan)
        f = data.features
        save_bundle(staging, pipeline, {
            **extra, "kind": "mixed", "inputs": inputs, "image_columns": list(finals),
            "run_id": folder.id, "model": model, "family": best.family,
            "params": best.params, "task": plan.task.value, "metric": plan.metric.value,
            "cv_score": best.score, "target": plan.target, "classes": data.classes,
            "numeric": f.numeric, "categorical": f.categorical, "datetime": f.datetime,
            "text": f.text, "dtypes": {c: str(t) for c, t in data.X.dtypes.items()},
            "missing_words": words_to_blank(profile), "id_column": f.id_column,
            "plan": plan.model_dump(mode="json")})


def _fusion_pixels(profile: Profile, pixels: dict, cells, dataset_dir: Path, decoded: int,
                   cuda: bool):
    """The images the fused network sees: those already decoded on a CPU; larger ones
    (up to 128 px, `embed.side`) decoded again when a GPU is there."""
    from modelyard.engine.mixed.embed import side

    mixed = profile.mixed
    size = side(mixed.width.get("median", 64.0), mixed.height.get("median", 64.0),
                on_gpu=cuda)
    if size == decoded:
        return pixels, size
    return {column: load_pixels([None if v is None or v != v else dataset_dir / v
                                 for v in cells[column]], size)
            for column in pixels}, size


def _fuse(folder: RunFolder, plan: Plan, profile: Profile, journal: JournalWriter,
          data: TrainingData, pixels: dict, image_cols: list[str], split, size: int,
          threads: int, started: float, reserve: float):
    """The late-fusion search for `FUSION_SHARE` of the budget (less, when the Run's
    deadline less `reserve`, the final image networks' time, comes first); None when no
    trial finished."""
    from modelyard.engine.mixed.fusion import FAMILY, FusionSearch

    table = _variant(data, "table", image_cols) or replace(
        data, X=data.X.iloc[:, :0], features=Features([], [], data.features.id_column))
    alone = all(c.family == FAMILY for c in plan.families)  # no table search to leave time
    deadline = min(time.time() + (1.0 if alone else FUSION_SHARE) * plan.budget_seconds,
                   started + plan.budget_seconds - reserve)
    if not pixels or deadline - time.time() < 5:
        journal.emit("log", "no late-fusion network: " + ("no image column" if not pixels
                     else "no time left for it"), level="warning")
        return None
    sub = plan.model_copy(update={"budget_seconds": max(5, int(deadline - time.time()))})
    search = FusionSearch(sub, table, pixels, split, size, folder,
                          TaggedJournal(journal, "joined"), time.time(), threads,
                          folder.path.parent.parent / "weights")
    return search if search.run() is not None else None


def _fusion_wins(plan: Plan, data: TrainingData, split, search, best, best_inputs: str,
                 journal: JournalWriter) -> bool:
    """Whether the fused network beats the best table model on the rows it was scored on
    (the first split's validation rows; the table model by its out-of-fold predictions)."""
    from modelyard.engine.training.metrics import score

    rows = split[1]
    fused = f"joined_{search.best.model}"
    if best is None or best.result is None:
        return True
    theirs = score(plan.metric, data.y[rows], best.result.oof[rows], data.n_classes)
    wins = better(plan.metric, search.best.score, theirs)
    journal.emit("log", f"on the {len(rows)} validation rows of the first split, {fused} "
                        f"scored {plan.metric.value} {search.best.score:.4g} and "
                        f"{best_inputs}_{best.model} (out of fold) {theirs:.4g}: "
                        f"{fused if wins else f'{best_inputs}_{best.model}'} is kept")
    return wins


def _finish_fusion(folder: RunFolder, plan: Plan, profile: Profile, journal: JournalWriter,
                   dataset_dir: Path, search, table: TrainingData | None,
                   columns: list[str]) -> dict[str, Any]:
    """Bundle the fused network and predict the test rows with it."""
    from modelyard.engine.intake.missing_words import words_to_blank
    from modelyard.engine.training.bundle import save_bundle

    model = f"joined_{search.best.model}"
    f = table.features if table is not None else Features([], [])
    dtypes = {c: str(t) for c, t in table.X.dtypes.items()} if table is not None else {}
    with folder.writing_model() as staging:
        extra = search.write(staging)
        save_bundle(staging, search.preprocessor, {
            **extra, "kind": "mixed", "inputs": "joined", "image_columns": list(columns),
            "run_id": folder.id, "model": model, "task": plan.task.value,
            "metric": plan.metric.value, "cv_score": search.best.score,
            "target": plan.target, "classes": search.classes, "numeric": f.numeric,
            "categorical": f.categorical, "datetime": f.datetime, "text": f.text,
            "dtypes": dtypes, "missing_words": words_to_blank(profile),
            "id_column": f.id_column, "plan": plan.model_dump(mode="json")})
    folder.update(best_model=model, best_score=search.best.score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {model}", model=model, cv_score=search.best.score,
                 inputs="joined")
    _predict_test(folder, journal, dataset_dir)
    return {"model": model, "score": search.best.score,
            "how": "a late-fusion network on the table's columns and the images, scored "
                   "on the first validation split's rows"}


def _predict_test(folder: RunFolder, journal: JournalWriter, dataset_dir: Path) -> None:
    if not (dataset_dir / "test.parquet").exists():
        return
    from modelyard.engine.mixed.predict import MixedPredictor

    journal.emit("progress", "predicting the test rows", phase="predict", fraction=1.0)
    predictor = MixedPredictor.load_bundle(folder.model_dir, base=dataset_dir)
    predictions = predictor.predict_frame(read_table(dataset_dir / "test.parquet"))
    with replacing(folder.predictions_path) as tmp:
        predictions.to_csv(tmp, index=False)


__all__ = ["train_mixed", "TaggedJournal"]
