"""One contract every model family passes (Optuna tests every sampler the same way)."""

from __future__ import annotations

import io
import re

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import cross_validate, make_pipeline, predict_matrix
from modelyard.engine.training.families import Family, ModelFamily
from modelyard.engine.training.families.base import Choice, FitContext, Float, Int
from modelyard.engine.training.search import distributions, suggest
from modelyard.schemas import (
    ColumnKind,
    ColumnProfile,
    FamilyChoice,
    Metric,
    Plan,
    Profile,
    Task,
)
from modelyard.storage.runfolder import read_events

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


@pytest.fixture(params=families.named("tabular"))
def family(request):
    """A registered family that the tabular trainer fits (the image search fits the rest).
    A pretrained family gets tiny checkpoints of its library's own network in the
    weights folder (`tests/foundation_weights.py`): it is fitted like the others."""
    from modelyard.engine.training.families.foundation import FoundationFamily

    family = families.get(request.param)
    if isinstance(family, FoundationFamily):
        from tests.foundation_weights import put_tiny_weights

        home = request.getfixturevalue("modelyard_home")
        put_tiny_weights(home / "weights", request.getfixturevalue("tmp_path_factory")
                         .getbasetemp())
    return family


@pytest.fixture(params=list(families.REGISTRY))
def any_family(request):
    return families.get(request.param)


def test_every_family_is_registered_once_and_named_by_the_enum():
    names = [cls.name for cls in families.FAMILY_CLASSES]
    assert len(set(names)) == len(names)
    assert [f.value for f in Family] == names == list(families.REGISTRY)
    assert (set(families.named("tabular")) | set(families.named("image"))
            | set(families.named("series"))
            | set(families.named("text_to_text")) | set(families.named("mixed"))) == set(names)
    assert families.named("image") == ["resnet18", "efficientnet_b0", "convnext_nano"]


_WORDS = ("title", "summary", "speed", "accuracy", "interpretability", "memory", "why",
          "hold_back_words")
_PREPARATIONS = {"scaled", "native", "native_text", "ordinal", "none"}
_PROFILE = Profile(n_rows=300, n_cols=3, columns=[
    ColumnProfile(name=n, dtype="f64", kind=ColumnKind.numeric, n_missing=0,
                  missing_share=0.0, n_distinct=50) for n in ("x1", "x2", "y")])


def fact_problems(family: ModelFamily) -> list[str]:
    """Every fact the registry's readers need that `family` lacks or gets wrong."""
    problems = []

    def fact(name: str):
        value = getattr(family, name, None)
        if value is None or value == "" or value == ():
            problems.append(f"{name} is missing or empty")
        return value

    name = fact("name")
    if isinstance(name, str) and not re.fullmatch(r"[a-z0-9_]{1,40}", name):
        problems.append(f"name {name!r} is not lowercase letters, digits and underscores")
    for word in _WORDS:
        if fact(word) is not None and not isinstance(getattr(family, word), str):
            problems.append(f"{word} must be words")
    for many in ("pros", "cons"):
        value = fact(many)
        if value and not all(isinstance(x, str) and x for x in value):
            problems.append(f"{many} must be non-empty phrases")
    if family.modality not in ("tabular", "image", "series", "text_to_text", "mixed"):
        problems.append(f"modality {family.modality!r} is not tabular, image, series, "
                        "text_to_text or mixed")
    if family.preprocessing not in _PREPARATIONS:
        problems.append(f"preprocessing {family.preprocessing!r} is unknown")
    if family.max_rows is not None and not (isinstance(family.max_rows, int)
                                            and family.max_rows > 0):
        problems.append("max_rows must be a positive number of rows or None")
    for flag in ("flexible", "explains_rows", "takes_limits"):
        if not isinstance(getattr(family, flag, None), bool):
            problems.append(f"{flag} must be True or False")
    if family.explains_rows and (type(family).row_contributions
                                 is ModelFamily.row_contributions):
        problems.append("explains_rows without row_contributions")
    if family.modality == "image" and not getattr(family, "params_m", 0) > 0:
        problems.append("an image family needs params_m (millions of parameters)")
    problems += _hold_back_problems(family)
    if not problems:  # the words people read for this data
        pros, cons = family.pros_cons(_PROFILE)
        if not (0 < len(pros) <= 3 and 0 < len(cons) <= 3):
            problems.append("pros_cons must give one to three pros and cons")
    return problems


