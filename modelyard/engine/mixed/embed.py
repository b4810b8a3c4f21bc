"""An image column becomes numeric columns the table families can use: the predictions of
a timm backbone (resnet18 on a CPU) trained on the run's images against the target.

Policy and its trade-offs:

- **Out of fold, so nothing leaks.** For each validation split of the Run, a network is
  trained on that split's training rows only and predicts its validation rows; stitched
  together, every row's image columns come from a network that never saw that row's
  target. The table search then runs on those columns with the same splits (stacking, as
  scikit-learn's `StackingClassifier` does with `cross_val_predict`). The final network,
  trained on every row, gives the columns of new rows.
- **Predictions, not the penultimate layer.** Networks trained on different rows learn
  different, unaligned embedding spaces: a column "dimension 17" would mean something else
  in each fold. Their class probabilities (binary: the second class's; regression: the
  predicted value) mean the same thing whichever rows trained them, so a model fitted on
  one fold's columns reads another's correctly. They are few columns, too (what a booster
  wants beside a small table).
- **At most three networks out of fold.** A Run validated on five folds would train six
  networks; the image columns use three folds of their own (each row still gets its
  columns from a network that never saw it), so each network gets more of the time.
- **Plain colour statistics too.** Each image also gives the mean and spread of its red,
  green and blue values: no training, nothing to leak, and on a busy CPU (resnet18 ran
  ~1.7 s a batch of 32 at 32 pixels here with the load at 7 on 2 cores) they carry what
  an undertrained network has not learnt yet.
- **Pretrained only from a local file.** `$MODELYARD_HOME/weights/resnet18.*` starts every
  network from those weights (as the image trainer does); else it starts from random
  weights, which brief training on small, plain images (shapes, colours, scans) handles.
- **A share of the budget.** The networks get `IMAGE_SHARE` of the Run's time, split
  evenly among the folds' networks and the final one; each trains epoch by epoch, its
  learning rate on a cosine over its time, until its time or `MAX_EPOCHS` is used.
- Images are decoded once and kept in memory as uint8 at the network's side: their typical
  size to the nearest 16 pixels, 32 to 64 on a CPU (resnet18 costs ~4x more at 64 than
  at 32; beside a table, an image usually adds its colours and coarse shapes). 10,000
  rows at 64 pixels take ~120 MB.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelyard.engine.vision import require_torch
from modelyard.engine.vision.data import MEAN, STD, load_image
from modelyard.schemas import Task

BACKBONE = "resnet18"
IMAGE_SHARE = 0.4
MAX_EPOCHS = 40
BATCH = 32


def side(median_width: float, median_height: float, on_gpu: bool = False) -> int:
    """The square side the networks see (see the policy above)."""
    typical = max(median_width, median_height)
    return int(np.clip(round(typical / 16) * 16, 32, 128 if on_gpu else 64))


def column_names(column: str, width: int) -> list[str]:
    """The numeric columns that stand for image column `column`."""
    return [f"{column}__image{i}" for i in range(width)]


STATS = ("red_mean", "green_mean", "blue_mean", "red_spread", "green_spread",
         "blue_spread")
IMAGE_FOLDS = 3


def stat_names(column: str) -> list[str]:
    """The colour-statistic columns of image column `column`."""
    return [f"{column}__{s}" for s in STATS]


def colour_stats(pixels: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Each image's mean and standard deviation per colour, 0..1 (missing without image)."""
    values = pixels.reshape(len(pixels), 3, -1).astype(np.float32) / 255
    out = np.concatenate([values.mean(axis=2), values.std(axis=2)], axis=1).astype(float)
    out[~present] = np.nan
    return out


def image_splits(splits, y: np.ndarray, task: Task, seed: int):
    """The Run's splits when there are at most IMAGE_FOLDS, else IMAGE_FOLDS folds of
    the same rows (stratified for classes)."""
    if len(splits) <= IMAGE_FOLDS:
        return splits
    from sklearn.model_selection import KFold, StratifiedKFold

    rows = np.arange(len(y))
    folds = (StratifiedKFold(IMAGE_FOLDS, shuffle=True, random_state=seed)
             if task.is_classification and np.bincount(y).min() >= IMAGE_FOLDS
             else KFold(IMAGE_FOLDS, shuffle=True, random_state=seed))
    return list(folds.split(rows, y if task.is_classification else None))


def output_width(task: Task, n_classes: int) -> int:
    """How many columns an image column becomes: 1 for binary and regression."""
    return n_classes if task.is_classification and n_classes > 2 else 1


