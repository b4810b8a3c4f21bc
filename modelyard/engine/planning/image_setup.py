"""What an image Plan does on this machine, for its card: the side the images are resized
to and where each backbone's starting weights come from. The Plan holds neither: both
follow from the images and from what is on disk (weights are found, never downloaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from modelyard.engine.errors import BadInputError
from modelyard.engine.system import gpus
from modelyard.engine.vision.data import image_size
from modelyard.schemas import Plan

SCRATCH = "no pretrained weights found: it trains from scratch"


@dataclass(frozen=True)
class ImageSetup:
    size: int  # side of the square every image is resized to, in pixels
    on_gpu: bool | None  # None: not known (a finished Run's bundle does not say)
    weights: dict[str, str] = field(default_factory=dict)  # backbone → its starting weights
    typical_side: float | None = None  # the images' median longer side, in pixels
    weights_dir: Path | None = None  # where a person may put weights by hand

    @property
    def from_scratch(self) -> list[str]:
        return [name for name, where in self.weights.items() if "scratch" in where]


def weights_source(name: str, weights_dir: Path | None) -> str:
    """Where `name`'s pretrained weights would come from, as the trainer looks for them."""
    # The trainer's own look-up (engine/vision/backbones.create), without loading anything.
    from modelyard.engine.vision.backbones import in_local_cache, local_weights_file

    local = local_weights_file(name, weights_dir)
    if local is not None:
        return f"pretrained weights found in {local}"
    try:
        cached = in_local_cache(name)
    except (ImportError, BadInputError):  # no timm: the run will say how to install it
        return "cannot tell: PyTorch and timm are not installed"
    except Exception:  # a name timm does not know, a cache it cannot read
        cached = False
    return "pretrained weights found in the local cache" if cached else SCRATCH


def image_setup(plan: Plan, dataset_dir: Path, weights_dir: Path | None) -> ImageSetup:
    """The image size and starting weights an image Plan's run will use here."""
    from modelyard.engine.training import families

    path = dataset_dir / "manifest.parquet"
    if "width" not in pl.read_parquet_schema(path):
        # A sound set: the backbones see spectrograms of N_MELS bands (engine/audio).
        from modelyard.engine.audio.features import N_MELS

        on_gpu = bool(gpus())
        return ImageSetup(size=N_MELS, on_gpu=on_gpu,
                          weights={f.family: weights_source(f.family, weights_dir)
                                   for f in plan.families if families.is_image(f.family)},
                          typical_side=None, weights_dir=weights_dir)
    manifest = pl.read_parquet(path, columns=["label", "width", "height"]).drop_nulls("label")
    widths, heights = manifest["width"].to_numpy(), manifest["height"].to_numpy()
    on_gpu = bool(gpus())
    typical = float(np.median(np.maximum(widths, heights))) if len(widths) else None
    return ImageSetup(size=image_size(widths, heights, on_gpu), on_gpu=on_gpu,
                      weights={f.family: weights_source(f.family, weights_dir)
                               for f in plan.families},
                      typical_side=typical, weights_dir=weights_dir)


def bundle_setup(meta: dict, hardware: dict | None = None,
                 weights_dir: Path | None = None) -> ImageSetup:
    """What a finished image Run used, from its Model bundle's metadata and the machine
    its run record names."""
    return ImageSetup(size=int(meta.get("image_size") or 0),
                      on_gpu=bool(hardware.get("gpus")) if hardware else None,
                      weights={meta.get("family", ""): meta.get("weights", "")},
                      weights_dir=weights_dir)
