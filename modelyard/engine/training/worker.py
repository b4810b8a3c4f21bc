"""The background worker: `python -m modelyard.engine.training.worker RUN_DIR`.

It reads the Plan from `run.json`, searches, refits the winner, saves the Model bundle,
predicts the test table if the dataset has one, and ends the Run as succeeded or failed
with a reason. It writes only its run folder (journal, run.json, artifacts) and never
opens the DuckDB catalog.

A full disk. Writing the reason a run failed takes a few bytes, which a full disk does
not have; so the worker holds 1 MB back (`SpaceReserve`) from its start and gives it
back only to record the failure. A full disk (ENOSPC or EDQUOT anywhere in the failure's
exception chain) is said as such, with the megabytes free and the mount, and the next
step: free space and Add time. A run that fails for another reason while the disk is
nearly full says that too. The Model bundle is swapped in whole
(`RunFolder.writing_model`) and the test predictions renamed into place, so a full disk
never damages what an earlier session finished: that model stays usable, labelled as
coming from a run that failed late.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from modelyard.engine.errors import ModelyardError, PlanError
from modelyard.engine.intake.missing_words import words_to_blank
from modelyard.engine.jobs import ASKED_AT
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.results.words import metric_name
from modelyard.engine.training import families
from modelyard.engine.training.bagging import describe, load_bag, refit_in_time
from modelyard.engine.training.bundle import Predictor, package_versions, save_bundle
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.data import load_training_data, read_table
from modelyard.engine.training.ensemble import WeightedEnsemble
from modelyard.engine.training.evaluate import make_pipeline
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.metrics import better, f1_threshold
from modelyard.engine.training.schedule import clock_start
from modelyard.engine.training.stacking import StackedModel
from modelyard.engine.training.trainer import Trainer
from modelyard.schemas import Plan, Profile, RunStatus, Task, TrialStatus, ValidationKind
from modelyard.storage.files import (
    SpaceReserve,
    disk_full_reason,
    free_mb,
    is_disk_full,
    read_json,
    replacing,
)
from modelyard.storage.runfolder import JournalWriter, RunFolder

HEARTBEAT_SECONDS = 2.0
# Below this many cells a table's matrix algebra gains nothing from BLAS threads.
BLAS_CELLS = 10_000_000
RESOURCE_SECONDS = 5.0
# A run that fails with less than this free says the disk is nearly full too.
LOW_SPACE_MB = 8.0


def _gpu_sample() -> dict:
    """Utilisation and memory of GPU 0 via NVML; empty without an NVIDIA GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            return {"gpu_util_percent": float(util.gpu),
                    "gpu_memory_used_mb": mem.used / 2**20,
                    "gpu_memory_total_mb": mem.total / 2**20}
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return {}


def _heartbeat(journal: JournalWriter, stop: threading.Event) -> None:
    proc = psutil.Process()
    psutil.cpu_percent()
    has_gpu = bool(_gpu_sample())
    last_sample = 0.0
    while not stop.wait(HEARTBEAT_SECONDS):
        journal.folder.touch_heartbeat()
        if time.time() - last_sample >= RESOURCE_SECONDS:
            last_sample = time.time()
            mem = psutil.virtual_memory()
            try:
                journal.emit("resource", cpu_percent=psutil.cpu_percent(),
                             process_rss_mb=proc.memory_info().rss / 2**20,
                             ram_used_percent=mem.percent,
                             **(_gpu_sample() if has_gpu else {}))
            except OSError:
                # A full disk: the training thread meets it too and says so; the
                # heartbeat (a touch, no space needed) must go on meanwhile.
                pass


def one_blas_thread(shape: tuple[int, ...]) -> None:
    """BLAS (numpy's and scipy's OpenBLAS) on one thread for tables below BLAS_CELLS
    cells. Its threads wait by spinning: on two busy cores a logistic regression on
    7,000 x 60 took 0.23 s with two threads against 0.03 s with one, and the second
    layer's six tiny fits 5 s, past a 30 s budget. Tree libraries use OpenMP, not this."""
    if int(np.prod(shape)) < BLAS_CELLS:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")


