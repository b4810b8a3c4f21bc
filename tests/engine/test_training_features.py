"""Feature preparation that the families share: dates, class weights, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelyard.engine.training import families
from modelyard.engine.training.data import Features, TrainingData
from modelyard.engine.training.evaluate import make_pipeline, predict_matrix
from modelyard.engine.training.families.base import FitContext
from modelyard.engine.training.metrics import f1_threshold
from modelyard.engine.training.preprocess import DateParts
from modelyard.schemas import Task


def test_date_parts_become_numbers_and_keep_gaps():
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-03-05 14:00", None, "1999-12-31 00:00"]),
                          "x": [1.0, 2.0, 3.0]})
    out = DateParts(["when"]).fit_transform(frame)
    assert "when" not in out and list(out.columns[:1]) == ["x"]
    assert out.loc[0, ["when__year", "when__month", "when__day", "when__hour"]].tolist() == [
        2024, 3, 5, 14]
    assert out.loc[0, "when__dayofweek"] == 1  # a Tuesday
    assert out.iloc[1].drop("x").isna().all()
    assert out.loc[2, "when__epoch_days"] < out.loc[0, "when__epoch_days"]


def test_a_date_that_carries_the_signal_is_learned():
    rng = np.random.default_rng(0)
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 730, 300), unit="D")
    y = np.asarray(when.month >= 7, dtype=int)  # the second half of each year
    frame = pd.DataFrame({"when": when, "noise": rng.normal(size=300)})
    data = TrainingData(frame, y, Features(["noise"], [], None, ["when"]), [0, 1])
    for name in ("lightgbm", "random_forest"):
        family = families.get(name)
        ctx = FitContext(Task.binary, 300, 2, 1, 0)
        pipeline = make_pipeline(family, family.default_params(ctx), ctx, data)
        pipeline.fit(frame.iloc[:200], y[:200])
        pred = predict_matrix(pipeline, frame.iloc[200:], True, 2).argmax(axis=1)
        assert (pred == y[200:]).mean() > 0.9, name


def test_balanced_class_weight_is_a_searched_choice_for_classifiers():
    ctx = FitContext(Task.binary, 100, 2, 1, 0)
    for name in ("linear", "lightgbm", "random_forest", "extra_trees"):
        family = families.get(name)
        assert family.search_space(ctx)["class_weight"].options == ("none", "balanced")
        model = family.build({**family.default_params(ctx), "class_weight": "balanced"}, ctx)
        assert model.get_params()["class_weight"] == "balanced"
    regression = FitContext(Task.regression, 100, 0, 1, 0)
    assert "class_weight" not in families.get("lightgbm").search_space(regression)


def test_f1_threshold_finds_the_better_cut_for_a_rare_class():
    y = np.array([0] * 90 + [1] * 10)
    # Positives score 0.3-0.4, negatives below 0.3: 0.5 finds none of them.
    p = np.concatenate([np.linspace(0.0, 0.29, 90), np.linspace(0.3, 0.4, 10)])
    found = f1_threshold(y, p)
    assert found["f1_at_0.5"] == 0.0
    assert found["f1_at_threshold"] == 1.0 and 0.29 < found["threshold"] <= 0.3


def test_a_native_frame_pickled_before_ranks_existed_still_prepares_and_prints():
    """Bundles saved before NativeFrame ranked many-valued columns hold instances without
    `coded_` or `coded_above`: they prepare rows as they did (every column a category)."""
    import pickle

    from modelyard.engine.training.preprocess import NativeFrame

    X = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": [f"v{i}" for i in range(3)]})
    old = NativeFrame(["n"], ["c"], coded_above=1).fit(X)
    del old.__dict__["coded_"], old.__dict__["coded_above"]
    loaded = pickle.loads(pickle.dumps(old))
    assert isinstance(loaded.transform(X)["c"].dtype, pd.CategoricalDtype)
    assert "NativeFrame" in repr(loaded)
