"""The fitted foundation model: TabPFN's or TabICL's estimator behind one scikit-learn
face, reading its checkpoint safely and never reaching for the network.

Imported when a model is built; torch and the library only inside `fit`, so reading the
registry stays light.

Offline: `HF_HUB_OFFLINE=1` is set before the library is imported, TabICL gets
`allow_auto_download=False` and TabPFN an existing absolute path (it downloads only a
path that does not exist, so the file is checked just before). TabPFN's CPU guard
(it refuses more than 1,000 rows on a CPU for older checkpoints, a speed guard) is
lifted through its own setting, since the trainer judges a trial's time itself.

Bundles: the fitted estimator is pickled with its weights (TabICL is told to keep them,
it drops them by default and reloads the checkpoint), so a bundle predicts on a machine
without the checkpoint file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from modelyard.engine.errors import BadInputError


class CheckpointError(BadInputError):
    """A checkpoint file is missing, damaged or not the model's own."""


def offline() -> None:
    """Switch off every download path the libraries have, before they are imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["TABPFN_ALLOW_CPU_LARGE_DATASET"] = "1"


def read_checkpoint(path: Path, title: str) -> dict:
    """The checkpoint's contents as tensors and plain values only, or a CheckpointError
    naming the file and what to do."""
    hint = (f"Replace {path} with the {title} checkpoint file as its authors publish it, "
            "or remove it; the other model families run without it.")
    if not path.is_file():
        raise CheckpointError(f"The {title} checkpoint {path} is not there any more.", hint)
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                return {"state_dict": {k: f.get_tensor(k) for k in f.keys()},  # noqa: SIM118
                        **(f.metadata() or {})}
        import torch

        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read it means the same
        raise CheckpointError(f"The {title} checkpoint {path} could not be read as "
                              f"weights ({type(exc).__name__}: {str(exc)[:200]}).",
                              hint) from exc
    if not isinstance(loaded, dict) or "state_dict" not in loaded:
        raise CheckpointError(f"The file {path} is not a {title} checkpoint (it holds no "
                              "model weights).", hint)
    return loaded


# Checkpoints already checked in this process, by (path, size, mtime): every fold of
# every trial builds an estimator, and a real checkpoint takes a while to read.
_CHECKED: set[tuple[str, int, int]] = set()


def _check(library: str, path: Path, title: str, classification: bool) -> None:
    """Build the network from the file as tensors only, before the library reads it: a
    damaged, foreign or unsafe file stops here with a CheckpointError."""
    try:
        stat = path.stat()
    except OSError:
        stat = None
    key = (str(path), stat.st_size, stat.st_mtime_ns) if stat else None
    if key in _CHECKED:
        return
    loaded = read_checkpoint(path, title)
    try:
        if library == "tabicl":
            from tabicl._model.tabicl import TabICL

            network = TabICL(**loaded["config"])
            network.load_state_dict(loaded["state_dict"])
        else:
            from tabpfn.model_loading import load_model

            load_model(path=path.resolve(),
                       estimator_type="classifier" if classification else "regressor")
    except Exception as exc:  # noqa: BLE001 - any failure here means a wrong file
        raise CheckpointError(
            f"The file {path} is not a {title} checkpoint this version of {library} can "
            f"use ({type(exc).__name__}: {str(exc)[:200]}).",
            f"Replace it with the {title} checkpoint file as its authors publish it, or "
            "remove it; the other model families run without it.") from exc
    _CHECKED.add(key)


class FoundationModel(BaseEstimator):
    """A TabPFN or TabICL estimator for one task, from one local checkpoint."""

    _TITLES = {"tabpfn": "TabPFN", "tabicl": "TabICL"}

    def __init__(self, library: str, checkpoint: str, classification: bool,
                 threads: int = 1, seed: int = 0):
        self.library = library
        self.checkpoint = checkpoint
        self.classification = classification
        self.threads = threads
        self.seed = seed

    def _estimator(self, device: str):
        offline()
        path = Path(self.checkpoint)
        title = self._TITLES[self.library]
        _check(self.library, path, title, self.classification)
        if self.library == "tabicl":
            from tabicl import TabICLClassifier, TabICLRegressor

            cls = TabICLClassifier if self.classification else TabICLRegressor
            # None: CUDA when there is one, else the CPU, chosen again where a bundle is
            # unpickled (TabICL re-resolves its device then), so it loads on either.
            return cls(model_path=path, allow_auto_download=False,
                       device=None if device == "cuda" else device,
                       n_jobs=self.threads, random_state=self.seed)
        from tabpfn import TabPFNClassifier, TabPFNRegressor

        cls = TabPFNClassifier if self.classification else TabPFNRegressor
        return cls(model_path=path, device=device, random_state=self.seed,
                   n_preprocessing_jobs=self.threads)

    def fit(self, X, y):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            torch.set_num_threads(max(1, self.threads))
        estimator = self._estimator(device)
        X = np.asarray(X, dtype=np.float32)
        estimator.fit(X, np.asarray(y))
        self.estimator_ = estimator
        self.device_ = device
        if self.classification:
            self.classes_ = np.asarray(estimator.classes_)
        return self

    def predict(self, X):
        return self.estimator_.predict(np.asarray(X, dtype=np.float32))

    def predict_proba(self, X):
        return self.estimator_.predict_proba(np.asarray(X, dtype=np.float32))

    def __getstate__(self):
        state = self.__dict__.copy()
        estimator = state.get("estimator_")
        if estimator is not None and self.library == "tabicl":
            # TabICL drops its network when pickled and reloads the checkpoint file: keep
            # the weights in the bundle instead, so it predicts without the file.
            estimator._save_model_weights = True
        if estimator is not None and self.library == "tabpfn" and self.device_ != "cpu":
            # CUDA tensors would not unpickle on a machine without a GPU: the pickled
            # model (a bundle) predicts on the CPU. Unmeasured: no GPU was lent.
            estimator.to("cpu")
            self.device_ = state["device_"] = "cpu"
        return state