def refit(best, ctx: FitContext, data, bags: Path | None = None) -> object:
    """The model the Run delivers: the winner's bag of fold models when it has one
    (`bagging.py`), else the winner refitted on every row; for an ensemble, each member
    so; for a stack, its bagged members under the second layer (`stacking.py`)."""
    classification = ctx.task.is_classification

    def one(family: str, params: dict, bag: Path | None):
        if bag is not None:
            return load_bag(bag, classification, data.n_classes)
        return make_pipeline(families.get(family), params, ctx, data).fit(data.X, data.y)

    if best.family == "stack":
        extra = best.result.extra
        return StackedModel([load_bag(b, classification, data.n_classes)
                             for b in extra["bags"]], extra["stacker"], classification,
                            data.n_classes, best.params.get("stacker", "second layer"))
    if best.family == "ensemble":
        members = best.params["members"]
        fitted = [one(m["family"], m["params"],
                      bags / m["model"] if bags is not None and m.get("bagged") else None)
                  for m in members]
        return WeightedEnsemble(fitted, [m["weight"] for m in members], classification)
    return one(best.family, best.params, best.bag)


def _save_oof(model_dir: Path, best, data, plan: Plan) -> dict:
    """Keep the winner's out-of-fold predictions beside the model (for diagnostics) and,
    for binary tasks, the F1-optimal decision threshold next to the default one."""
    if best.result is None:
        return {}
    oof = best.result.oof
    frame = pd.DataFrame({"row": np.arange(len(data.y))})
    if data.classes:
        frame["y"] = np.asarray(data.classes, dtype=object)[data.y]
        for i, cls in enumerate(data.classes):
            frame[f"proba_{cls}"] = oof[:, i]
    else:
        frame["y"] = data.y
        frame["prediction"] = oof
    model_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(model_dir / "oof.parquet", index=False)
    if plan.task is Task.binary:
        return {"threshold": f1_threshold(data.y, oof[:, 1])}
    return {}


def _trials(folder: RunFolder) -> str:
    # Counted from the journal by the one definition the pages and the CLI use
    # (engine/results/counts.py), earlier sessions of the Run included.
    from modelyard.engine.results.counts import from_journal

    return from_journal(folder.events_path).words()


def _succeeded(folder, journal, plan: Plan, found: dict, score: str, more: str = "") -> None:
    """Record a Run that a trainer of its own (images, sound, series, labels, text) ended
    with `found` (its best model and score); `score` and `more` are said in the message."""
    folder.update(status=RunStatus.succeeded, finished_at=time.time(),
                  best_model=found["model"], best_score=found["score"],
                  greater_is_better=plan.metric.greater_is_better,
                  message=f"Best model {found['model']} ({score}) after {_trials(folder)}"
                          + (f"; {more}." if more else "."))
    journal.status(RunStatus.succeeded, "succeeded")


def _metric_words(plan: Plan, found: dict) -> str:
    return f"{metric_name(plan.metric)} {found['score']:.4g}"


def _finish_images(folder, plan, record, journal, started, dataset_dir, **kind) -> None:
    from modelyard.engine.vision.run import train_images

    found = train_images(folder, plan, record, journal, started, dataset_dir, **kind)
    _succeeded(folder, journal, plan, found, _metric_words(plan, found), found["weights"])


def _finish_forecast(folder, plan, record, journal, started, dataset_dir) -> None:
    from modelyard.engine.forecast.run import train_series

    found = train_series(folder, plan, record, journal, started, dataset_dir)
    _succeeded(folder, journal, plan, found, f"{_metric_words(plan, found)} over backtests")


def _finish_multilabel(folder, plan, record, profile, journal, started, dataset_dir) -> None:
    from modelyard.engine.multilabel.run import train_multilabel

    found = train_multilabel(folder, plan, record, profile, journal, started, dataset_dir)
    _succeeded(folder, journal, plan, found, _metric_words(plan, found), found["how"])


def _finish_text_to_text(folder, plan, record, journal, started, dataset_dir) -> None:
    from modelyard.engine.text_to_text.run import train_text_to_text

    found = train_text_to_text(folder, plan, record, journal, started, dataset_dir)
    _succeeded(folder, journal, plan, found, f"{found['words']} on held-out inputs")


def _finish_audio(folder, plan, record, journal, started, dataset_dir) -> None:
    from modelyard.engine.audio.predict import AudioPredictor
    from modelyard.engine.audio.trainer import AudioSearch

    _finish_images(folder, plan, record, journal, started, dataset_dir,
                   search_cls=AudioSearch, predictor=AudioPredictor, unit="recordings")


