"""Predicting with a mixed Model bundle: a table whose image column names files relative
to a folder (the table's own, or the folder a zip holds).

The bundle holds the table pipeline (checked against the manifest before it is
unpickled, like every bundle) and each image column's network as a tensors-only state
dict (`weights_only=True`: nothing else is unpickled from it)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.training.bundle import Predictor
from modelyard.storage.files import read_json


class MixedPredictor(Predictor):
    """A mixed bundle: the person's file gives the table's columns and the image paths;
    the image columns become the networks' columns before the pipeline reads them."""

    def __init__(self, pipeline: Any, meta: dict[str, Any], networks: dict[str, Any],
                 base: Path | None = None):
        super().__init__(pipeline, meta)
        self.networks = networks  # column -> (config, loaded network)
        self.base = base  # the folder image paths are relative to
        self.without_image = 0  # rows predicted so far with no readable image

    @classmethod
    def load_bundle(cls, model_dir: Path, meta: dict[str, Any] | None = None,
                    base: Path | None = None) -> MixedPredictor:
        """The bundle in `model_dir`; through `Predictor.load`, which checks the
        manifest first (and hands over here with `meta`)."""
        if meta is None:
            loaded = Predictor.load(model_dir)
            loaded.base = base
            return loaded
        if meta.get("fusion"):  # a late-fusion network (engine/mixed/fusion.py)
            return FusionPredictor.load_fused(model_dir, meta)
        from modelyard.engine.mixed.embed import load_state
        from modelyard.engine.training.bundle import load_pipeline
        from modelyard.engine.vision import require_torch

        torch, _ = require_torch()
        configs = read_json(Path(model_dir) / "images.json")
        networks = {}
        for column, config in configs.items():
            state = torch.load(Path(model_dir) / config["file"], map_location="cpu",
                               weights_only=True)
            networks[column] = (config, load_state(torch, config, state))
        return cls(load_pipeline(Path(model_dir) / "pipeline.joblib"), meta, networks, base)

    @property
    def generated(self) -> list[str]:
        """The pipeline's columns that the image networks make."""
        from modelyard.engine.mixed.embed import column_names, stat_names

        return [n for c, (config, _) in self.networks.items()
                for n in column_names(c, config["width"]) + stat_names(c)]

    @property
    def features(self) -> list[str]:
        made = set(self.generated)
        return [c for c in super().features if c not in made] + list(self.networks)

    def predict_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predictions for `table`; its image cells are read relative to `self.base`."""
        from modelyard.engine.intake.mixed import _Finder
        from modelyard.engine.mixed.embed import (
            apply,
            colour_stats,
            column_names,
            load_pixels,
            stat_names,
        )
        from modelyard.engine.vision import require_torch

        if self.networks and self.base is None:
            raise BadInputError("This model reads images, and no folder was given to find "
                                "them in.", "Predict from the table's file (its image "
                                "paths relative to it) or a zip holding both.")
        table = table.copy()
        if self.networks:
            torch, _ = require_torch()
            finder = _Finder(Path(self.base), use_index=False)
        for column, (config, net) in self.networks.items():
            cells = table[column] if column in table.columns else [None] * len(table)
            paths = [None if v is None or v != v else finder.find(v)[0] for v in cells]
            pixels, present = load_pixels(paths, config["image_size"])
            self.without_image += int((~present).sum())
            values = np.hstack([apply(torch, net, config, pixels[present]),
                                colour_stats(pixels[present], present[present])])
            names = column_names(column, config["width"]) + stat_names(column)
            for i, name in enumerate(names):
                table[name] = float("nan")
                table.loc[table.index[present], name] = values[:, i]
        # The pipeline reads the networks' columns: a plain table predictor over them.
        return Predictor(self.pipeline, self.meta).predict_frame(table)


class FusionPredictor(MixedPredictor):
    """A bundled late-fusion network: it reads the table's columns and its image paths
    itself (no image columns are made for a table pipeline)."""

    @classmethod
    def load_fused(cls, model_dir: Path, meta: dict[str, Any]) -> FusionPredictor:
        """The bundle in `model_dir`, its manifest already checked by `Predictor.load`."""
        from modelyard.engine.mixed.fusion import load_model

        return cls(load_model(model_dir, meta), meta, {})

    @property
    def generated(self) -> list[str]:
        return []

    @property
    def features(self) -> list[str]:
        return Predictor.features.fget(self) + list(self.pipeline.config["columns"])

    def predict_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predictions for `table`; its image cells are read relative to `self.base`."""
        if self.base is None:
            raise BadInputError("This model reads images, and no folder was given to find "
                                "them in.", "Predict from the table's file (its image "
                                "paths relative to it) or a zip holding both.")
        table = table.copy()
        for column in self.pipeline.config["columns"]:  # a row may come without an image
            if column not in table.columns:
                table[column] = None
        self.pipeline.base, self.pipeline.without_image = self.base, 0
        out = Predictor.predict_frame(self, table)
        self.without_image += self.pipeline.without_image
        return out


def missing_note(predictor: MixedPredictor) -> str:
    """What a person is told when some rows' images were not found ("" when none)."""
    n = predictor.without_image
    return (f"{n:,} row(s) had no readable image (empty, missing or not an image): they "
            "were predicted from their other columns only." if n else "")


def open_input(path: Path, workdir: Path) -> tuple[pd.DataFrame, Path]:
    """The table to predict and its images' folder, for the Predict page: a zip is
    unpacked (with intake's caps) into `workdir` and stays there, beside the run."""
    from modelyard.engine.intake.formats import kind_of
    from modelyard.engine.results.predict import read_input

    path = Path(path).expanduser()
    if not (path.is_file() and kind_of(path) == "zip"):
        return read_input(path), path.parent
    from modelyard.engine.intake.archives import extract_zip

    dest = Path(workdir) / f"{path.stem}-unzipped"
    if dest.exists():
        import shutil

        shutil.rmtree(dest)
    root = extract_zip(path, dest)
    table = _one_table(root, path.name)
    return read_input(table), table.parent


def _one_table(root: Path, shown: str) -> Path:
    from modelyard.engine.intake.formats import TABLE_SUFFIXES

    tables = sorted(f for f in root.rglob("*") if f.is_file()
                    and not any(p.startswith(".") or p == "__MACOSX"
                                for p in f.relative_to(root).parts)
                    and any(s.lower() in TABLE_SUFFIXES for s in f.suffixes))
    if len(tables) != 1:
        raise BadInputError(f"{shown} holds {len(tables)} tables; a zip to predict holds "
                            "one table and its images.",
                            "Put one table (CSV or Parquet) and the images it names in "
                            "the zip.")
    return tables[0]


@contextmanager
def mixed_input(path: Path) -> Iterator[tuple[pd.DataFrame, Path]]:
    """The table to predict and the folder its image paths are relative to: a table file
    (its own folder), or a zip holding one table and its images (unpacked with intake's
    caps into a temporary folder, removed afterwards)."""
    from modelyard.engine.intake.formats import kind_of
    from modelyard.engine.results.predict import read_input

    path = Path(path).expanduser()
    if not (path.is_file() and kind_of(path) == "zip"):
        yield read_input(path), path.parent
        return
    from modelyard.engine.intake.archives import extract_zip

    with tempfile.TemporaryDirectory() as tmp:
        root = extract_zip(path, Path(tmp) / "unzipped")
        table = _one_table(root, path.name)
        yield read_input(table), table.parent
