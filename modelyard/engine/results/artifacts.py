"""A finished Run opened for reading: its record, Plan, Model bundle, out-of-fold
predictions and data; and any Model bundle (run folder, exported folder or zip)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from modelyard.engine.errors import BadInputError, NotFoundError
from modelyard.engine.training.bundle import (
    METADATA_FILE,
    Predictor,
    has_metadata,
    read_metadata,
)
from modelyard.engine.training.data import read_table
from modelyard.schemas import Plan, Profile, RunStatus
from modelyard.storage.files import read_json
from modelyard.storage.paths import Home
from modelyard.storage.runfolder import RunFolder


@dataclass
class RunResult:
    """What a succeeded Run left in its folder. Heavy parts load on first use."""

    home: Home
    run_id: str
    record: dict[str, Any] = field(repr=False)

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.home.run_dir(self.run_id))

    @property
    def model_dir(self) -> Path:
        return self.folder.model_dir

    @property
    def results_dir(self) -> Path:
        """Where files made after training go (predictions, reports, caches)."""
        return self.folder.path / "results"

    @property
    def name(self) -> str:
        return self.record.get("name") or self.run_id

    @property
    def note(self) -> str:
        """The label of a model whose Run ended without succeeding (failed or cancelled
        after the model was finished); "" for a Run that succeeded."""
        status = self.record.get("status")
        if status == RunStatus.succeeded:
            return ""
        how = "was cancelled" if status == RunStatus.cancelled else "failed late"
        reason = (self.record.get("message") or str(status)).strip().rstrip(".")
        return (f"This model is from a run that {how}: {reason}; the best model finished "
                "before that.")

    @property
    def plan(self) -> Plan:
        return Plan.model_validate(self.record["plan"])

    @property
    def dataset_dir(self) -> Path:
        # Not run.json's `dataset_dir`: a home that was moved or copied keeps its ids.
        return self.home.dataset_dir(self.record["dataset_id"])

    @property
    def dataset_name(self) -> str:
        path = self.dataset_dir / "dataset.json"
        return read_json(path).get("name", "") if path.exists() else self.record["dataset_id"]

    @cached_property
    def meta(self) -> dict[str, Any]:
        return read_metadata(self.model_dir).as_dict()

    @property
    def is_image(self) -> bool:
        """Whether the model predicts files (images, or sound: kind "audio"), not rows."""
        return self.meta.get("kind") in ("image", "audio")

    @property
    def is_audio(self) -> bool:
        return self.meta.get("kind") == "audio"

    @property
    def is_text_to_text(self) -> bool:
        return self.meta.get("kind") == "text_to_text"

    @cached_property
    def predictor(self) -> Predictor:
        # A run's own model: checked against its manifest when it has one; one made before
        # manifests loads too (this install wrote it, in its home; engine/training/manifest.py).
        loaded = Predictor.load(self.model_dir, trust_unsigned=True)
        if getattr(loaded, "networks", None) is not None:  # a mixed model: the training
            loaded.base = self.dataset_dir  # rows' image cells are dataset-relative
        return loaded

    def image_predictor(self):
        """The image model of this run (torch is imported only now), checked as above."""
        if self.is_audio:
            from modelyard.engine.audio.predict import AudioPredictor

            return AudioPredictor(self.model_dir, trust_unsigned=True)
        from modelyard.engine.vision.predict import ImagePredictor

        return ImagePredictor(self.model_dir, trust_unsigned=True)

    @cached_property
    def profile(self) -> Profile | None:
        path = self.dataset_dir / "profile.json"
        return Profile.model_validate(read_json(path)) if path.exists() else None

    @cached_property
    def oof(self) -> pd.DataFrame | None:
        """The winner's out-of-fold predictions (row, y, proba_<class> or prediction)."""
        path = self.model_dir / "oof.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @property
    def classes(self) -> list[Any]:
        return self.meta.get("classes") or []

    def training_rows(self) -> pd.DataFrame:
        """The training table as the worker saw it: rows with a target, in file order, so
        that row i is `row` i of the out-of-fold predictions. The id column comes too."""
        meta = self.meta
        path = self.dataset_dir / "train.parquet"
        if not path.exists():
            raise NotFoundError(f"The training data of run “{self.name}” is gone ({path}).",
                                "Its data set was deleted; the model still predicts.")
        wanted = [*meta["numeric"], *meta["categorical"], *meta.get("datetime", []),
                  *meta.get("image_columns", []), meta["target"]]
        available = set(pl.read_parquet_schema(path))
        id_column = meta.get("id_column")
        if id_column and id_column in available and id_column not in wanted:
            wanted.insert(0, id_column)
        table = read_table(path, [c for c in wanted if c in available], keep=(meta["target"],))
        return table[table[meta["target"]].notna()].reset_index(drop=True)

    def test_rows(self) -> pd.DataFrame | None:
        path = self.dataset_dir / "test.parquet"
        return read_table(path) if path.exists() else None

    @property
    def sample_submission(self) -> Path | None:
        """The sample submission that came with a competition folder, if any."""
        path = self.dataset_dir / "sample_submission.csv"
        return path if path.exists() else None


