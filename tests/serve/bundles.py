"""Small Model bundles written as the worker writes them (`save_bundle`: pipeline,
metadata, manifest). A module of its own: the server unpickles `always_fails` from here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from modelyard.engine.training.bundle import save_bundle


class Broken(RuntimeError):
    pass


def always_fails(X):
    """A pipeline step that fails on every call: the server's unexpected error."""
    raise Broken("a step of this pipeline always fails")


def prices_frame(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    size = rng.uniform(30, 150, n).round(1)
    town = rng.choice(["north", "south", "east"], n)
    price = 2.0 * size + np.select([town == "north", town == "south"], [40, 10], 0)
    return pd.DataFrame({"size_m2": size, "town": town, "price": price + rng.normal(0, 5, n)})


def prices_bundle(folder: Path) -> Path:
    """A regression bundle with a number and a category column."""
    frame = prices_frame()
    pipeline = Pipeline([
        ("prep", ColumnTransformer([("num", "passthrough", ["size_m2"]),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["town"])])),
        ("model", Ridge())]).fit(frame[["size_m2", "town"]], frame["price"])
    save_bundle(folder, pipeline, {"target": "price", "task": "regression", "metric": "rmse",
                                   "cv_score": 5.1, "numeric": ["size_m2"],
                                   "categorical": ["town"], "model": "ridge",
                                   "family": "linear"})
    return folder


def broken_bundle(folder: Path) -> Path:
    frame = prices_frame()
    pipeline = Pipeline([("fail", FunctionTransformer(always_fails)), ("model", Ridge())])
    pipeline.steps[0][1].fit(frame[["size_m2"]])
    pipeline.steps[1][1].fit(frame[["size_m2"]], frame["price"])
    save_bundle(folder, pipeline, {"target": "price", "task": "regression",
                                   "numeric": ["size_m2"], "categorical": []})
    return folder
