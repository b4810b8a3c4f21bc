"""The Model bundle: a fitted pipeline plus the metadata needed to use it anywhere."""

from __future__ import annotations

import platform
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.storage.files import read_json, write_json_atomic

BUNDLE_FORMAT = 1
PACKAGES = ("modelyard", "scikit-learn", "lightgbm", "xgboost", "numpy", "pandas", "polars",
            "optuna")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return versions


# Older bundle formats this Modelyard still reads, each with its step to the next format.
# 0: bundles written before metadata carried `format`; they had no date features.
MIN_FORMAT = 0
_UPGRADES = {0: lambda meta: {"datetime": [], "id_column": None, **meta}}


def upgrade_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A bundle's metadata brought to the current format, or a reason it cannot be."""
    found = meta.get("format", 0)
    if not isinstance(found, int) or found > BUNDLE_FORMAT:
        raise BadInputError(
            f"This model was saved by a newer Modelyard (bundle format {found}; this one "
            f"reads formats {MIN_FORMAT} to {BUNDLE_FORMAT}).", "Upgrade Modelyard to use it.")
    if found < MIN_FORMAT:
        raise BadInputError(
            f"This model was saved in bundle format {found}, which this Modelyard no longer "
            f"reads (it reads {MIN_FORMAT} to {BUNDLE_FORMAT}).",
            "Load it with the Modelyard version named in its metadata and export it again, "
            "or train it again.")
    for version in range(found, BUNDLE_FORMAT):
        meta = {**_UPGRADES[version](meta), "format": version + 1}
    return meta


def save_bundle(model_dir: Path, pipeline: Any, meta: dict[str, Any]) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_dir / "pipeline.joblib")
    write_json_atomic(model_dir / "metadata.json", {
        "format": BUNDLE_FORMAT, "created_at": time.time(), "versions": package_versions(),
        **meta,
    })


class Predictor:
    """A loaded Model bundle; needs neither Streamlit nor the catalog."""

    def __init__(self, pipeline: Any, meta: dict[str, Any]):
        self.pipeline = pipeline
        self.meta = meta

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        """The bundle in `model_dir` (a bundle folder, or a run folder holding `model/`)."""
        model_dir = Path(model_dir)
        if not (model_dir / "metadata.json").exists() and (model_dir / "model").is_dir():
            model_dir = model_dir / "model"
        if not (model_dir / "metadata.json").exists():
            raise BadInputError(f"{model_dir} is not a Model bundle: it has no metadata.json.",
                                "Point to a run folder or a folder written by "
                                "`modelyard export`.")
        meta = upgrade_meta(read_json(model_dir / "metadata.json"))
        if meta.get("kind") == "image":
            raise BadInputError("This is an image model bundle.",
                                "Load it with engine.vision.predict.ImagePredictor.")
        return cls(joblib.load(model_dir / "pipeline.joblib"), meta)

    @property
    def classes(self) -> list[Any]:
        return self.meta.get("classes") or []

    @property
    def features(self) -> list[str]:
        """The columns the model reads, in the order it was trained with."""
        return (self.meta["numeric"] + self.meta["categorical"]
                + self.meta.get("datetime", []) + self.meta.get("text", []))

    def predict_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predictions for `table`, row for row: the id column first when there is one,
        then the target (label or value), then `proba_<class>` for classifiers."""
        features = self.features
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise BadInputError(
                f"The file lacks {len(missing)} column(s) the model needs: "
                f"{', '.join(missing[:10])}.", "Provide a file with the training columns.")
        X = table[features].copy()
        out = pd.DataFrame(index=table.index)
        id_column = self.meta.get("id_column")
        if id_column and id_column in table.columns:
            out[id_column] = table[id_column].to_numpy()
        target = self.meta["target"]
        if self.classes:
            proba = np.asarray(self.pipeline.predict_proba(X), dtype=np.float64)
            labels = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
            out[target] = pd.Series(list(labels), index=table.index)
            for i, cls in enumerate(self.classes):
                out[f"proba_{cls}"] = proba[:, i]
        else:
            out[target] = np.asarray(self.pipeline.predict(X), dtype=np.float64)
        return out.reset_index(drop=True)
