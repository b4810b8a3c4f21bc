"""The late-fusion network for tables that carry images (`engine/mixed/fusion.py`): a
family a Plan names like any other, fitted by the fused image search, not by the table
trainer, so `build` returns the network. torch and timm are imported only inside `build`.
"""

from __future__ import annotations

from typing import Any

from modelyard.engine.training.families.base import FitContext, ModelFamily, Space
from modelyard.engine.training.families.images import NETWORK_DEFAULTS, network_space


class LateFusion(ModelFamily):
    name = "fusion"
    modality = "mixed"  # a table whose rows point at images
    preprocessing = "scaled"  # its table branch reads the columns as the scaled families do
    takes_limits = False  # the fused search tries its own fixed ranges, as images do
    title = "Late-fusion network"
    summary = ("an image network per image column and a small network on the table's "
               "columns, trained together; slow without a GPU")
    speed = "slow on a CPU (minutes for a few hundred rows); fast with a GPU"
    accuracy = "can beat image features fed to table models, given a GPU and many rows"
    interpretability = "low: a network of millions of weights"
    memory = "moderate; a GPU's memory with large images"
    why = ("Learns from the images and the table's columns at once; worth it with a GPU, "
           "slow without one.")
    pros = ("learns what in the images matters next to the table's columns",
            "uses pretrained image weights when they are in the weights folder")
    cons = ("slow without a GPU: on a CPU it rarely beats the image features fed to the "
            "table models in the same time",
            "scored on one validation split, not cross-validated")
    params_m = 11.7  # resnet18 on a CPU; efficientnet_b0 (5.3) with a GPU

    def search_space(self, ctx: FitContext) -> Space:
        return network_space()

    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        return dict(NETWORK_DEFAULTS)

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.mixed.fusion import build_net

        return build_net({"backbone": "resnet18", "columns": ["image"], "table_width": 0,
                          "outputs": max(1, ctx.n_classes)})
