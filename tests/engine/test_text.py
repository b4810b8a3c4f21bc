"""Free-text columns: TF-IDF words and characters for linear models, reduced to dense
components for trees, next to the other features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.engine.training import families
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import cross_validate
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.preprocess import TextComponents, TextStats
from modelyard.schemas import Metric, Task

POSITIVE = "great wonderful excellent loved superb delightful".split()
NEGATIVE = "awful terrible boring hated dreadful poor".split()
FILLER = "the a film movie plot actor scene story it was and but very really".split()


def reviews(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    texts = []
    for label in y:
        words = list(rng.choice(FILLER, 8))
        words += list(rng.choice(POSITIVE if label else NEGATIVE, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    texts[0] = None  # a missing review must not break anything
    frame = pd.DataFrame({"review": texts, "length": rng.normal(size=n)})
    return frame, y


def _splits(n: int, k: int = 3):
    folds = np.array_split(np.arange(n), k)
    return [(np.concatenate(folds[:i] + folds[i + 1:]), folds[i]) for i in range(k)]


@pytest.mark.parametrize("name", ["linear", "lightgbm", "random_forest"])
def test_text_beats_the_baseline_clearly(name):
    frame, y = reviews()
    data = TrainingData(frame, y, Features(["length"], [], None, [], ["review"]), [0, 1])
    ctx = FitContext(Task.binary, len(y), 2, 1, 0)
    family = families.get(name)
    baseline = cross_validate(families.get("dummy"), {}, ctx, data, _splits(len(y)),
                              Metric.accuracy)
    result = cross_validate(family, family.default_params(ctx), ctx, data, _splits(len(y)),
                            Metric.accuracy)
    assert baseline.mean < 0.6
    assert result.mean > 0.85, (name, result.fold_scores)


def test_text_regression_learns_from_words():
    rng = np.random.default_rng(1)
    frame, y_class = reviews(240, seed=1)
    y = y_class * 4.0 + rng.normal(scale=0.5, size=len(y_class))  # a rating
    data = TrainingData(frame, y, Features(["length"], [], None, [], ["review"]))
    ctx = FitContext(Task.regression, len(y), 0, 1, 0)
    linear = families.get("linear")
    result = cross_validate(linear, linear.default_params(ctx), ctx, data, _splits(len(y)),
                            Metric.rmse)
    assert result.mean < 0.6 * np.std(y)


def test_text_components_are_dense_named_and_stable_for_unseen_words():
    frame, _ = reviews(100)
    step = TextComponents(["review"], n_components=8).fit(frame)
    out = step.transform(frame)
    names = TextComponents.names(["review"], 8)
    assert "review" not in out and list(out.columns[-len(names):]) == names
    unseen = step.transform(pd.DataFrame({"review": ["zzz qqq", None], "length": [0, 0]}))
    assert np.isfinite(unseen.drop(columns="length").to_numpy()).all()


@pytest.mark.slow
def test_a_table_with_a_text_column_trains_end_to_end(ws, tmp_path, wait):
    from modelyard.schemas import Plan
    from modelyard.storage import runs as run_store
    from modelyard.storage.runfolder import ACTIVE

    frame, y = reviews(300, seed=3)
    frame["sentiment"] = np.where(y == 1, "positive", "negative")
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    meta = ws.ingest(tmp_path / "reviews.csv", target="sentiment")
    proposed = ws.propose_plan(meta["id"], budget_seconds=10)
    plan = Plan.model_validate(proposed["plan"])
    assert "review" not in plan.excluded_columns  # text is a feature now
    run, _ = ws.start_run(ws.approve_plan(plan, based_on=proposed))

    def done():
        ws.refresh()
        return run.read()["status"] not in ACTIVE
    wait(done, 120, interval=0.5, what="the text run")
    record = run.read()
    assert record["status"] == "succeeded", record.get("message")
    board = {r["family"]: r["cv_score"] for r in run_store.leaderboard(ws.catalog,
                                                                     run_id=run.id)}
    assert board["dummy"] == 0.5 and record["best_score"] > 0.9


def test_the_shape_of_a_text_is_counted():
    parts = TextStats.of(pd.Series(["Hi THERE!! see https://x.org\nok", None]))
    assert parts["chars"].tolist() == [31.0, 0.0]
    assert parts["words"].tolist() == [5.0, 0.0]
    assert parts["lines"].tolist() == [1.0, 0.0]
    assert parts["links"].tolist() == [1.0, 0.0]
    assert parts["n_excl"].tolist() == [2.0, 0.0]
    assert parts["capitals_share"][0] == pytest.approx(6 / 31)
    assert set(parts) == set(TextStats.PARTS)


@pytest.mark.parametrize("name", ["linear", "lightgbm"])
def test_a_class_told_by_the_shape_of_the_text_not_its_words_is_learnt(name):
    """Shouting (the same words in capitals) is lost to TF-IDF, which lower-cases."""
    frame, _ = reviews(300, seed=4)
    y = np.arange(300) % 2
    frame["review"] = [t.upper() if label else t
                       for t, label in zip(frame["review"].fillna(""), y, strict=True)]
    data = TrainingData(frame, y, Features(["length"], [], None, [], ["review"]), [0, 1])
    ctx = FitContext(Task.binary, len(y), 2, 1, 0)
    family = families.get(name)
    result = cross_validate(family, family.default_params(ctx), ctx, data, _splits(len(y)),
                            Metric.accuracy)
    assert result.mean > 0.95, result.fold_scores
