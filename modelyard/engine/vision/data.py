"""Images from a dataset's manifest as tensors: decoded once, resized, kept in memory
when they fit; augmentation whose strength is a searched number."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelyard.engine.vision import require_torch

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Decoded images kept in memory up to this many bytes; beyond, read per batch.
CACHE_BYTES = 2 * 2**30


def image_size(widths: np.ndarray, heights: np.ndarray, on_gpu: bool) -> int:
    """Side of the square the network sees: the data's typical size rounded up to a
    multiple of 32, at least 32, at most 224 on a GPU and 96 on a CPU."""
    typical = float(np.median(np.maximum(widths, heights))) if len(widths) else 64.0
    side = int(np.ceil(typical / 32) * 32)
    return int(min(max(side, 32), 224 if on_gpu else 96))


def load_image(path: Path, size: int) -> np.ndarray:
    """One image as uint8 HxWx3 at `size`×`size` (grey and alpha become RGB)."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return np.array(img, dtype=np.uint8)  # a writable copy: torch shares its memory


class ImageSet:
    """A torch Dataset over image files, caching decoded images when they fit."""

    def __init__(self, paths: list[Path], labels: np.ndarray | None, size: int,
                 augment: float = 0.0, train: bool = False):
        torch, _ = require_torch()
        self.paths = paths
        self.labels = labels
        self.size = size
        self.transform = make_transform(size, augment if train else 0.0)
        self._cache: dict[int, np.ndarray] | None = (
            {} if len(paths) * size * size * 3 <= CACHE_BYTES else None)
        self._torch = torch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        if self._cache is not None and i in self._cache:
            array = self._cache[i]
        else:
            array = load_image(self.paths[i], self.size)
            if self._cache is not None:
                self._cache[i] = array
        x = self.transform(self._torch.from_numpy(array).permute(2, 0, 1))
        y = -1 if self.labels is None else int(self.labels[i])
        return x, y


def make_transform(size: int, augment: float):
    """uint8 CHW tensor → normalised float tensor; random crops, flips and colour
    changes that grow with `augment` (0 = none, 1 = strong)."""
    torch, _ = require_torch()
    from torchvision.transforms import v2

    steps = []
    if augment > 0:
        steps += [
            v2.RandomResizedCrop(size, scale=(1.0 - 0.5 * augment, 1.0), antialias=True),
            v2.RandomHorizontalFlip(p=0.5 * augment),
            v2.ColorJitter(brightness=0.3 * augment, contrast=0.3 * augment),
        ]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)]
    return v2.Compose(steps)
