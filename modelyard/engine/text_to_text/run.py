"""The text-to-text branch of the worker: fit each family of the Plan on the training
pairs, score it on held-out inputs, save the best as the bundle, predict the test table.

Budget policy: the baselines take no time; the networks share what is left of the
Run's budget equally (less a reserve for saving and predicting), in the Plan's order.
Every family's trial goes into the Run's journal like a tabular trial, so the
leaderboard shows them; a family that fails (no local T5 weights, outputs over the
character model's cap) is a failed trial with its reason, and the Run goes on.

As in the other branches, the bundle is written aside and swapped in whole and the test
predictions renamed into place, so a full disk never damages what a session finished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.engine.errors import ModelyardError
from modelyard.engine.text_to_text import pairs as pairs_mod
from modelyard.engine.text_to_text.predict import KIND, TextPredictor
from modelyard.engine.text_to_text.score import scores
from modelyard.engine.training import families
from modelyard.engine.training.bundle import new_metadata, seal, write_metadata
from modelyard.engine.training.data import read_table
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import Metric, Plan, RunRecord, TrialResult, TrialStatus
from modelyard.storage.files import replacing
from modelyard.storage.runfolder import JournalWriter, RunFolder

# Seconds kept back from the networks' share for saving, scoring and predicting.
RESERVE_SECONDS = 5.0
NETWORKS = ("char_transformer", "t5_small")


def _score_words(found: dict[str, float]) -> str:
    return (f"exact match {found[Metric.exact_match.value]:.1%}, "
            f"character error rate {found[Metric.cer.value]:.1%}")


def train_text_to_text(folder: RunFolder, plan: Plan, record: RunRecord,
                       journal: JournalWriter, started: float, dataset_dir: Path
                       ) -> dict[str, Any]:
    """Fit, score and save; the best model's name and score (as `_finish_images`)."""
    data, n_empty = pairs_mod.load(dataset_dir, plan)
    if n_empty:
        journal.emit("log", f"{n_empty} rows have no output in “{plan.target}”: left out",
                     level="warning")
    train, valid = pairs_mod.holdout(data, plan.validation.holdout_fraction, plan.seed)
    journal.emit("log", f"{len(train)} training pairs, {len(valid)} held-out pairs "
                        f"(inputs never seen in training)")
    ctx = FitContext(task=plan.task, n_rows=len(train), n_classes=0,
                     n_jobs=int(record.threads or 1), seed=plan.seed)
    chosen = [c.family for c in plan.families]
    deadline = started + plan.budget_seconds - RESERVE_SECONDS
    fitted: dict[str, tuple[Any, dict[str, float], list[str]]] = {}
    weights = folder.path.parent.parent / "weights"
    for number, name in enumerate(chosen):
        left_networks = [n for n in chosen[number:] if n in NETWORKS]
        share = max(1.0, (deadline - time.time()) / max(1, len(left_networks)))
        found = _fit_one(name, number, ctx, plan, train, valid, time.time() + share,
                         folder, journal, weights)
        if found is not None:
            fitted[name] = found
        journal.emit("progress", f"{families.title(name)} done", phase="search",
                     fraction=min(1.0, (time.time() - started) / plan.budget_seconds))
    if not fitted:
        raise ModelyardError("No text-to-text model could be trained: every family failed.",
                             "Look at the failed trials for the reasons.")
    sign = 1 if plan.metric.greater_is_better else -1
    best = max(fitted, key=lambda n: sign * fitted[n][1][plan.metric.value])
    model, found, predicted = fitted[best]
    score = found[plan.metric.value]
    meta = {"kind": KIND, "run_id": folder.id, "model": best, "family": best,
            "params": getattr(model, "params", {}), "task": plan.task.value,
            "metric": plan.metric.value, "cv_score": score, "target": plan.target,
            "input_column": plan.input_column, "text": [plan.input_column],
            "numeric": [], "categorical": [], "datetime": [],
            "held_out": found, "plan": plan.model_dump(mode="json")}
    with folder.writing_model() as staging:
        model.save(staging)
        pd.DataFrame({"row": valid.rows, "input": valid.inputs, "y": valid.outputs,
                      "prediction": predicted}).to_parquet(staging / "oof.parquet",
                                                           index=False)
        write_metadata(staging, new_metadata(**meta))
        seal(staging)
    folder.update(best_model=best, best_score=score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {best}", model=best, cv_score=score, **found)
    if (dataset_dir / "test.parquet").exists():
        journal.emit("progress", "predicting the test rows", phase="predict", fraction=1.0)
        predictor = TextPredictor(model, new_metadata(**meta).as_dict())
        predictions = predictor.predict_frame(read_table(dataset_dir / "test.parquet"))
        with replacing(folder.predictions_path) as tmp:
            predictions.to_csv(tmp, index=False)
    return {"model": best, "score": score, "words": _score_words(found)}


def _fit_one(name: str, number: int, ctx: FitContext, plan: Plan, train, valid,
             deadline: float, folder: RunFolder, journal: JournalWriter, weights: Path):
    """(model, held-out scores, held-out predictions), or None when the family failed
    (recorded as a failed trial with its reason)."""
    family = families.get(name)
    params = family.default_params(ctx)
    began = time.time()
    try:
        model = family.build(params, ctx)
        if name == "t5_small":
            from modelyard.engine.text_to_text.t5 import weights_dir

            model.source = weights_dir(weights)
        kwargs: dict[str, Any] = {}
        if name in NETWORKS:
            def on_eval(epoch: int, score: float) -> None:
                journal.emit("epoch", f"{name} epoch {epoch}: held-out exact match "
                                      f"{score:.1%}", model=name, epoch=epoch, score=score)

            kwargs = {"deadline": deadline, "valid": (valid.inputs, valid.outputs),
                      "checkpoint": folder.path / "checkpoints" / f"{name}.pt",
                      "on_eval": on_eval}
        model.fit(train.inputs, train.outputs, **kwargs)
        params = dict(getattr(model, "params", params))
        fit_seconds = time.time() - began
        began = time.time()
        predicted = model.predict(valid.inputs)
    except Exception as exc:  # a failing family is a stored state, not a crash
        message = str(exc) if isinstance(exc, ModelyardError) else f"{type(exc).__name__}: {exc}"
        journal.trial(TrialResult(model=name, family=name, number=number, params=params,
                                  state=TrialStatus.failed,
                                  message=f"{families.title(name)} failed: {message}"))
        return None
    found = scores(predicted, valid.outputs)
    score = found[plan.metric.value]
    epochs = getattr(model, "epochs", None)
    journal.trial(TrialResult(
        model=name, family=name, number=number, state=TrialStatus.complete, params=params,
        cv_score=score, cv_std=0.0, fold_scores=[score], fit_seconds=fit_seconds,
        predict_seconds=time.time() - began, epochs=epochs or None,
        message=f"{families.title(name)}: {_score_words(found)} on {len(valid)} held-out "
                "pairs", **found))
    return model, found, predicted
