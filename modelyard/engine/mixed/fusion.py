"""The late-fusion network: one timm backbone per image column and a small MLP on the
table's columns, their outputs joined into one head and fine-tuned end to end.

It is the image search (`engine/vision/trainer.py`) run on another kind of example, so
it has that search's budget and deadline, per-epoch checkpoints and resume, out-of-memory
back-off (halved batches), epoch curves, and mixed precision on a GPU. What differs:

- **Inputs.** A row is its images (decoded once, kept in memory as uint8 at the networks'
  side, augmented as the image families are: crops, flips, brightness) plus its table
  columns prepared as the "scaled" table families prepare them (impute, scale, one-hot,
  text components), fitted on the training rows only. A row without an image gives the
  backbone zeros and a 0 in an "image present" input the head also sees.
- **Backbone.** resnet18 on a CPU, efficientnet_b0 with a GPU; pretrained weights only
  from `$MODELYARD_HOME/weights/<name>.*` (else from scratch, and the trial says so).
- **Validation.** It trains on the Run's first split's training rows and is scored on
  that split's validation rows, so the mixed run can compare it with the table models'
  out-of-fold predictions on the very same rows (`run.py`). It is not refitted on every
  row: the bundle carries the network of its best epoch, as the image search's does.
- **Tasks.** Binary and multiclass (cross-entropy), regression (squared error on the
  standardised target, scored back in the target's units).

On a CPU it is slow (a backbone forward and backward pass per image per epoch), so the
plan includes it by default only when CUDA is there (`include_by_default`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna

from modelyard.engine.training.metrics import score
from modelyard.engine.vision import require_torch
from modelyard.engine.vision.data import MEAN, STD
from modelyard.engine.vision.trainer import ImageSearch
from modelyard.schemas import Metric, Plan
from modelyard.storage.runfolder import RunFolder

FAMILY = "fusion"
HIDDEN = 64  # the table branch's width and half the head's


def backbone_for(on_gpu: bool) -> str:
    """The image backbone of the fused network on this device."""
    return "efficientnet_b0" if on_gpu else "resnet18"


def include_by_default(cuda: bool) -> bool:
    """Whether a mixed table's plan lists the fused network without being asked: only
    with a GPU (on a CPU it costs minutes an embedding-joined model does not need)."""
    return bool(cuda)


def build_net(config: dict, backbones: list | None = None):
    """The fused network `config` describes; `backbones` (pretrained or not) when
    training, else fresh timm backbones whose weights the bundle then loads."""
    torch, timm = require_torch()
    nn = torch.nn

    class FusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbones = nn.ModuleList(backbones if backbones is not None else [
                timm.create_model(config["backbone"], pretrained=False, num_classes=0)
                for _ in config["columns"]])
            # Each image comes down to HIDDEN numbers, as the table does: 512 raw image
            # features beside a few table inputs would drown the table at the start.
            self.project = nn.ModuleList(nn.Sequential(nn.Linear(b.num_features, HIDDEN),
                                                       nn.ReLU()) for b in self.backbones)
            width = (HIDDEN + 1) * len(self.backbones)
            self.table = None
            if config["table_width"]:
                self.table = nn.Sequential(
                    nn.Linear(config["table_width"], HIDDEN), nn.ReLU(), nn.Dropout(0.1),
                    nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
                width += HIDDEN
            self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(width, 2 * HIDDEN),
                                      nn.ReLU(), nn.Linear(2 * HIDDEN, config["outputs"]))

        def forward(self, batch):
            images, present, table = batch
            parts = [p(b(images[:, i])) * present[:, i:i + 1]
                     for i, (b, p) in enumerate(zip(self.backbones, self.project,
                                                    strict=True))]
            parts.append(present)
            if self.table is not None:
                parts.append(self.table(table))
            return self.head(torch.cat(parts, dim=1).float())

    return FusionNet()


class FusionSet:
    """A torch Dataset over rows: (images, which are present, table vector), target."""

    def __init__(self, pixels: np.ndarray, present: np.ndarray, table: np.ndarray,
                 target: np.ndarray | None, size: int, augment: float = 0.0):
        torch, _ = require_torch()
        from modelyard.engine.vision.data import make_transform

        self.torch = torch
        self.pixels, self.present, self.table = pixels, present, table
        self.labels = target
        self.transform = make_transform(size, augment)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        torch = self.torch
        images = torch.stack([self.transform(torch.from_numpy(self.pixels[c, i]))
                              for c in range(len(self.pixels))]) if len(self.pixels) else \
            torch.zeros(0)
        x = (images, torch.from_numpy(self.present[:, i].astype(np.float32)),
             torch.from_numpy(self.table[i]))
        return x, (0 if self.labels is None else self.labels[i])


def table_matrix(preprocessor, X) -> np.ndarray:
    """The prepared table columns as a dense float32 matrix (N × 0 when there are none)."""
    if preprocessor is None:
        return np.zeros((len(X), 0), dtype=np.float32)
    out = preprocessor.transform(X)
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.nan_to_num(np.asarray(out, dtype=np.float32))


class FusionSearch(ImageSearch):
    """The image search over rows of a mixed table (see the module's policy)."""

    kind = "mixed"

    def __init__(self, plan: Plan, data, pixels: dict[str, tuple[np.ndarray, np.ndarray]],
                 split: tuple[np.ndarray, np.ndarray], size: int, folder: RunFolder,
                 journal, started: float, threads: int, weights_dir: Path | None):
        torch, _ = require_torch()
        torch.set_num_threads(max(1, threads))
        torch.manual_seed(plan.seed)
        self.torch, self.plan, self.folder, self.journal = torch, plan, folder, journal
        self.started, self.deadline = started, started + plan.budget_seconds
        self.weights_dir = weights_dir
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.backbone = backbone_for(self.device == "cuda")
        self.checkpoints = folder.path / "checkpoints-fusion"
        self.checkpoints.mkdir(exist_ok=True)
        self.storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(folder.path / "optuna-fusion.log")))
        self.best, self.trial_count = None, 0
        self.size = size
        self.classes = list(data.classes)
        self.regression = not plan.task.is_classification
        self.columns = list(pixels)
        self.features = data.features
        train_idx, valid_idx = split
        y = np.asarray(data.y)
        self.y_mean = float(np.mean(y[train_idx])) if self.regression else 0.0
        self.y_std = float(np.std(y[train_idx]) or 1.0) if self.regression else 1.0
        self.preprocessor = None
        if data.features.all:
            from modelyard.engine.training.preprocess import build_preprocessor

            f = data.features
            self.preprocessor = build_preprocessor("scaled", f.numeric, f.categorical,
                                                   f.datetime, f.text)
            self.preprocessor.fit(data.X.iloc[train_idx][f.all], y[train_idx])
        table = table_matrix(self.preprocessor, data.X[data.features.all]
                             if data.features.all else data.X)
        self.table_width = table.shape[1]
        self._pixels = np.stack([p for p, _ in pixels.values()]) if pixels else \
            np.zeros((0, len(y), 3, size, size), np.uint8)
        self._present = np.stack([m for _, m in pixels.values()]) if pixels else \
            np.zeros((0, len(y)), bool)
        self._table = table
        target = ((y - self.y_mean) / self.y_std).astype(np.float32) if self.regression \
            else y.astype(np.int64)
        self.train, self.valid = (train_idx, target[train_idx]), (valid_idx, y[valid_idx])
        self.valid_rows = valid_idx

    def describe(self) -> str:
        return (f"late-fusion network: {len(self.columns)} image column(s) through "
                f"{self.backbone} at {self.size}×{self.size} and {self.table_width} "
                f"prepared table input(s); {len(self.train[0])} training and "
                f"{len(self.valid[0])} validation rows, on {self.device}"
                + ("" if self.device == "cuda" else " (slow without a GPU)"))

    def make_set(self, part, augment: float = 0.0, train: bool = False):
        rows, target = part
        return FusionSet(self._pixels[:, rows], self._present[:, rows], self._table[rows],
                         target, self.size, augment if train else 0.0)

    def searched(self) -> list:
        return [c for c in self.plan.families if c.family == FAMILY]

    def config(self) -> dict[str, Any]:
        """What rebuilds the network and its inputs at prediction time."""
        return {"backbone": self.backbone, "columns": self.columns,
                "table_width": self.table_width,
                "outputs": len(self.classes) if not self.regression else 1,
                "image_size": self.size, "mean": list(MEAN), "std": list(STD),
                "task": self.plan.task.value, "y_mean": self.y_mean, "y_std": self.y_std}

    def network(self, backbone: str):
        from modelyard.engine.vision.backbones import create

        made = [create(self.backbone, 0, self.weights_dir) for _ in self.columns]
        weights = made[0][1] if made else "no image column"
        return build_net(self.config(), [m for m, _ in made]), f"{self.backbone}: {weights}"

    def to_device(self, x):
        return tuple(part.to(self.device) for part in x)

    def loss(self, out, y):
        if self.regression:
            return self.torch.nn.functional.mse_loss(out[:, 0].float(), y.float())
        return super().loss(out, y)

    def outputs(self, net, dataset, batch: int, amp: bool = False) -> np.ndarray:
        """Class probabilities (N × classes), or values in the target's units (N)."""
        if not self.regression:
            return self.predict_proba(net, dataset, batch, amp)
        values = self.forward_all(net, dataset, batch, amp, lambda o: o[:, 0])
        return values * self.y_std + self.y_mean

    def _evaluate(self, net, dataset, batch, amp) -> tuple[float, float]:
        pred = self.outputs(net, dataset, batch, amp)
        y = dataset.labels
        n = len(self.classes)
        loss = score(Metric.rmse, y, pred) if self.regression else \
            score(Metric.log_loss, y, pred, n)
        return loss, score(self.plan.metric, y, pred, n)

    def valid_predictions(self) -> np.ndarray:
        """The best trial's predictions for the validation rows (for the comparison)."""
        net = build_net(self.config())
        net.load_state_dict(self.best.best_state)
        net.to(self.device)
        return self.outputs(net, self.make_set((self.valid_rows, None)), 64)

    def write(self, model_dir: Path) -> dict[str, Any]:
        """The winner's weights (tensors only) and its config into the bundle being
        staged (its table preparation is the bundle's pipeline); the metadata it adds."""
        from modelyard.storage.files import write_json_atomic

        self.torch.save(self.best.best_state, model_dir / "fusion.pt")
        write_json_atomic(model_dir / "fusion.json", self.config())
        return {"fusion": True, "family": FAMILY, "params": self.best.params,
                "epochs": self.best.epochs, "weights": self.best.weights}