def _finish_mixed(folder, plan, record, profile, journal, started, dataset_dir) -> None:
    from modelyard.engine.mixed.run import train_mixed

    found = train_mixed(folder, plan, record, profile, journal, started, dataset_dir)
    _succeeded(folder, journal, plan, found, _metric_words(plan, found), found["how"])


def train(folder: RunFolder) -> None:
    """Train the Run of `folder` to its end; a failure is recorded, then SystemExit(1)."""
    record = folder.record()
    reserve = SpaceReserve(folder.reserve_path)
    journal: JournalWriter | None = None
    stop = threading.Event()
    try:
        # Torn journal tails from an earlier session that died: cut before we append.
        folder.repair()
        reserve.take()
        plan = Plan.model_validate(record.plan)
        dataset_dir = Path(record.dataset_dir)
        profile = Profile.model_validate(read_json(dataset_dir / "profile.json"))
        journal = JournalWriter(folder)
        threading.Thread(target=_heartbeat, args=(journal, stop), daemon=True).start()
        started = clock_start(os.environ.pop(ASKED_AT, None), plan.budget_seconds)
        from modelyard.engine.system import hardware

        folder.update(status=RunStatus.running, started_at=started, worker_pid=os.getpid(),
                      versions=package_versions(), hardware=hardware())
        journal.status(RunStatus.running, "started")
        _train(folder, record, plan, profile, journal, started, dataset_dir)
    except Exception as exc:
        _record_failure(folder, journal, exc, reserve)
        raise SystemExit(1) from None
    finally:
        stop.set()
        reserve.release()
        if journal is not None:
            journal.close()


