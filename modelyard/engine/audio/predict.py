"""Predicting with a sound Model bundle: a network on log-mel spectrograms, or a table
model on MFCC statistics (whichever won the Run), no catalog, no Streamlit.

It speaks the image predictor's language (`predict_paths`, `predict_folder`, and which
files it takes), so `engine/vision/predict.predict_images` finds, unpacks and names the
recordings of folders and zips for it, and every caller of that works for sound too.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.engine.audio.decode import fit_length, is_audio_name, load, probe
from modelyard.engine.audio.features import log_mel, mfcc_stats
from modelyard.engine.errors import BadInputError
from modelyard.storage.files import read_json

BATCH = 64


class AudioPredictor:
    """A sound Model bundle, checked against its manifest before anything in it is read
    (`trust_unsigned`: let a bundle without one load; engine/training/manifest.py)."""

    word = "recording"  # what it predicts, for messages

    def __init__(self, model_dir: Path, *, trust_unsigned: bool = False,
                 shown: str | None = None):
        from modelyard.engine.training.bundle import load_pipeline, read_metadata
        from modelyard.engine.training.manifest import check_bundle

        model_dir = Path(model_dir)
        check_bundle(model_dir, trust_unsigned=trust_unsigned, shown=shown)
        self.meta = read_metadata(model_dir).as_dict()
        self.config = read_json(model_dir / "config.json")
        self.samples = int(round(self.config["clip_seconds"] * self.config["sample_rate"]))
        self.net = self.pipeline = None
        if self.config["input"] == "mfcc":
            self.pipeline = load_pipeline(model_dir / "pipeline.joblib")
        else:
            from modelyard.engine.vision.predict import load_network

            self.torch, self.net = load_network(model_dir, self.config)

    @property
    def classes(self) -> list:
        return self.meta["classes"]

    @staticmethod
    def is_input(path: Path | str) -> bool:
        """Whether a file's name says it is something this model predicts."""
        return is_audio_name(path)

    @staticmethod
    def check_input(path: Path):
        """Facts about a usable recording, else why it cannot be used (a string)."""
        return probe(path)

    def _proba(self, paths: list[Path]) -> np.ndarray:
        waves = [fit_length(load(p, self.config["sample_rate"]), self.samples) for p in paths]
        if self.pipeline is not None:
            return np.asarray(self.pipeline.predict_proba(np.stack(
                [mfcc_stats(w) for w in waves])), dtype=np.float64)
        torch = self.torch
        x = torch.from_numpy(np.stack([log_mel(w) for w in waves])).unsqueeze(1)
        with torch.no_grad():
            return torch.softmax(self.net(x.expand(-1, 3, -1, -1)).float(), dim=1).numpy()

    def predict_paths(self, paths: list[Path], names: list[str],
                      on_progress=None) -> pd.DataFrame:
        """One row per recording: `path` (as given in `names`), the label, `proba_<class>`."""
        chunks, began = [], time.monotonic()
        for start in range(0, len(paths), BATCH):
            chunks.append(self._proba(list(paths[start:start + BATCH])))
            done = min(len(paths), start + BATCH)
            if on_progress:
                on_progress(done / max(1, len(paths)), f"predicted {done:,} of "
                            f"{len(paths):,} recordings ({time.monotonic() - began:.1f} s)")
        proba = np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)))
        out = pd.DataFrame({"path": names})
        out[self.meta.get("target", "label")] = [self.classes[i] for i in proba.argmax(axis=1)]
        for i, cls in enumerate(self.classes):
            out[f"proba_{cls}"] = proba[:, i]
        return out

    def predict_folder(self, folder: Path, on_progress=None) -> pd.DataFrame:
        """Every readable recording under `folder`, rows sorted by their path in it."""
        from modelyard.engine.vision.predict import images_under

        found = images_under(Path(folder), self)
        if not found.paths:
            raise BadInputError(f"{folder} holds no recordings.",
                                "Use .wav, .flac, .ogg or .mp3 files.")
        return self.predict_paths(found.paths, found.names, on_progress)