# A Run that ended in one of these after its Model bundle was finished (a full disk in
# a later session, say) keeps that model usable, labelled (`RunResult.note`): the bundle
# is only ever swapped in whole, so one that is there is complete.
_ENDED_WITH_A_MODEL = (RunStatus.failed, RunStatus.cancelled)


def open_run(home: Home, run_id: str) -> RunResult:
    """A Run with its Model bundle (one that succeeded, or that failed or was cancelled
    after its model was finished: see `RunResult.note`), or a message saying why there is
    none."""
    folder = RunFolder(home.run_dir(run_id))
    if not folder.exists():
        raise NotFoundError(f"There is no run “{run_id}”.", "List them with `modelyard runs`.")
    record = folder.read()
    name = record.get("name") or run_id
    status = record.get("status")
    if status in _ENDED_WITH_A_MODEL and has_metadata(folder.model_dir):
        return RunResult(home, run_id, record)
    if status != RunStatus.succeeded:
        raise BadInputError(f"Run “{name}” has no model: it is {record.get('status')}.",
                            "Use a run that succeeded, or wait for this one to finish.")
    if not has_metadata(folder.model_dir):
        raise NotFoundError(f"Run “{name}” succeeded but its model folder is missing "
                            f"({folder.model_dir}).", "Train it again.")
    return RunResult(home, run_id, record)


def unpacked(path: Path) -> Path:
    """A bundle folder for `path`: itself, a run folder's `model/`, or a zip unpacked into
    a temporary folder (removed when the process exits) with intake's caps and path
    checks."""
    from modelyard.engine.intake.archives import extract_zip

    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder.", "Check the path.")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise BadInputError(f"{path.name} is neither a bundle folder nor a zip of one.",
                                "Give a folder or zip written by `modelyard export`.")
        target = Path(tempfile.mkdtemp(prefix="modelyard-bundle-"))
        atexit.register(shutil.rmtree, target, ignore_errors=True)
        extract_zip(path, target / "unpacked")
        found = [p.parent for p in target.rglob(METADATA_FILE)]
        if not found:
            raise BadInputError(f"{path.name} holds no Model bundle (no metadata.json).",
                                "Use a zip written by `modelyard export`.")
        return min(found, key=lambda p: len(p.parts))
    if not has_metadata(path) and has_metadata(path / "model"):
        return path / "model"
    return path


def load_model(path: Path, *, trust_unsigned: bool = False):
    """The predictor of any Model bundle: a `Predictor` for tables, an `ImagePredictor`
    for image models (torch is imported only then). It is checked against its manifest
    before anything in it is unpickled; one without a manifest loads only with
    `trust_unsigned` (engine/training/manifest.py)."""
    shown = str(Path(path).expanduser())
    folder = unpacked(path)
    if has_metadata(folder) and read_metadata(folder).kind == "audio":
        from modelyard.engine.audio.predict import AudioPredictor

        return AudioPredictor(folder, trust_unsigned=trust_unsigned, shown=shown)
    if has_metadata(folder) and read_metadata(folder).kind == "image":
        from modelyard.engine.vision.predict import ImagePredictor

        return ImagePredictor(folder, trust_unsigned=trust_unsigned, shown=shown)
    return Predictor.load(folder, trust_unsigned=trust_unsigned, shown=shown)