def _train(folder: RunFolder, record, plan: Plan, profile: Profile, journal: JournalWriter,
           started: float, dataset_dir: Path) -> None:
    # The one plan check again: a Plan that does not pass never trains, whoever wrote it.
    if problems := plan_problems(plan, profile):
        raise PlanError("The plan does not fit the data: " + "; ".join(problems) + ".",
                        "Edit the plan and approve it again.")
    if plan.task is Task.forecast:
        return _finish_forecast(folder, plan, record, journal, started, dataset_dir)
    if profile.modality == "audio":
        return _finish_audio(folder, plan, record, journal, started, dataset_dir)
    if profile.modality == "mixed" and plan.task.value in ("binary", "multiclass",
                                                           "regression"):
        return _finish_mixed(folder, plan, record, profile, journal, started, dataset_dir)
    if (dataset_dir / "manifest.parquet").exists():
        return _finish_images(folder, plan, record, journal, started, dataset_dir)
    if plan.task is Task.multilabel:
        return _finish_multilabel(folder, plan, record, profile, journal, started, dataset_dir)
    if plan.task is Task.text_to_text:
        return _finish_text_to_text(folder, plan, record, journal, started, dataset_dir)
    data = load_training_data(dataset_dir, plan, profile)
    one_blas_thread(data.X.shape)
    splits, note = make_splits(plan.validation, data.y, plan.task, plan.seed,
                               groups=data.groups, order=data.order)
    if note:
        journal.emit("log", note, level="warning")
    journal.emit("log", f"{len(data.y)} rows, {len(data.features.all)} features, "
                        f"{len(splits)} validation split(s)")
    threads = int(record.threads or os.cpu_count() or 1)
    shared = _share(folder, record, plan, profile, dataset_dir, splits, journal)
    try:
        trainer = Trainer(plan, data, splits, journal, folder.optuna_path, n_jobs=threads,
                          started=started, oof_dir=folder.path / "oof", shared=shared)
        best = trainer.run()
    finally:
        if shared is not None:
            # Joined workers stop asking for trials; the refit is this worker's alone.
            shared.close(state="ended")
    if not best.model:
        raise ModelyardError("No model could be trained: every trial failed or ran out of "
                             "time.", "Look at the failed trials, or give the run more time.")
    if (earlier := _earlier_model(folder, plan)) is not None \
            and not better(plan.metric, best.score, earlier[1]):
        return _keep_earlier(folder, plan, journal, best, earlier, dataset_dir)
    bagged = best.bag is not None or best.family == "stack" or any(
        m.get("bagged") for m in best.params.get("members", []) if isinstance(m, dict))
    bags_dir = trainer.bags_dir
    holdout = plan.validation.kind is ValidationKind.holdout
    if holdout and bagged and refit_in_time(best.fit_seconds, plan.validation.holdout_fraction,
                                            trainer.schedule.end):
        # The search left time to fit the winner on every row, not only the training
        # share of the holdout (`bagging.py`).
        best, bags_dir, bagged = dataclasses.replace(best, bag=None), None, False
    kept = f"keeping {best.model} as the holdout split fitted it" if holdout \
        else f"keeping the fold models of {best.model}"
    journal.emit("progress", kept if bagged else f"refitting {best.model} on all rows",
                 phase="refit",
                 fraction=min(1.0, (time.time() - started) / plan.budget_seconds))
    ctx = FitContext(task=plan.task, n_rows=len(data.y), n_classes=data.n_classes,
                     n_jobs=threads, seed=plan.seed)
    pipeline = refit(best, ctx, data, bags_dir)
    # Written aside and swapped in whole: the bundle of an earlier session survives a
    # failure here.
    with folder.writing_model() as staging:
        extra = _save_oof(staging, best, data, plan)
        save_bundle(staging, pipeline, {**extra,
            "run_id": folder.id, "model": best.model, "family": best.family,
            "params": best.params, "task": plan.task.value, "metric": plan.metric.value,
            "cv_score": best.score, "target": plan.target, "classes": data.classes,
            "numeric": data.features.numeric, "categorical": data.features.categorical,
            "datetime": data.features.datetime, "text": data.features.text,
            "dtypes": {c: str(t) for c, t in data.X.dtypes.items()},
            "missing_words": words_to_blank(profile),
            "id_column": data.features.id_column, "plan": plan.model_dump(mode="json"),
            "delivered": describe(pipeline),
            "layer": 2 if best.family in ("ensemble", "stack") else 1,
        })
    # run.json names the model in `model/` from now on, whatever happens next.
    folder.update(best_model=best.model, best_score=best.score,
                  greater_is_better=plan.metric.greater_is_better)
    journal.emit("result", f"best model {best.model}", model=best.model,
                 cv_score=best.score, **extra)
    if (dataset_dir / "test.parquet").exists():
        journal.emit("progress", "predicting the test rows", phase="predict", fraction=1.0)
        predictor = Predictor.load(folder.model_dir)
        predictions = predictor.predict_frame(read_table(dataset_dir / "test.parquet"))
        with replacing(folder.predictions_path) as tmp:
            predictions.to_csv(tmp, index=False)
    folder.update(status=RunStatus.succeeded, finished_at=time.time(),
                  best_model=best.model,
                  best_score=best.score, greater_is_better=plan.metric.greater_is_better,
                  message=f"Best model {best.model} ({metric_name(plan.metric)} "
                          f"{best.score:.4g}) after {_trials(folder)}.")
    journal.status(RunStatus.succeeded, "succeeded")


