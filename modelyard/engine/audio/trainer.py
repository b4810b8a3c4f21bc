"""The sound search: the image search (`engine/vision/trainer.py`) run on log-mel
spectrograms, after a fast baseline of MFCC summary statistics in the table families.

Every clip is decoded once, brought to the data's typical length and turned into both
inputs before anything trains. The backbones then see a spectrogram as a one-channel
image (repeated to three, so pretrained weights still fit), with time and frequency
masks and a small time shift whose strength is the searched `augment`. The baselines
(the Plan's table families, each with its default settings) score on the same held-out
clips, so the leaderboard shows what the network adds over them; whichever scores best
becomes the bundle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modelyard.engine.audio.decode import SAMPLE_RATE, fit_length, load
from modelyard.engine.audio.features import N_MELS, both, clip_seconds
from modelyard.engine.training import families
from modelyard.engine.training.metrics import score
from modelyard.engine.vision.trainer import ImageSearch, TrialOutcome
from modelyard.schemas import TrialResult, TrialStatus

BASELINE_SHARE = 0.15  # of the budget, at most, for the MFCC baselines together
BASELINE_ROUNDS = 300  # boosted rounds of a baseline (no early stopping: no extra split)


@dataclass
class BaselineOutcome(TrialOutcome):
    """A table family fitted on MFCC statistics: its scikit-learn pipeline is the model."""

    estimator: Any = None


class MelSet:
    """A torch Dataset over precomputed log-mel spectrograms."""

    def __init__(self, mels: list[np.ndarray], labels: np.ndarray | None,
                 augment: float = 0.0, train: bool = False, seed: int = 0):
        import torch

        self.torch = torch
        self.mels = mels
        self.labels = labels
        self.augment = augment if train else 0.0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.mels)

    def __getitem__(self, i: int):
        mel = self.mels[i]
        if self.augment > 0:
            mel = self._masked(mel)
        x = self.torch.from_numpy(np.ascontiguousarray(mel)).unsqueeze(0).expand(3, -1, -1)
        y = -1 if self.labels is None else int(self.labels[i])
        return x, y

    def _masked(self, mel: np.ndarray) -> np.ndarray:
        """SpecAugment's time and frequency masks, a shift in time, and a shift of a band
        or two in pitch (another voice says the same word a little higher or lower)."""
        rng, a = self.rng, self.augment
        mel = np.roll(mel, int(rng.integers(-1, 2) * rng.random() * 0.1 * a * mel.shape[1]),
                      axis=1)
        bands = int(rng.integers(-2, 3)) if rng.random() < a else 0
        if bands:  # shifted, the edge band repeated rather than wrapped around
            mel = np.concatenate([mel[:1].repeat(bands, 0), mel[:-bands]]) if bands > 0 \
                else np.concatenate([mel[-bands:], mel[-1:].repeat(-bands, 0)])
        mel = mel.copy()
        fill = float(mel.mean())
        for _ in range(2):
            width = int(rng.integers(0, max(1, int(a * mel.shape[0] * 0.2)) + 1))
            start = int(rng.integers(0, mel.shape[0] - width + 1))
            mel[start:start + width, :] = fill
            width = int(rng.integers(0, max(1, int(a * mel.shape[1] * 0.15)) + 1))
            start = int(rng.integers(0, mel.shape[1] - width + 1))
            mel[:, start:start + width] = fill
        return mel


def clip_inputs(paths: list[Path], seconds: float, progress=None
                ) -> tuple[list[np.ndarray], np.ndarray]:
    """Log-mel spectrograms and MFCC statistics of each clip, at one length."""
    n = int(round(seconds * SAMPLE_RATE))
    mels, stats = [], []
    for i, path in enumerate(paths):
        mel, stat = both(fit_length(load(path), n))
        mels.append(mel)
        stats.append(stat)
        if progress is not None and i % 100 == 0:
            progress(i, len(paths))
    return mels, np.stack(stats) if stats else np.zeros((0, 0), dtype=np.float32)


class AudioSearch(ImageSearch):
    kind = "audio"
    # From scratch on a few hundred clips, small batches learn more per CPU epoch.
    defaults = {"learning_rate": 2e-3, "batch_size": 16, "augment": 0.3}

    def prepare(self, manifest: pl.DataFrame, paths: list[Path]) -> None:
        self.seconds = clip_seconds(manifest["seconds"].to_numpy())
        self.size = N_MELS
        began = time.time()
        mels, stats = clip_inputs(paths, self.seconds, lambda i, n: self.journal.emit(
            "progress", f"reading recordings ({i:,} of {n:,})", phase="prepare",
            fraction=i / max(1, n)))
        self.mels = dict(zip(paths, mels, strict=True))
        self.stats = dict(zip(paths, stats, strict=True))
        self.journal.emit("log", f"{len(paths)} recordings read and turned into "
                                 f"spectrograms in {time.time() - began:.1f} s")

    def describe(self) -> str:
        frames = next(iter(self.mels.values())).shape[1] if self.mels else 0
        return (f"{len(self.train[0])} training and {len(self.valid[0])} validation "
                f"recordings of {self.seconds:g} s ({N_MELS} mel bands × {frames} frames), "
                f"{len(self.classes)} classes, on {self.device}")

    def make_set(self, part, augment: float = 0.0, train: bool = False):
        return MelSet([self.mels[p] for p in part[0]], part[1], augment, train,
                      seed=self.plan.seed + self.trial_count)

    def searched(self) -> list:
        return [c for c in self.plan.families if families.is_image(c.family)]

    def bundle_config(self) -> dict[str, Any]:
        baseline = isinstance(self.best, BaselineOutcome)
        return {"input": "mfcc" if baseline else "mel", "backbone": self.best.backbone,
                "num_classes": len(self.classes), "clip_seconds": self.seconds,
                "sample_rate": SAMPLE_RATE, "n_mels": N_MELS}

    def write_model(self, model_dir: Path) -> None:
        if isinstance(self.best, BaselineOutcome):
            import joblib

            joblib.dump(self.best.estimator, model_dir / "pipeline.joblib")
        else:
            super().write_model(model_dir)

    def run(self) -> TrialOutcome | None:
        self.baselines()
        return super().run()

    # -- the MFCC baselines -------------------------------------------------------------
    def baselines(self) -> None:
        """Each table family of the Plan, with its default settings, on MFCC statistics."""
        chosen = [c for c in self.plan.families if not families.is_image(c.family)]
        if not chosen:
            return
        X = np.stack([self.stats[p] for p in self.train[0]])
        Xv = np.stack([self.stats[p] for p in self.valid[0]])
        deadline = min(self.deadline, time.time() + BASELINE_SHARE * self.plan.budget_seconds)
        for number, choice in enumerate(chosen):
            # The first baseline fits in well under a second, so it runs even when start-up
            # (torch's import on a busy machine) spent the whole budget: the person gets a
            # model to judge and to give more time, not a run that delivered nothing.
            if number and time.time() >= deadline:
                break
            self._baseline(choice.family, X, Xv, deadline)

    def _baseline(self, name: str, X: np.ndarray, Xv: np.ndarray, deadline: float) -> None:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from modelyard.engine.training.families import FitContext

        family = families.get(name)
        ctx = FitContext(task=self.plan.task, n_rows=len(X), n_classes=len(self.classes),
                         n_jobs=max(1, self.torch.get_num_threads()), seed=self.plan.seed)
        params = family.default_params(ctx)
        if "n_estimators" in family.learnt:
            params["n_estimators"] = BASELINE_ROUNDS
        model = f"{name}_mfcc"
        self.trial_count += 1
        began = time.time()
        try:
            pipe = make_pipeline(StandardScaler(), family.build(params, ctx))
            fit = {f"{pipe.steps[-1][0]}__{k}": v
                   for k, v in family.fit_params(deadline).items()}
            pipe.fit(X, self.train[1], **fit)
            proba = np.asarray(pipe.predict_proba(Xv), dtype=np.float64)
        except Exception as exc:  # a failing baseline is a stored state, not a crash
            self.journal.trial(TrialResult(
                model=model, family=name, number=0, params=params,
                state=TrialStatus.failed, message=f"{model} failed: {type(exc).__name__}: "
                                                  f"{exc}"))
            return
        value = float(score(self.plan.metric, self.valid[1], proba, len(self.classes)))
        outcome = BaselineOutcome(model, name, params, value, 0, time.time() - began,
                                  "MFCC statistics, no network", None, estimator=pipe)
        self.journal.trial(TrialResult(
            model=model, family=name, number=0, state=TrialStatus.complete, params=params,
            cv_score=value, cv_std=0.0, fold_scores=[value], fit_seconds=outcome.seconds,
            message=f"{model}: {self.plan.metric.value} {value:.5g} on MFCC summary "
                    "statistics (the fast baseline)"))
        from modelyard.engine.training.metrics import better

        if self.best is None or better(self.plan.metric, value, self.best.score):
            self.best = outcome