class FusionModel:
    """A bundled fused network behind the `predict_proba`/`predict` a Predictor calls:
    it reads the table columns and the image paths of `X` (relative to `base`)."""

    def __init__(self, preprocessor, net, config: dict, features: list[str]):
        self.preprocessor, self.net, self.config = preprocessor, net, config
        self.features = features  # the table columns, in training order
        self.base: Path | None = None
        self.without_image = 0

    def _raw(self, X) -> np.ndarray:
        from modelyard.engine.intake.mixed import _Finder
        from modelyard.engine.mixed.embed import load_pixels

        torch, _ = require_torch()
        size = self.config["image_size"]
        finder = _Finder(Path(self.base), use_index=False)
        pixels, present = [], []
        for column in self.config["columns"]:
            cells = X[column].tolist() if column in X.columns else [None] * len(X)
            paths = [None if v is None or v != v else finder.find(v)[0] for v in cells]
            p, m = load_pixels(paths, size)
            self.without_image += int((~m).sum())
            pixels.append(p)
            present.append(m)
        data = FusionSet(np.stack(pixels) if pixels else np.zeros((0, len(X), 3, size, size),
                                                                  np.uint8),
                         np.stack(present) if present else np.zeros((0, len(X)), bool),
                         table_matrix(self.preprocessor, X[self.features]), None, size)
        out = []
        with torch.no_grad():
            for start in range(0, len(data), 64):
                items = [data[i][0] for i in range(start, min(len(data), start + 64))]
                batch = tuple(torch.stack([item[k] for item in items]) for k in range(3))
                out.append(self.net(batch).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config["outputs"]))

    def predict_proba(self, X) -> np.ndarray:
        raw = self._raw(X)
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self._raw(X)[:, 0] * self.config["y_std"] + self.config["y_mean"]


def load_model(model_dir: Path, meta: dict) -> FusionModel:
    """The bundled fused network (its manifest already checked by `Predictor.load`)."""
    from modelyard.engine.training.bundle import load_pipeline
    from modelyard.storage.files import read_json

    torch, _ = require_torch()
    config = read_json(Path(model_dir) / "fusion.json")
    net = build_net(config)
    net.load_state_dict(torch.load(Path(model_dir) / "fusion.pt", map_location="cpu",
                                   weights_only=True))
    net.eval()
    features = (meta["numeric"] + meta["categorical"] + meta.get("datetime", [])
                + meta.get("text", []))
    return FusionModel(load_pipeline(Path(model_dir) / "pipeline.joblib"), net, config,
                       features)
