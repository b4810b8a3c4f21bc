"""One contract every model family passes (Optuna tests every sampler the same way)."""

from __future__ import annotations

import io

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import cross_validate, make_pipeline, predict_matrix
from modelyard.engine.training.families.base import Choice, FitContext, Float, Int
from modelyard.engine.training.search import distributions, suggest
from modelyard.schemas import Family, Metric, Task

TASKS = [Task.binary, Task.multiclass, Task.regression]
METRIC = {Task.binary: Metric.roc_auc, Task.multiclass: Metric.log_loss,
          Task.regression: Metric.rmse}


def _data(task: Task, n: int = 150, seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    x2[rng.random(n) < 0.1] = np.nan  # missing numbers
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    colour[rng.random(n) < 0.1] = None  # missing categories
    frame = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour})
    signal = x1 + np.where(colour == "red", 1.0, 0.0)
    if task is Task.regression:
        return TrainingData(frame, signal + rng.normal(scale=0.1, size=n),
                            Features(["x1", "x2"], ["colour"]))
    k = 2 if task is Task.binary else 3
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1]))
    return TrainingData(frame, y.astype(np.int64), Features(["x1", "x2"], ["colour"]),
                        [f"class_{i}" for i in range(k)])


@pytest.fixture(params=[f.value for f in Family if not f.is_image])
def family(request):
    return families.get(request.param)


def test_every_family_is_registered():
    assert set(families.REGISTRY) == {f for f in Family if not f.is_image}


@pytest.mark.parametrize("task", TASKS)
def test_defaults_lie_inside_the_search_space(family, task):
    ctx = FitContext(task, 150, 0 if task is Task.regression else 2, 1, 0)
    space = family.search_space(ctx)
    defaults = family.default_params(ctx)
    assert set(defaults) == set(space)
    for name, spec in space.items():
        value = defaults[name]
        if isinstance(spec, (Float, Int)):
            assert spec.low < spec.high
            assert spec.low <= value <= spec.high, (name, value)
        else:
            assert isinstance(spec, Choice) and value in spec.options
    assert family.memory_bytes(defaults, ctx, 10**6) >= 10**6
    # Optuna accepts the defaults as a fixed first trial.
    for name, dist in distributions(space).items():
        assert dist._contains(dist.to_internal_repr(defaults[name]))


@pytest.mark.parametrize("task", TASKS)
def test_fits_predicts_and_pickles_on_messy_data(family, task):
    data = _data(task)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    # A suggested configuration, not only the defaults, must build and fit.
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    params = suggest(trial, family.search_space(ctx))
    pipeline = make_pipeline(family, params, ctx, data).fit(data.X, data.y)
    pred = predict_matrix(pipeline, data.X, task.is_classification, data.n_classes)
    if task.is_classification:
        assert pred.shape == (len(data.y), data.n_classes)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-6)
    else:
        assert pred.shape == (len(data.y),) and np.isfinite(pred).all()
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    buffer.seek(0)
    again = predict_matrix(joblib.load(buffer), data.X, task.is_classification,
                           data.n_classes)
    np.testing.assert_allclose(again, pred)


@pytest.mark.parametrize("task", TASKS)
def test_cross_validates_with_a_score_per_fold(family, task):
    data = _data(task)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    folds = np.array_split(np.arange(len(data.y)), 3)
    splits = [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i])
              for i in range(3)]
    result = cross_validate(family, family.default_params(ctx), ctx, data, splits,
                            METRIC[task])
    assert len(result.fold_scores) == 3 and np.isfinite(result.fold_scores).all()
    assert not np.isnan(result.oof).any()
    assert result.fit_seconds > 0


def test_unknown_categories_at_prediction_time_do_not_break_a_family(family):
    data = _data(Task.binary)
    ctx = FitContext(Task.binary, len(data.y), 2, 1, 0)
    pipeline = make_pipeline(family, family.default_params(ctx), ctx, data)
    pipeline.fit(data.X, data.y)
    new = data.X.head(5).copy()
    new["colour"] = ["purple", None, "red", "never-seen", "blue"]
    pred = predict_matrix(pipeline, new, True, 2)
    assert pred.shape == (5, 2) and np.isfinite(pred).all()
