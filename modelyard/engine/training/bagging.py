"""Bagging: a trial's fold models, kept and averaged, instead of one refit on every row.

Cross-validation already fits k models, each on k-1 folds; their out-of-fold predictions
score them honestly (each row predicted by the model that did not see it). Averaging the
k models for new rows is what that score measures, costs no refit time and lowers the
variance of a single fit. So the delivered model is the bag whenever its trial has one;
the refit on all rows remains for what has no bag (see `bags`):

- a holdout (one split) keeps its one model as fitted (a "bag" of one), fitted on the
  training share of the rows, and it is refitted on every row only when the search has
  left the time for that (`refit_in_time`). A holdout is what the planner chooses when
  the table is large for the budget, so the refit, as long as the trial was, would be
  the search's time: on 245,509 flights a blend scoring 0.784 on the holdout was refused
  because a forest's refit, about 60 s, could not be delivered in time; on 14,499 tweets
  (session 12) the first trial, the linear model, took 27 s and its refit 20 s more,
  leaving no time for any other trial, and a blend of three scoring 0.874 on 3,750 Amazon
  reviews was refused for its members' refits;
- a time split: its fold models never saw the latest rows, which a refit does;
- a trial whose bag did not fit the disk allowance (`DISK_BYTES`, `DISK_SHARE`), or one
  fitted by a joined worker of a shared search (on another machine: its files are there).

Measured (bench/RESULTS.md, "Bagging and stacking"; 60 s Runs on four real tables, the
machine under load): scored on held-out test rows, 8 of 13 pool models were better as
their bag than refitted on every row (credit_data 5 of 5, telco_churn 1 of 4, mlc_churn
1 of 3, diamonds 1 of 1); the differences either way were within 0.9%. What decides it
is the time: a refit took 1-11 s of a 60 s budget per model, so a Run that refits
delivers a single model where a bagged one delivers the blend or the stack (telco_churn
and credit_data lost their ensemble to "refitting its members would exceed the budget"
before, and overran the budget by 10-12 s; bagged, both delivered a blend, ending 4-7 s
past it). So the bag is always delivered when there is one.

Memory and disk: each fold's pipeline (its fitted preprocessing and model) is written to
a file the moment it is fitted and not held, so a trial holds one fold model at a time,
in-process or in a guarded child (which writes the same files: the parent reads them
back). Only the trials that enter the pool of out-of-fold predictions keep their bag
(`bags/<model>/` in the run folder, removed when the trial leaves the pool); the others'
files are deleted as soon as the trial is scored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from modelyard.engine.training.evaluate import predict_matrix
from modelyard.schemas import ValidationKind

# A Run keeps bags while they take at most this much disk, and at most this share of the
# space still free: past that, the next trials are refitted instead.
DISK_BYTES = 4 * 2**30
DISK_SHARE = 0.25
FOLD_FILE = "fold{}.joblib"


def bags(kind: ValidationKind, n_splits: int) -> bool:
    """Whether a Run validated this way keeps its trials' fold models (see the module)."""
    if kind is ValidationKind.holdout:
        return True
    return n_splits >= 2 and kind in (ValidationKind.kfold, ValidationKind.stratified_kfold,
                                      ValidationKind.group_kfold)


def refit_in_time(fit_seconds: float, holdout_fraction: float, end: float,
                  now: float | None = None) -> bool:
    """Whether a holdout's winner (its members' fits, for a blend: `fit_seconds`, as the
    holdout's training share took them) can be refitted on every row before `end`: the
    fits scaled to all the rows, with the refit's safety margin."""
    from modelyard.engine.training.schedule import REFIT_SAFETY

    now = time.time() if now is None else now
    refit = fit_seconds / max(0.05, 1.0 - holdout_fraction) * REFIT_SAFETY
    return now + refit <= end


def keep_fold(folder: Path, fold: int, pipeline: Any) -> None:
    """Write one fold's fitted pipeline into the trial's bag folder."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".fold{fold}.partial"
    joblib.dump(pipeline, partial)
    partial.replace(folder / FOLD_FILE.format(fold))


def fold_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("fold*.joblib"),
                  key=lambda p: int(p.stem.removeprefix("fold")))


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).glob("*") if p.is_file())


def room_for(new: Path, kept: Path) -> bool:
    """Whether the bag in `new` may join those in `kept` within the disk allowance."""
    used = sum(size(d) for d in kept.iterdir() if d.is_dir() and not d.name.startswith(".")) \
        if kept.exists() else 0
    free = shutil.disk_usage(kept if kept.exists() else kept.parent).free
    adding = size(new)
    return used + adding <= DISK_BYTES and adding <= DISK_SHARE * free


def discard(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def load_bag(folder: Path, classification: bool, n_classes: int) -> BaggedModel:
    """The bag kept in `folder`, every fold model in fold order."""
    files = fold_files(folder)
    if not files:
        raise FileNotFoundError(f"the bag in {folder} holds {len(files)} fold model(s)")
    return BaggedModel([joblib.load(p) for p in files], classification, n_classes)


class BaggedModel:
    """The fold pipelines of one trial averaged with equal weights: a drop-in for one
    fitted pipeline (`predict`, `predict_proba`, `classes_`). `members` and `weights`
    are what an export reads (the ONNX graph averages the members)."""

    def __init__(self, members: list, classification: bool, n_classes: int = 0):
        self.members = members
        self.weights = np.full(len(members), 1.0 / len(members))
        self.classification = classification
        self.n_classes = n_classes
        if classification:
            self.classes_ = np.arange(n_classes)

    def predict_proba(self, X) -> np.ndarray:
        # A fold may have missed a rare class: predict_matrix places the columns it knows.
        return sum(predict_matrix(m, X, True, self.n_classes) for m in self.members) \
            / len(self.members)

    def predict(self, X) -> np.ndarray:
        if self.classification:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return sum(np.asarray(m.predict(X), dtype=np.float64) for m in self.members) \
            / len(self.members)


def describe(model: Any) -> str:
    """How the delivered model predicts, in words for the bundle and the Model page."""
    from modelyard.engine.training.ensemble import WeightedEnsemble
    from modelyard.engine.training.stacking import StackedModel

    if isinstance(model, BaggedModel):
        if len(model.members) == 1:
            return "the model its holdout split fitted, kept as fitted instead of refitted"
        return (f"the average of the {len(model.members)} models its cross-validation "
                "fitted, bagged instead of refitted")
    if isinstance(model, StackedModel):
        return (f"a second layer ({model.stacker_name}) over the predictions of "
                f"{len(model.bases)} models, each itself bagged")
    if isinstance(model, WeightedEnsemble):
        n = sum(isinstance(m, BaggedModel) for m in model.members)
        kept = n and all(len(m.members) == 1 for m in model.members
                         if isinstance(m, BaggedModel))
        return (f"a weighted blend of {len(model.members)} models"
                + (f", {n} of them as their holdout split fitted them" if kept
                   else f", {n} of them bagged" if n else ", each refitted on every row"))
    return "one model refitted on every row"
