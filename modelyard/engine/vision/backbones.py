"""Where the timm backbones' pretrained weights come from, and the networks themselves.
The backbones a Plan may choose are families in the registry
(`engine/training/families/images.py`), with their words and sizes.

Weights are never downloaded. They are loaded from `$MODELYARD_HOME/weights/<name>.*`
when such a file exists, else from an existing Hugging Face or torch hub cache, else the
network starts from random weights (and the Run says so).
"""

from __future__ import annotations

import os
from pathlib import Path

from modelyard.engine.vision import require_torch

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def local_weights_file(name: str, weights_dir: Path | None) -> Path | None:
    if weights_dir is None:
        return None
    for suffix in WEIGHT_SUFFIXES:
        candidate = Path(weights_dir) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def in_local_cache(name: str) -> bool:
    """Whether timm's pretrained weights for `name` already sit in a local cache."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return False
    hub = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    if cfg.hf_hub_id and (hub / f"models--{cfg.hf_hub_id.replace('/', '--')}").is_dir():
        return True
    torch_hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    url = cfg.url or ""
    return bool(url) and (torch_hub / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]).is_file()


def create(name: str, num_classes: int, weights_dir: Path | None = None):
    """The backbone with a fresh head for `num_classes`, and where its weights came from."""
    _, timm = require_torch()
    os.environ["HF_HUB_OFFLINE"] = "1"  # a cache hit must never turn into a download
    local = local_weights_file(name, weights_dir)
    if local is not None:
        model = timm.create_model(name, pretrained=True, num_classes=num_classes,
                                  pretrained_cfg_overlay={"file": str(local)})
        return model, f"pretrained weights from {local}"
    if in_local_cache(name):
        try:
            model = timm.create_model(name, pretrained=True, num_classes=num_classes)
            return model, "pretrained weights from the local cache"
        except Exception:  # a damaged cache: train from scratch, and say so
            pass
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    return model, "no pretrained weights found: trained from scratch"
