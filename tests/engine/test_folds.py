"""Prepared folds: each fold's preprocessing is fitted once per kind and reused, and a
trial scores exactly as it would with its own pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.cv import make_splits
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import cross_validate
from modelyard.engine.training.families import Family
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.folds import FoldCache
from modelyard.schemas import Metric, Task, Validation
from tests.engine.test_families_contract import _data


def _text_data(n: int = 240, seed: int = 0) -> TrainingData:
    """A table with a free-text column, a date, a category and a number."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    words = np.array([["refund", "broken", "late", "angry"], ["thanks", "great", "fast",
                                                              "love"]], dtype=object)
    text = [" ".join(rng.choice(words[label], size=4)) + f" order {i}"
            for i, label in enumerate(y)]
    frame = pd.DataFrame({
        "note": text,
        "amount": rng.normal(size=n),
        "shop": rng.choice(["a", "b", "c"], size=n).astype(object),
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
    })
    return TrainingData(frame, y.astype(np.int64),
                        Features(["amount"], ["shop"], datetime=["when"], text=["note"]),
                        ["no", "yes"])


CASES = [(Family.linear, {"C": 0.5, "class_weight": "none"}), (Family.lightgbm, None),
         (Family.random_forest, None), (Family.dummy, None)]
LINEAR = {"C": 1.0, "class_weight": "none"}


@pytest.mark.parametrize(("name", "params"), CASES)
@pytest.mark.parametrize("make", [_text_data, lambda: _data(Task.binary, n=200)])
def test_a_trial_on_prepared_folds_scores_as_with_its_own_pipeline(name, params, make):
    data = make()
    family = families.get(name)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    params = params or family.default_params(ctx)
    splits, _ = make_splits(Validation(n_splits=3), data.y, Task.binary, 0)
    alone = cross_validate(family, params, ctx, data, splits, Metric.roc_auc)
    cache = FoldCache(1 << 30)
    shared = cross_validate(family, params, ctx, data, splits, Metric.roc_auc, folds=cache)
    again = cross_validate(family, params, ctx, data, splits, Metric.roc_auc, folds=cache)
    np.testing.assert_allclose(shared.oof, alone.oof, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(again.oof, alone.oof, rtol=1e-9, atol=1e-12)
    assert shared.fold_scores == pytest.approx(alone.fold_scores)
    assert shared.train_scores == pytest.approx(alone.train_scores)
    # Prepared once per fold, then reused.
    assert (cache.misses, cache.hits) == (3, 3)


def test_each_kind_of_preprocessing_is_prepared_once_per_fold():
    data = _text_data()
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    splits, _ = make_splits(Validation(n_splits=4), data.y, Task.binary, 0)
    cache = FoldCache(1 << 30)
    for name in (Family.linear, Family.knn, Family.lightgbm, Family.xgboost):
        family = families.get(name)
        cross_validate(family, family.default_params(ctx), ctx, data, splits, Metric.roc_auc,
                       folds=cache)
    # linear and knn share "scaled", lightgbm and xgboost share "native".
    assert (cache.misses, cache.hits) == (8, 8)
    assert cache.used > 0


def test_past_its_allowance_the_cache_keeps_nothing_and_results_stay_the_same():
    data = _text_data()
    family = families.get(Family.linear)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    splits, _ = make_splits(Validation(n_splits=3), data.y, Task.binary, 0)
    full = cross_validate(family, LINEAR, ctx, data, splits, Metric.roc_auc,
                          folds=FoldCache(1 << 30))
    empty = FoldCache(0)
    tight = cross_validate(family, LINEAR, ctx, data, splits, Metric.roc_auc, folds=empty)
    cross_validate(family, LINEAR, ctx, data, splits, Metric.roc_auc, folds=empty)
    assert (empty.used, empty.hits, empty.misses) == (0, 0, 6)
    np.testing.assert_allclose(tight.oof, full.oof)
