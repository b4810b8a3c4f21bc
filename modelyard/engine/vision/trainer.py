"""The image search: timm backbones × (learning rate, batch size, augmentation), trained
epoch by epoch within the Run's budget, checkpointed every epoch so a killed Run resumes.

Each backbone is a family with its own Optuna study in the run's journal; the first trial
of each is a sensible default; the families take turns like the tabular search. A trial
trains on a stratified 80% and is scored on the held-out 20% by the Plan's metric after
every epoch; it stops early when that score has not improved for PATIENCE epochs, or
when its share of the time is used. The learning rate warms up for one epoch, then
follows a cosine over the trial's time share.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl
from optuna.trial import TrialState
from sklearn.model_selection import train_test_split

from modelyard.engine.training.metrics import better, score, worst
from modelyard.engine.vision import require_torch
from modelyard.engine.vision.backbones import create
from modelyard.engine.vision.data import MEAN, STD, ImageSet, image_size
from modelyard.schemas import Metric, Plan, TrialResult, TrialStatus
from modelyard.storage.files import write_json_atomic
from modelyard.storage.runfolder import JournalWriter, RunFolder

PATIENCE = 4
MAX_EPOCHS = 60
DEFAULTS = {"learning_rate": 1e-3, "batch_size": 32, "augment": 0.3}


def space() -> dict[str, optuna.distributions.BaseDistribution]:
    return {
        "learning_rate": optuna.distributions.FloatDistribution(1e-4, 5e-3, log=True),
        "batch_size": optuna.distributions.CategoricalDistribution([16, 32, 64]),
        "augment": optuna.distributions.FloatDistribution(0.0, 1.0),
    }


@dataclass
class TrialOutcome:
    model: str
    backbone: str
    params: dict[str, Any]
    score: float
    epochs: int
    seconds: float
    weights: str  # where the weights came from
    best_state: dict | None = field(default=None, repr=False)


class ImageSearch:
    def __init__(self, plan: Plan, dataset_dir: Path, folder: RunFolder,
                 journal: JournalWriter, started: float, threads: int,
                 weights_dir: Path | None):
        torch, _ = require_torch()
        torch.set_num_threads(max(1, threads))
        torch.manual_seed(plan.seed)
        self.torch = torch
        self.plan = plan
        self.folder = folder
        self.journal = journal
        self.started = started
        self.deadline = started + plan.budget_seconds
        self.weights_dir = weights_dir
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.checkpoints = folder.path / "checkpoints"
        self.checkpoints.mkdir(exist_ok=True)

        manifest = pl.read_parquet(dataset_dir / "manifest.parquet").filter(
            pl.col("label").is_not_null())
        labels = manifest["label"].to_numpy()
        self.classes = sorted(set(labels.tolist()))
        codes = np.searchsorted(np.asarray(self.classes, dtype=object), labels)
        paths = [dataset_dir / p for p in manifest["path"].to_list()]
        self.prepare(manifest, paths)
        idx = np.arange(len(paths))
        stratify = codes if np.bincount(codes).min() >= 2 else None
        # Images are always judged on one holdout: its share is the plan's.
        train_idx, valid_idx = train_test_split(
            idx, test_size=plan.validation.holdout_fraction, random_state=plan.seed,
            stratify=stratify)
        self.train = ([paths[i] for i in train_idx], codes[train_idx])
        self.valid = ([paths[i] for i in valid_idx], codes[valid_idx])
        self.valid_rows = valid_idx
        self.storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder.optuna_path)))
        self.best: TrialOutcome | None = None
        self.trial_count = 0

    # -- what a kind of file search sets (engine/audio/trainer.py sets its own) -----------
    kind = "image"  # the bundle's kind
    defaults = DEFAULTS  # each family's first trial

    def prepare(self, manifest: pl.DataFrame, paths: list[Path]) -> None:
        """Learn from the manifest what every example needs (here: the image side)."""
        self.size = image_size(manifest["width"].to_numpy(), manifest["height"].to_numpy(),
                               self.device == "cuda")

    def describe(self) -> str:
        return (f"{len(self.train[0])} training and {len(self.valid[0])} validation images "
                f"at {self.size}×{self.size}, {len(self.classes)} classes, on {self.device}")

    def make_set(self, part: tuple[list[Path], np.ndarray | None], augment: float = 0.0,
                 train: bool = False):
        """The torch Dataset over (paths, labels) that the network trains or is scored on."""
        return ImageSet(*part, self.size, augment, train=train)

    def searched(self) -> list:
        """The plan's family choices this search trains epoch by epoch."""
        return list(self.plan.families)

    def bundle_config(self) -> dict[str, Any]:
        """config.json of the bundle: what its predictor needs to rebuild the inputs."""
        return {"backbone": self.best.backbone, "num_classes": len(self.classes),
                "image_size": self.size, "mean": list(MEAN), "std": list(STD)}

    def write_model(self, model_dir: Path) -> None:
        """The winner's learnt weights into the bundle."""
        self.torch.save(self.best.best_state, model_dir / "weights.pt")

    def network(self, backbone: str):
        """A fresh network for a trial of `backbone`, and where its weights came from."""
        return create(backbone, len(self.classes), self.weights_dir)

    def to_device(self, x):
        """A batch's inputs on the search's device (engine/mixed/fusion.py has several)."""
        return x.to(self.device)

    def loss(self, out, y):
        """The training loss of a batch: cross-entropy over the classes."""
        return self.torch.nn.functional.cross_entropy(out, y)

    # -- the search ---------------------------------------------------------------------
    def run(self) -> TrialOutcome | None:
        self.journal.emit("log", self.describe())
        self._resume_unfinished()
        studies = {c.family: (c, self._study(c.family, i))
                   for i, c in enumerate(self.searched())}
        untried = [n for n, (_, s) in studies.items() if not s.trials or
                   all(t.state is TrialState.WAITING for t in s.trials)]
        while studies and time.time() < self.deadline - 1:
            for name in list(studies):
                choice, study = studies[name]
                started = [t for t in study.trials if t.state is not TrialState.WAITING]
                remaining = self.deadline - time.time()
                if len(started) >= choice.max_trials or remaining <= 1:
                    del studies[name]
                    continue
                # A family's first trial shares the time with the other untried families;
                # early stopping hands back what a converged network does not need.
                share = remaining / len(untried) if name in untried else remaining / 2
                if name in untried:
                    untried.remove(name)
                self._trial(name, study, time.time() + share)
                self._progress()
        return self.best

    def _study(self, backbone: str, index: int) -> optuna.Study:
        direction = "maximize" if self.plan.metric.greater_is_better else "minimize"
        study = optuna.create_study(
            study_name=backbone, storage=self.storage, direction=direction,
            sampler=optuna.samplers.TPESampler(seed=self.plan.seed + index, n_startup_trials=3),
            load_if_exists=True)
        if not study.trials:
            study.enqueue_trial(self.defaults)
        return study

    def _trial(self, backbone: str, study: optuna.Study, trial_deadline: float) -> None:
        trial = study.ask(space())
        params = dict(trial.params)
        model = f"{backbone}_{trial.number}"
        self.trial_count += 1
        try:
            outcome = self._fit(model, backbone, params, trial_deadline)
        except Exception as exc:  # a failing backbone is a stored state, not a crash
            study.tell(trial, state=TrialState.FAIL)
            self.journal.trial(TrialResult(
                model=model, family=backbone, number=trial.number, params=params,
                state=TrialStatus.failed, message=f"{model} failed: {type(exc).__name__}: {exc}"))
            return
        if outcome is None:
            study.tell(trial, state=TrialState.PRUNED)
            self.journal.trial(TrialResult(
                model=model, family=backbone, number=trial.number, params=params,
                state=TrialStatus.pruned, message=f"{model} stopped: no time for a whole epoch"))
            return
        study.tell(trial, outcome.score)
        self._finished(outcome, trial.number)

    def _finished(self, outcome: TrialOutcome, number: int) -> None:
        self.journal.trial(TrialResult(
            model=outcome.model, family=outcome.backbone, number=number,
            state=TrialStatus.complete, params=outcome.params, cv_score=outcome.score,
            cv_std=0.0, fold_scores=[outcome.score], fit_seconds=outcome.seconds,
            epochs=outcome.epochs, weights=outcome.weights,
            message=f"{outcome.model}: {self.plan.metric.value} {outcome.score:.5g} after "
                    f"{outcome.epochs} epochs ({outcome.weights})"))
        if self.best is None or better(self.plan.metric, outcome.score, self.best.score):
            self.best = outcome
        else:
            outcome.best_state = None  # only the leader's weights are kept in memory

    def _resume_unfinished(self) -> None:
        """Finish the trials a killed worker left half-trained, from their checkpoints."""
        torch = self.torch
        for path in sorted(self.checkpoints.glob("*.pt")):
            state = torch.load(path, map_location="cpu", weights_only=False)
            if state.get("complete"):
                self._restore_finished(state)
                continue
            remaining = self.deadline - time.time()
            if remaining <= 1:
                return
            self.journal.emit("log", f"resuming {state['model']} from its checkpoint after "
                                     f"epoch {state['epoch']}")
            outcome = self._fit(state["model"], state["backbone"], state["params"],
                                time.time() + remaining / 2, resume=state)
            if outcome is not None:
                study = self._study(state["backbone"], 0)
                frozen = optuna.trial.create_trial(params=state["params"],
                                                   distributions=space(),
                                                   value=outcome.score)
                study.add_trial(frozen)
                self._finished(outcome, len(study.trials) - 1)

    def _restore_finished(self, state: dict) -> None:
        """A trial finished in an earlier session: a candidate for the final model."""
        if self.best is None or better(self.plan.metric, state["best_score"], self.best.score):
            self.best = TrialOutcome(state["model"], state["backbone"], state["params"],
                                     state["best_score"], state["epoch"], state["seconds"],
                                     state["weights"], state["best_state"])

    # -- one trial ----------------------------------------------------------------------
    def _fit(self, model_name: str, backbone: str, params: dict, trial_deadline: float,
             resume: dict | None = None) -> TrialOutcome | None:
        torch = self.torch
        net, weights = self.network(backbone)
        net.to(self.device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=params["learning_rate"],
                                      weight_decay=0.05)
        epoch, best_score, best_state, seconds = 0, worst(self.plan.metric), None, 0.0
        history: list[dict] = []
        if resume is not None:
            net.load_state_dict(resume["state"])
            optimizer.load_state_dict(resume["optimizer"])
            epoch, best_score = resume["epoch"], resume["best_score"]
            best_state, seconds = resume["best_state"], resume["seconds"]
            history = resume["history"]
            weights = resume["weights"]
        batch = int(params["batch_size"])
        train_set = self.make_set(self.train, params["augment"], train=True)
        valid_set = self.make_set(self.valid)
        amp = self.device == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        began = time.time() - seconds
        span = max(1.0, trial_deadline - began)
        since_best = 0
        while epoch < MAX_EPOCHS and time.time() < min(trial_deadline, self.deadline):
            try:
                loss = self._train_epoch(net, optimizer, scaler, train_set, batch, epoch,
                                         params["learning_rate"], began, span, amp)
            except torch.cuda.OutOfMemoryError:
                if batch <= 2:
                    raise
                batch //= 2
                torch.cuda.empty_cache()
                self.journal.emit("log", f"{model_name}: out of GPU memory, batch size "
                                         f"halved to {batch}")
                continue
            if loss is None:  # the deadline came in the middle of the epoch
                break
            epoch += 1
            val_loss, val_score = self._evaluate(net, valid_set, batch, amp)
            seconds = time.time() - began
            history.append({"epoch": epoch, "train_loss": loss, "val_loss": val_loss,
                            "val_score": val_score})
            self.journal.emit("epoch", f"{model_name} epoch {epoch}: "
                                       f"{self.plan.metric.value} {val_score:.4g}",
                              model=model_name, family=backbone, epoch=epoch,
                              train_loss=loss, val_loss=val_loss, val_score=val_score,
                              seconds=seconds)
            if better(self.plan.metric, val_score, best_score):
                best_score, since_best = val_score, 0
                best_state = {k: v.detach().to("cpu").clone()
                              for k, v in net.state_dict().items()}
            else:
                since_best += 1
            self._checkpoint(model_name, backbone, params, epoch, net, optimizer, best_score,
                             best_state, history, seconds, weights, complete=False)
            if since_best >= PATIENCE:
                break
        if best_state is None:
            return None
        self._checkpoint(model_name, backbone, params, epoch, net, optimizer, best_score,
                         best_state, history, seconds, weights, complete=True)
        return TrialOutcome(model_name, backbone, params, float(best_score), epoch, seconds,
                            weights, best_state)

    def _lr(self, base: float, step: int, steps_per_epoch: int, began: float, span: float,
            epoch_progress: float) -> float:
        warm = min(1.0, (step + 1) / max(1, steps_per_epoch))
        progress = min(1.0, max((time.time() - began) / span, epoch_progress / MAX_EPOCHS))
        return base * warm * 0.5 * (1 + math.cos(math.pi * progress))

    def _train_epoch(self, net, optimizer, scaler, dataset, batch, epoch, base_lr, began,
                     span, amp) -> float | None:
        torch = self.torch
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True,
                                             drop_last=len(dataset) > batch,
                                             generator=torch.Generator().manual_seed(
                                                 self.plan.seed + epoch))
        net.train()
        losses = []
        steps = len(loader)
        for i, (x, y) in enumerate(loader):
            if time.time() > self.deadline:
                return None
            lr = self._lr(base_lr, epoch * steps + i, steps, began, span, epoch + i / steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = self.to_device(x), y.to(self.device)
            with torch.autocast(self.device, enabled=amp):
                loss = self.loss(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
        return float(np.mean(losses)) if losses else None

    def forward_all(self, net, dataset, batch, amp, head) -> np.ndarray:
        """`head(net output)` over every item of `dataset`, in order, as float64."""
        torch = self.torch
        loader = torch.utils.data.DataLoader(dataset, batch_size=max(batch, 64))
        net.eval()
        out = []
        with torch.no_grad(), torch.autocast(self.device, enabled=amp):
            for x, _ in loader:
                out.append(head(net(self.to_device(x)).float()).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def predict_proba(self, net, dataset, batch, amp=False) -> np.ndarray:
        proba = self.forward_all(net, dataset, batch, amp,
                                 lambda o: self.torch.softmax(o, dim=1))
        return proba / proba.sum(axis=1, keepdims=True)

    def _evaluate(self, net, dataset, batch, amp) -> tuple[float, float]:
        proba = self.predict_proba(net, dataset, batch, amp)
        y = dataset.labels
        val_loss = score(Metric.log_loss, y, proba, len(self.classes))
        return val_loss, score(self.plan.metric, y, proba, len(self.classes))

    def _checkpoint(self, model_name, backbone, params, epoch, net, optimizer, best_score,
                    best_state, history, seconds, weights, complete: bool) -> None:
        torch = self.torch
        path = self.checkpoints / f"{model_name}.pt"
        tmp = path.with_suffix(".partial")
        torch.save({"model": model_name, "backbone": backbone, "params": params,
                    "epoch": epoch, "state": net.state_dict(),
                    "optimizer": optimizer.state_dict(), "best_score": best_score,
                    "best_state": best_state, "history": history, "seconds": seconds,
                    "weights": weights, "complete": complete}, tmp)
        tmp.replace(path)

    def _progress(self) -> None:
        elapsed = time.time() - self.started
        self.journal.emit(
            "progress", f"{self.trial_count} trials, best "
                        f"{self.best.model if self.best else '—'}",
            phase="search", fraction=min(1.0, elapsed / self.plan.budget_seconds),
            elapsed=elapsed, best_model=self.best.model if self.best else "",
            best_score=self.best.score if self.best else None)

    # -- the final model ----------------------------------------------------------------
    def save_bundle(self, model_dir: Path, meta: dict[str, Any]) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        self.write_model(model_dir)
        write_json_atomic(model_dir / "config.json", self.bundle_config())
        from modelyard.engine.training.bundle import new_metadata, seal, write_metadata

        write_metadata(model_dir, new_metadata(
            kind=self.kind, classes=self.classes, model=self.best.model,
            family=self.best.backbone, params=self.best.params, cv_score=self.best.score,
            weights=self.best.weights, image_size=self.size, **meta))
        seal(model_dir)  # the manifest comes last: the bundle is complete

