"""The Model bundle: a fitted pipeline plus the metadata needed to use it anywhere, sealed
by a SHA-256 manifest that is checked before the pipeline is unpickled (the policy is in
`engine/training/manifest.py`)."""

from __future__ import annotations

import importlib.abc
import importlib.util
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from pydantic import ValidationError

from modelyard.engine.errors import BadInputError
from modelyard.engine.training.manifest import check_bundle, update_entry, write_manifest
from modelyard.schemas import BUNDLE_FORMAT, BundleFormatError, BundleMetadata
from modelyard.storage.files import read_json, write_json_atomic

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


METADATA_FILE = "metadata.json"


def new_metadata(**fields: Any) -> BundleMetadata:
    """Metadata for a bundle saved now: the current format, the time, package versions."""
    return BundleMetadata.model_validate(
        {"format": BUNDLE_FORMAT, "created_at": time.time(), "versions": package_versions(),
         **fields})


def write_metadata(model_dir: Path, meta: BundleMetadata) -> None:
    """The one writer of a bundle's `metadata.json` (a sealed bundle's manifest follows)."""
    write_json_atomic(Path(model_dir) / METADATA_FILE, meta.as_dict())
    update_entry(Path(model_dir), METADATA_FILE)


def seal(model_dir: Path) -> None:
    """Write the bundle's manifest: every file, hashed. The last step of every writer of a
    bundle (the worker's, the image trainer's, the export's)."""
    write_manifest(Path(model_dir))


def has_metadata(model_dir: Path) -> bool:
    return (Path(model_dir) / METADATA_FILE).exists()


def upgrade_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A bundle's metadata brought to the current format, or a reason it cannot be."""
    try:
        # The format check first, so that its message is not wrapped in pydantic's.
        return BundleMetadata.model_validate(BundleMetadata.upgrade(meta)).as_dict()
    except BundleFormatError as exc:
        raise _format_error(exc) from None
    except ValidationError as exc:
        raise BadInputError(f"This model's metadata is damaged: {exc.errors()[0]['msg']}.",
                            "Export the model again, or train it again.") from None


def _format_error(exc: BundleFormatError) -> BadInputError:
    newer = "newer Modelyard" in str(exc)
    return BadInputError(str(exc), "Upgrade Modelyard to use it." if newer else
                         "Load it with the Modelyard version named in its metadata and "
                         "export it again, or train it again.")


def read_metadata(model_dir: Path) -> BundleMetadata:
    """The one reader of a bundle's `metadata.json`, upgraded to the current format."""
    return BundleMetadata.model_validate(upgrade_meta(read_json(Path(model_dir) / METADATA_FILE)))


def save_bundle(model_dir: Path, pipeline: Any, meta: dict[str, Any]) -> None:
    """Write a run's bundle: the pipeline, its metadata, then the manifest over both."""
    model_dir.mkdir(parents=True, exist_ok=True)
    # Dumped beside and moved in: a pickle cut short is never found under its name.
    partial = model_dir / ".pipeline.joblib.partial"
    joblib.dump(pipeline, partial)
    partial.replace(model_dir / "pipeline.joblib")
    write_metadata(model_dir, new_metadata(**meta))
    seal(model_dir)


# The package moved under `modelyard/`: bundles pickled before that name their classes
# `engine.*`, `app.*` or `storage.*`. joblib takes no custom unpickler, so while such a
# bundle loads, those names are imported as aliases of the `modelyard.` modules.
_OLD_PACKAGES = ("engine", "app", "storage", "schemas")


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):  # noqa: ARG002
        top = name.split(".")[0]
        if top not in _OLD_PACKAGES:
            return None
        if top == name:  # a real package of that name (another project's) wins
            others = (f for f in sys.meta_path if f is not self)
            if any(getattr(f, "find_spec", None) and f.find_spec(name, None)
                   for f in others):
                return None
        elif not getattr(sys.modules.get(top), "__name__", "").startswith("modelyard."):
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return importlib.import_module(f"modelyard.{spec.name}")

    def exec_module(self, module):
        pass


@contextmanager
def _old_module_names() -> Iterator[None]:
    before = set(sys.modules)
    finder = _OldNames()
    # First: otherwise the path finder would load `engine.training` a second time from
    # the files of `modelyard.engine` (its parent's path), with classes of its own. Only
    # entered when no package of the old name exists (see `load_pipeline`).
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in set(sys.modules) - before:
            if name.split(".")[0] in _OLD_PACKAGES:
                del sys.modules[name]


def load_pipeline(path: Path) -> Any:
    """The pickled pipeline at `path`, also when pickled under the old module names."""
    try:
        return joblib.load(path)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _OLD_PACKAGES:
            raise
    with _old_module_names():
        return joblib.load(path)


