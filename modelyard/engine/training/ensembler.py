"""The ensembler: blend the pool's out-of-fold predictions, and decide whether the blend
is what the Run delivers.

The blend is kept if it beats the best single model and its members can be delivered
within the budget: refitted on every row, or, bagged (`bagging.py`), their fold models
read back into the bundle (a forest's bag can take longer than a booster's refit). When
the best blend cannot be delivered in time, the slowest member to deliver is left out of
the pool and the blend chosen again, so a slow model does not cost the Run its ensemble.
Either way the blend is recorded as a trial: "complete" when chosen, else "not chosen"
(the leaderboard ranks complete trials, and its first place must be what the Run
delivers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from modelyard.engine.training.ensemble import caruana
from modelyard.engine.training.evaluate import CVResult
from modelyard.engine.training.metrics import better, score
from modelyard.engine.training.pool import Candidate
from modelyard.engine.training.schedule import REFIT_SAFETY
from modelyard.schemas import Metric, TrialResult, TrialStatus


@dataclass
class Blend:
    """The ensemble trial to record, and the candidate it becomes when chosen."""

    trial: TrialResult
    chosen: Candidate | None


def blend(pool: list[Candidate], leader: Candidate, y: np.ndarray, n_classes: int,
          splits, metric: Metric, end: float) -> Blend | None:
    """The best blend of `pool` that can be refitted by `end`; None when there is no
    blend of two or more members to record."""
    if len(pool) < 2:
        return None
    k = len(splits)
    grow = k / max(1, k - 1) * REFIT_SAFETY
    folds_of = [v for _, v in splits]
    members, tried = list(pool), []
    while len(members) >= 2:
        counts, value = caruana([b.result.oof for b in members], y, metric, n_classes,
                                folds_of)
        if len(counts) < 2:
            break
        fits = time.time() + sum(members[i].close_seconds(grow) for i in counts) <= end
        tried.append((counts, value, members, fits))
        # Past the end no smaller blend can be delivered either: choosing again would only
        # spend time after the budget.
        if fits or not better(metric, value, leader.score) or time.time() >= end:
            break
        slowest = max(counts, key=lambda i: members[i].close_seconds(grow))
        members = [b for i, b in enumerate(members) if i != slowest]
    if not tried:
        return None
    # The first blend that can be refitted in time; else the best one, reported.
    counts, value, members, fits = next((t for t in tried if t[3]), tried[0])
    total = sum(counts.values())
    weights = [{"model": members[i].model, "family": members[i].family,
                "params": members[i].params, "weight": n / total,
                "bagged": members[i].bag is not None}
               for i, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    oof = sum(members[i].result.oof * (n / total) for i, n in counts.items())
    folds = [score(metric, y[v], oof[v], n_classes) for v in folds_of]
    fit_seconds = sum(members[i].fit_seconds for i in counts)
    wins = better(metric, value, leader.score)
    kept = {b.model for b in members}
    left_out = [b.model for b in pool if b.model not in kept]
    if not wins:
        ahead = "scores better" if better(metric, leader.score, value) else "is as good"
        note = f" (not chosen: the best single model {ahead})"
    else:
        note = "" if fits else " (not chosen: delivering its members would exceed the budget)"
    if wins and fits and left_out:
        note = f" (without {', '.join(left_out)}: too slow to deliver in the budget)"
    trial = TrialResult(
        model="ensemble", family="ensemble", number=0,
        state=TrialStatus.complete if wins and fits else TrialStatus.not_chosen,
        cv_score=value, cv_std=float(np.std(folds)), fold_scores=folds,
        fit_seconds=fit_seconds * len(splits), params={"members": weights},
        message=f"ensemble of {len(weights)}: {metric.value} {value:.5g}{note}", layer=2)
    chosen = None
    if wins and fits:
        chosen = Candidate("ensemble", "ensemble", {"members": weights}, value, fit_seconds,
                           CVResult(folds, oof, fit_seconds, 0.0))
    return Blend(trial, chosen)
