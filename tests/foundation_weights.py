"""Tiny TabPFN and TabICL checkpoints for the tests: each library's own network classes
at a tiny size with random weights, saved in exactly the format its loader reads. They
predict nonsense; they prove that the loading, fitting and predicting code works."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

TABICL_FILES = {"classifier": "tabicl-classifier-v2-20260212.ckpt",
                "regressor": "tabicl-regressor-v2-20260212.ckpt"}
TABPFN_FILES = {"classifier": "tabpfn-v2-classifier.ckpt",
                "regressor": "tabpfn-v2-regressor.ckpt"}
_BUILT: dict[str, Path] = {}


def _build(folder: Path) -> None:
    import torch
    from tabicl._model.tabicl import TabICL
    from tabpfn.architectures import tabpfn_v2
    from tabpfn.architectures.shared.bar_distribution import FullSupportBarDistribution

    torch.manual_seed(0)
    for kind, classes in (("classifier", 10), ("regressor", 0)):
        # TabICL's checkpoint: {"config": the constructor's arguments, "state_dict": ...}.
        config = dict(max_classes=classes, embed_dim=8, col_num_blocks=1, col_nhead=2,
                      col_num_inds=4, row_num_blocks=1, row_nhead=2, row_num_cls=2,
                      icl_num_blocks=1, icl_nhead=2, ff_factor=1)
        torch.save({"config": config, "state_dict": TabICL(**config).state_dict()},
                   folder / TABICL_FILES[kind])
        # TabPFN-2's: {"config": the architecture config, "state_dict": the network's,
        # plus the regression bar distribution as "criterion.*"}.
        arch = tabpfn_v2.TabPFNV2Config(emsize=8, nlayers=1, nhead=2,
                                        max_num_classes=classes, num_buckets=32)
        state = dict(tabpfn_v2.get_architecture(arch).state_dict())
        if kind == "regressor":
            bars = FullSupportBarDistribution(torch.linspace(-3, 3, 33),
                                              ignore_nan_targets=True)
            state |= {f"criterion.{k}": v for k, v in bars.state_dict().items()}
        torch.save({"config": asdict(arch), "state_dict": state},
                   folder / TABPFN_FILES[kind])


def put_tiny_weights(weights: Path, tmp_root: Path, only: tuple[str, ...] = ()) -> Path:
    """Copy the tiny checkpoints (all, or those named in `only`) into `weights`; built
    once per test process under `tmp_root`."""
    if "dir" not in _BUILT or not _BUILT["dir"].is_dir():
        folder = tmp_root / "tiny-foundation-weights"
        folder.mkdir(parents=True, exist_ok=True)
        _build(folder)
        _BUILT["dir"] = folder
    weights.mkdir(parents=True, exist_ok=True)
    for path in _BUILT["dir"].iterdir():
        if not only or path.name in only:
            shutil.copy(path, weights / path.name)
    return weights