def blank_words(frame: pd.DataFrame, words: dict[str, list[str]]) -> pd.DataFrame:
    """`frame` with the `words` of each column read as missing (engine/intake/
    missing_words.py: cells such as "None" that the person chose to treat so)."""
    present = {c: w for c, w in words.items() if c in frame.columns}
    if not present:
        return frame
    frame = frame.copy()
    for column, found in present.items():
        frame[column] = frame[column].mask(frame[column].isin(found), None)
    return frame


class Predictor:
    """A loaded Model bundle; needs neither Streamlit nor the catalog."""

    def __init__(self, pipeline: Any, meta: dict[str, Any]):
        self.pipeline = pipeline
        self.meta = meta

    @classmethod
    def load(cls, model_dir: Path, *, trust_unsigned: bool = False,
             shown: str | None = None) -> Predictor:
        """The bundle in `model_dir` (a bundle folder, or a run folder holding `model/`),
        checked against its manifest before it is unpickled: loading a bundle runs its
        code. `trust_unsigned` lets a bundle without a manifest load (see manifest.py)."""
        model_dir = Path(model_dir)
        if not has_metadata(model_dir) and (model_dir / "model").is_dir():
            model_dir = model_dir / "model"
        if not has_metadata(model_dir):
            raise BadInputError(f"{model_dir} is not a Model bundle: it has no metadata.json.",
                                "Point to a run folder or a folder written by "
                                "`modelyard export`.")
        # The metadata is JSON (no code): its format is judged first, so that a bundle of
        # a newer Modelyard says so. Then the manifest, then the pickle.
        meta = read_metadata(model_dir).as_dict()
        if meta.get("kind") == "image":
            raise BadInputError("This is an image model bundle.",
                                "Load it with engine.vision.predict.ImagePredictor.")
        if meta.get("kind") == "audio":
            raise BadInputError("This is a sound model bundle.",
                                "Load it with engine.audio.predict.AudioPredictor.")
        check_bundle(model_dir, trust_unsigned=trust_unsigned, shown=shown)
        if meta.get("kind") == "text_to_text":  # no pickle: JSON and tensors
            from modelyard.engine.text_to_text.predict import load

            return load(model_dir, meta)
        if meta.get("kind") == "mixed":  # the pipeline plus image networks (tensors only)
            from modelyard.engine.mixed.predict import MixedPredictor

            return MixedPredictor.load_bundle(model_dir, meta)
        return cls(load_pipeline(model_dir / "pipeline.joblib"), meta)

    @property
    def classes(self) -> list[Any]:
        return self.meta.get("classes") or []

    @property
    def is_forecast(self) -> bool:
        return self.meta.get("kind") == "forecast"

    @property
    def features(self) -> list[str]:
        """The columns the model reads, in the order it was trained with."""
        if self.is_forecast:  # a forecaster reads a history: time, series, covariates
            setup = self.meta["forecast"]
            return [c for c in (setup["time_column"], setup.get("series_column"),
                                *setup.get("covariates", [])) if c]
        return (self.meta["numeric"] + self.meta["categorical"]
                + self.meta.get("datetime", []) + self.meta.get("text", []))

    def predict_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predictions for `table`, row for row: the id column first when there is one,
        then the target (label or value), then `proba_<class>` for classifiers. A
        forecaster reads `table` as each series' history and returns its next steps."""
        if self.is_forecast:
            return self.pipeline.forecast(table)
        features = self.features
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise BadInputError(
                f"The file lacks {len(missing)} column(s) the model needs: "
                f"{', '.join(missing[:10])}.", "Provide a file with the training columns.")
        # Words the training rows read as missing ("None", "NA" in text), read so here.
        X = blank_words(table[features], self.meta.get("missing_words") or {}).copy()
        out = pd.DataFrame(index=table.index)
        id_column = self.meta.get("id_column")
        if id_column and id_column in table.columns:
            out[id_column] = table[id_column].to_numpy()
        target = self.meta["target"]
        if self.meta.get("kind") == "multilabel":  # engine/multilabel/model.py
            out = out.join(self.pipeline.frame(X, target, table.index))
        elif self.classes:
            proba = np.asarray(self.pipeline.predict_proba(X), dtype=np.float64)
            labels = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
            out[target] = pd.Series(list(labels), index=table.index)
            for i, cls in enumerate(self.classes):
                out[f"proba_{cls}"] = proba[:, i]
        else:
            out[target] = np.asarray(self.pipeline.predict(X), dtype=np.float64)
        return out.reset_index(drop=True)