def _earlier_model(folder: RunFolder, plan: Plan) -> tuple[str, float] | None:
    """The model an earlier session of this Run delivered, and its cross-validated score
    (on the same splits); None in a first session."""
    import json

    try:
        meta = json.loads((folder.model_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("metric") != plan.metric.value or meta.get("cv_score") is None:
        return None
    return str(meta["model"]), float(meta["cv_score"])


def _keep_earlier(folder: RunFolder, plan: Plan, journal: JournalWriter, best,
                  earlier: tuple[str, float], dataset_dir: Path) -> None:
    """Added time found nothing better than the model an earlier session delivered (a
    blend recomputed over a larger pool can score a little lower): that model stays, and
    the journal says so."""
    from modelyard.storage.runfolder import read_events

    model, score = earlier
    name = metric_name(plan.metric)
    journal.emit("log", f"kept {model} from the earlier session ({name} {score:.5g}): this "
                        f"session's best, {best.model} ({best.score:.5g}), is not better")
    # The leaderboard ranks the last record of each model: this session's second layer
    # goes back to "not chosen", and the earlier model's record comes last.
    latest = {}
    for event, _ in read_events(folder.events_path, 0):
        if (trial := event.trial) is not None:
            latest.setdefault(trial.model, []).append(trial)
    kept = next((t for t in reversed(latest.get(model, []))
                 if t.cv_score is not None and abs(t.cv_score - score) <= 1e-12), None)
    for trial in (ts[-1] for ts in latest.values()):
        if trial.layer == 2 and trial.state is TrialStatus.complete and trial is not kept:
            journal.trial(trial.model_copy(update={
                "state": TrialStatus.not_chosen,
                "message": f"{trial.message} (not chosen: the earlier session's "
                           f"{model} is better)"}))
    if kept is not None and kept is not latest[model][-1]:
        journal.trial(kept)
    if (dataset_dir / "test.parquet").exists() and not folder.predictions_path.exists():
        journal.emit("progress", "predicting the test rows", phase="predict", fraction=1.0)
        predictions = Predictor.load(folder.model_dir).predict_frame(
            read_table(dataset_dir / "test.parquet"))
        with replacing(folder.predictions_path) as tmp:
            predictions.to_csv(tmp, index=False)
    folder.update(status=RunStatus.succeeded, finished_at=time.time(), best_model=model,
                  best_score=score, greater_is_better=plan.metric.greater_is_better,
                  message=f"Best model {model} ({name} {score:.4g}), kept from an earlier "
                          f"session, after {_trials(folder)}.")
    journal.status(RunStatus.succeeded, "succeeded")


def _share(folder: RunFolder, record, plan: Plan, profile: Profile, dataset_dir: Path,
           splits, journal: JournalWriter):
    """For a Run that names a study storage: open it and publish what a joining worker
    needs (the Plan, the Profile, checksums of the data and of the splits); else None."""
    if not record.study_storage:
        return None
    from modelyard.engine.settings import mask_url
    from modelyard.engine.training.sharing import SharedRun, file_sha256, splits_digest

    shared = SharedRun(record.study_storage, folder.id, joined=False)
    train_file = dataset_dir / "train.parquet"
    shared.publish(state="starting", plan=plan.model_dump(mode="json"),
                   profile=profile.model_dump(mode="json"), data_path=str(train_file),
                   data_sha256=file_sha256(train_file),
                   data_bytes=train_file.stat().st_size, splits_sha256=splits_digest(splits),
                   main=shared.ident, versions=package_versions())
    journal.emit("log", f"search shared through {mask_url(record.study_storage)}: other "
                        f"machines join with `modelyard worker --join {folder.id} --storage "
                        "URL`")
    return shared


def failure_reason(folder: RunFolder, exc: BaseException) -> str:
    """What a person reads about why the Run failed; a full disk is named as such."""
    if is_disk_full(exc):
        return disk_full_reason(folder.path)
    reason = str(exc) if isinstance(exc, ModelyardError) else f"{type(exc).__name__}: {exc}"
    if free_mb(folder.path) < LOW_SPACE_MB:
        reason = f"{reason.rstrip('.')}. {disk_full_reason(folder.path, nearly=True)}"
    return reason


def _record_failure(folder: RunFolder, journal: JournalWriter | None, exc: BaseException,
                    reserve: SpaceReserve) -> None:
    """Record the Run as failed with its reason, even on a full disk: the space held
    back is given up for it (measured first, so the message tells the free space)."""
    detail = traceback.format_exc()
    reason = failure_reason(folder, exc)
    reserve.release()
    for write in (
        lambda: folder.update(status=RunStatus.failed, finished_at=time.time(),
                              message=reason),
        lambda: journal and journal.status(RunStatus.failed, reason, traceback=detail),
        lambda: print(detail, file=sys.stderr, flush=True),
    ):
        try:
            write()
        except OSError:
            # Still no room: what could not be written, the supervisor will say (it
            # checks the free space of a Run whose worker is gone).
            continue


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise SystemExit(130)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    folder = RunFolder(Path(argv[0]))
    # The Run's home is the one whose weights folder pretrained families read, whatever
    # home the launcher's environment named (`modelyard --home` passes none).
    os.environ["MODELYARD_HOME"] = str(folder.path.resolve().parent.parent)
    try:
        train(folder)
    finally:
        # This slot is free now: start the next queued Run, even if nobody is watching.
        from modelyard.engine import jobs
        from modelyard.storage.paths import Home

        jobs.schedule(Home(folder.path.parent.parent))


if __name__ == "__main__":
    main()
