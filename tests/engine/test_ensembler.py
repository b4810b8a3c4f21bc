"""The ensembler's choice: a blend that cannot be refitted in time is recorded, not
chosen, and once the budget is over it is not chosen again member by member."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from modelyard.engine.training import ensembler
from modelyard.engine.training.pool import CLOSE_PER_KEEP, Candidate
from modelyard.schemas import Metric, TrialStatus


def _pool(n_members: int, rows: int = 200):
    """Members whose averaged predictions beat each one alone (independent noise)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    members = []
    for i in range(n_members):
        p1 = np.clip(y + rng.normal(0, 0.9, rows), 0, 1)
        oof = np.column_stack([1 - p1, p1])  # class probabilities, as trials keep them
        members.append(Candidate(f"m_{i}", "linear", {}, float("nan"), 1.0 + i,
                                 SimpleNamespace(oof=oof, keep_seconds=0.0), None))
    folds = np.array_split(np.arange(rows), 5)
    splits = [(np.setdiff1d(np.arange(rows), v), v) for v in folds]
    return members, y, splits


def _blend(members, y, splits, end):
    from modelyard.engine.training.metrics import score

    for m in members:
        m.score = float(np.mean([score(Metric.roc_auc, y[v], m.result.oof[v], 2)
                                 for _, v in splits]))
    leader = max(members, key=lambda m: m.score)
    return ensembler.blend(members, leader, y, 2, splits, Metric.roc_auc, end)


def test_with_time_left_the_blend_is_chosen():
    members, y, splits = _pool(5)
    found = _blend(members, y, splits, end=time.time() + 3600)
    assert found.trial.state is TrialStatus.complete and found.chosen is not None


def test_after_the_budget_the_blend_is_recorded_once_and_not_chosen(monkeypatch):
    members, y, splits = _pool(6)
    calls = []
    real = ensembler.caruana
    monkeypatch.setattr(ensembler, "caruana", lambda *a, **k: calls.append(1) or real(*a, **k))
    found = _blend(members, y, splits, end=time.time() - 1)
    assert found.trial.state is TrialStatus.not_chosen and found.chosen is None
    assert "delivering its members would exceed the budget" in found.trial.message
    assert len(calls) == 1  # not once more for every member left out


def test_a_bag_too_slow_to_deliver_is_left_out_of_the_blend(tmp_path):
    # Five bagged members: four quick to read back, one (a forest's big bag, say) that
    # would take 100 s; with 30 s left the blend goes on without it.
    members, y, splits = _pool(5)
    for i, m in enumerate(members):
        m.bag = tmp_path / m.model
        m.result.keep_seconds = 100 / CLOSE_PER_KEEP if i == 0 else 0.1
    found = _blend(members, y, splits, end=time.time() + 30)
    assert found.chosen is not None, found.trial.message
    assert "m_0" not in [w["model"] for w in found.chosen.params["members"]]
    assert "without m_0: too slow to deliver in the budget" in found.trial.message


@pytest.mark.parametrize(("metric", "n_classes"), [
    ("roc_auc", 2), ("roc_auc", 3), ("log_loss", 2), ("log_loss", 4), ("rmse", 0),
    ("accuracy", 3), ("r2", 0)])
def test_the_blends_fold_scorer_equals_the_metric_it_stands_for(metric, n_classes):
    from modelyard.engine.training.ensemble import fold_scorer
    from modelyard.engine.training.metrics import score

    metric = Metric(metric)
    rng = np.random.default_rng(1)
    n = 500
    folds = np.array_split(rng.permutation(n), 5)
    if n_classes:
        y = rng.integers(0, n_classes, n)
        # Rounded, so that many scores tie: the ranks must share them as sklearn does.
        pred = (rng.random((n, n_classes)) + 0.05).round(1)
        pred /= pred.sum(axis=1, keepdims=True)
    else:
        y, pred = rng.normal(size=n), rng.normal(size=n)
    expected = np.mean([score(metric, y[v], pred[v], n_classes) for v in folds])
    assert fold_scorer(metric, y, folds, n_classes)(pred) == pytest.approx(expected,
                                                                         abs=1e-12)
    if metric in (Metric.roc_auc, Metric.log_loss):
        pred[3, :] = np.nan  # the library's checks, not a silent NaN score
        with pytest.raises(ValueError, match="NaN"):
            fold_scorer(metric, y, folds, n_classes)(pred)