def _hold_back_problems(family: ModelFamily) -> list[str]:
    """The settings a review may limit are numbers the family searches, in some task."""
    try:
        numeric = {n for task in TASKS
                   for n, spec in family.search_space(FitContext(task, 150, 2, 1, 0)).items()
                   if isinstance(spec, Float | Int)}
    except Exception as exc:
        return [f"search_space fails: {exc}"]
    problems = [f"hold_back names {n!r}, which it does not search as a number"
                for n in family.hold_back if n not in numeric]
    problems += [f"hold_back way {way!r} of {n!r} is neither 'at most' nor 'at least'"
                 for n, way in family.hold_back.items() if way not in ("at most", "at least")]
    if family.takes_limits and numeric and not family.hold_back:
        problems.append("hold_back is empty, but it searches numbers a review could limit")
    if not family.takes_limits and family.hold_back:
        problems.append("hold_back is set, but it takes no limits")
    if family.hold_back and not all(family.hold_back_advice(t) for t in TASKS):
        problems.append("hold_back_advice is empty")
    return problems


def test_every_family_carries_every_fact(any_family):
    assert fact_problems(any_family) == []


class _Incomplete(ModelFamily):
    """A family someone forgot to describe: no words, a limit on a setting it never searches."""

    name = "incomplete"
    pros = ("fast",)
    hold_back = {"depth": "at most"}

    def search_space(self, ctx):
        return {"alpha": Float(0.1, 1.0)}

    def default_params(self, ctx):
        return {"alpha": 0.5}

    def build(self, params, ctx):
        return None


def test_the_contract_catches_a_family_that_leaves_facts_out():
    problems = fact_problems(_Incomplete())
    for fact in ("title", "summary", "why", "cons"):
        assert f"{fact} is missing or empty" in problems
    assert "hold_back names 'depth', which it does not search as a number" in problems
    assert not any(p.startswith("pros") for p in problems)
    # Complete it, and the same check is satisfied.
    complete = type("Complete", (_Incomplete,), {
        "title": "Complete", "summary": "s", "speed": "s", "accuracy": "a",
        "interpretability": "i", "memory": "m", "why": "w", "cons": ("slow",),
        "hold_back": {"alpha": "at least"}})
    assert fact_problems(complete()) == []


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", [n for n, f in families.REGISTRY.items() if f.explains_rows])
def test_families_that_explain_rows_give_one_contribution_per_feature(name, task):
    family = families.get(name)
    data = _data(task)
    ctx = FitContext(task, len(data.y), data.n_classes, 1, 0)
    pipeline = make_pipeline(family, family.default_params(ctx), ctx, data).fit(data.X, data.y)
    prepared = pipeline[:-1].transform(data.X.head(1))
    n_out = data.n_classes if data.n_classes > 2 else 1
    values = family.row_contributions(pipeline.named_steps["model"], prepared, n_out)
    assert values.shape == (n_out, np.asarray(prepared).shape[1] + 1)
    assert np.isfinite(values).all()


@pytest.mark.parametrize("task", TASKS)
def test_defaults_lie_inside_the_search_space(any_family, task):
    family = any_family
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
    # Optuna accepts the defaults, and each proven configuration over them, as fixed
    # first trials: every setting searched, every value inside its range.
    for config in (defaults, *(defaults | p for p in family.portfolio)):
        assert set(config) == set(space), sorted(set(config) ^ set(space))
        for name, dist in distributions(space).items():
            assert dist._contains(dist.to_internal_repr(config[name])), (name, config)


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


def test_the_boosters_start_from_proven_configurations_in_order(tmp_path):
    """The first trials of a booster are its defaults, then its portfolio, in order;
    the search proposes its own only after them."""
    from tests.engine.test_early_stopping import _train

    data = _data(Task.binary, n=200)
    plan = Plan(dataset_id="ds_x", target="y", task=Task.binary, metric=Metric.roc_auc,
                families=[FamilyChoice(family="lightgbm", max_trials=5)], budget_seconds=60)
    _, folder = _train(plan, data, tmp_path / "run_p")
    family = families.get("lightgbm")
    ctx = FitContext(Task.binary, 200, 2, 1, 0)
    expected = [family.default_params(ctx) | p for p in ({}, *family.portfolio)]
    trials = [e.trial for e, _ in read_events(folder.events_path, 0)
              if e.trial is not None and e.trial.family == "lightgbm"]
    assert family.portfolio and len(trials) == 5
    ordered = sorted(trials, key=lambda t: t.number)
    first = len(expected)
    for trial, params in zip(ordered[:first], expected, strict=True):
        assert trial.params == pytest.approx(params)
    assert all(t.params not in expected for t in ordered[first:])


def test_image_families_search_what_the_image_search_searches():
    from modelyard.engine.vision import trainer

    for name in families.named("image"):
        family = families.get(name)
        ctx = FitContext(Task.multiclass, 100, 3, 1, 0)
        assert distributions(family.search_space(ctx)) == trainer.space()
        assert family.default_params(ctx) == trainer.DEFAULTS


def test_the_registry_imports_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys; import modelyard.engine.training.families as f; "
            "assert len(f.REGISTRY) == len(f.Family); "
            "heavy = ('torch', 'timm', 'xgboost', 'lightgbm', 'catboost', 'sklearn', "
            "'scipy', 'pandas'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