def load_pixels(paths: list[Path | None], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(images as uint8 N×3×S×S, which rows have one); a row without an image is zeros."""
    pixels = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    present = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        if path is None:
            continue
        try:
            pixels[i] = load_image(path, size).transpose(2, 0, 1)
            present[i] = True
        except OSError:  # checked at intake; a file damaged since is a row without image
            continue
    return pixels, present


@dataclass
class Network:
    """One trained image network: its weights (tensors only) and how to use it."""

    state: dict
    config: dict
    weights: str  # where its starting weights came from, in words


class ImageNetworks:
    """Trains and applies the image networks of one Run (see the module's policy)."""

    def __init__(self, task: Task, n_classes: int, size: int, seed: int, threads: int,
                 weights_dir: Path | None):
        torch, _ = require_torch()
        torch.set_num_threads(max(1, threads))
        self.torch = torch
        self.task, self.n_classes, self.size, self.seed = task, n_classes, size, seed
        self.weights_dir = weights_dir
        self.width = output_width(task, n_classes)

    def _outputs(self) -> int:
        return self.n_classes if self.task.is_classification else 1

    def _batch(self, pixels: np.ndarray, augment: bool):
        torch = self.torch
        x = torch.from_numpy(pixels).float().div_(255)
        if augment:  # a horizontal flip for half the batch: cheap and shape-preserving
            flip = torch.rand(len(x)) < 0.5
            x[flip] = x[flip].flip(-1)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def train(self, pixels: np.ndarray, y: np.ndarray, deadline: float) -> Network:
        """A network trained on `pixels` against `y` until `deadline` (one epoch at least)."""
        from modelyard.engine.vision.backbones import create

        torch = self.torch
        torch.manual_seed(self.seed)
        net, weights = create(BACKBONE, self._outputs(), self.weights_dir)
        regression = not self.task.is_classification
        y_mean = float(np.mean(y)) if regression else 0.0
        y_std = float(np.std(y) or 1.0) if regression else 1.0
        target = (torch.tensor((y - y_mean) / y_std, dtype=torch.float32) if regression
                  else torch.tensor(y, dtype=torch.long))
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
        began = time.time()
        span = max(1.0, deadline - began)
        rng = np.random.default_rng(self.seed)
        net.train()
        epochs = 0
        while epochs < MAX_EPOCHS:
            epochs += 1
            order = rng.permutation(len(pixels))
            for start in range(0, len(order), BATCH):
                rows = order[start:start + BATCH]
                if len(rows) < 2:  # batch norm needs two rows
                    continue
                progress = min(1.0, (time.time() - began) / span)
                for group in optimizer.param_groups:
                    group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * progress))
                out = net(self._batch(pixels[rows], augment=True))
                loss = (torch.nn.functional.mse_loss(out[:, 0], target[rows]) if regression
                        else torch.nn.functional.cross_entropy(out, target[rows]))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if time.time() >= deadline:  # a network's time is its own, not rounded up
                    break
            if time.time() >= deadline:
                break
        config = {"backbone": BACKBONE, "num_classes": self._outputs(),
                  "image_size": self.size, "mean": list(MEAN), "std": list(STD),
                  "task": self.task.value, "width": self.width, "y_mean": y_mean,
                  "y_std": y_std, "epochs": epochs}
        state = {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}
        return Network(state, config, weights)

    def columns(self, network: Network, pixels: np.ndarray) -> np.ndarray:
        """The image columns (N × width) that `network` gives `pixels`."""
        return apply(self.torch, load_state(self.torch, network.config, network.state),
                     network.config, pixels)

    def out_of_fold(self, pixels: np.ndarray, present: np.ndarray, y: np.ndarray,
                    splits, deadline: float) -> np.ndarray:
        """Each row's columns from the network of the split that held it out (missing for
        rows without an image), training one network per split until `deadline`."""
        out = np.full((len(pixels), self.width), np.nan)
        for i, (train_idx, valid_idx) in enumerate(splits):
            fit = train_idx[present[train_idx]]
            use = valid_idx[present[valid_idx]]
            share = (deadline - time.time()) / (len(splits) - i)
            network = self.train(pixels[fit], y[fit], time.time() + share)
            out[use] = self.columns(network, pixels[use])
        return out


def load_state(torch, config: dict, state: dict):
    """The timm network `config` names with the weights `state`, set to evaluate."""
    import timm

    net = timm.create_model(config["backbone"], pretrained=False,
                            num_classes=config["num_classes"])
    net.load_state_dict(state)
    net.eval()
    return net


def apply(torch, net, config: dict, pixels: np.ndarray) -> np.ndarray:
    """The image columns a loaded network gives uint8 `pixels` (N×3×S×S)."""
    mean = torch.tensor(config["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(config["std"]).view(1, 3, 1, 1)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(pixels), 128):
            x = (torch.from_numpy(pixels[start:start + 128]).float().div(255) - mean) / std
            out = net(x).float()
            if config["task"] in ("binary", "multiclass"):
                proba = torch.softmax(out, dim=1).numpy().astype(np.float64)
                chunks.append(proba[:, 1:2] if config["width"] == 1 else proba)
            else:
                chunks.append(out[:, :1].numpy() * config["y_std"] + config["y_mean"])
    return np.concatenate(chunks) if chunks else np.zeros((0, config["width"]))
