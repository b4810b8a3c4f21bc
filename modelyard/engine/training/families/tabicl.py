"""TabICL: Inria's open pretrained transformer for tables, from a local checkpoint.

See `foundation.py` for what the foundation families share (weights, trust, limits). The
limits are the package's own words (tabicl 2.2.0's README): good "with 300 to 100,000
training samples and up to 2,000 features"; more than 10 classes are handled by its
hierarchical many-class mode, so no class limit. The package states one licence, BSD
3-Clause, and names no separate licence for the checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.engine.training.families.foundation import FoundationFamily

# Quoted from tabicl 2.2.0's package metadata and README.
LICENCE = ("weights licence: the tabicl package states only its own, BSD 3-Clause, "
           "and calls TabICL “open source … with a permissive license”; it names no "
           "separate licence for the checkpoint files")


class TabICL(FoundationFamily):
    name = "tabicl"
    library = "tabicl"
    title = "TabICL (pretrained, local weights)"
    summary = "an open transformer pretrained on synthetic tables; predicts in context"
    speed = "seconds with a GPU; minutes on a CPU for tens of thousands of rows"
    accuracy = "among the best on small and medium tables, with no tuning"
    why = "An open network pretrained on synthetic tables: good without any tuning."
    pros = ("strong on small and medium tables with no search at all",
            "open weights under a permissive licence")
    cons = ("needs its checkpoint in the weights folder (never downloaded)",
            "slow on a CPU for large tables")
    packages = ("tabicl",)
    max_rows = 100_000
    max_features = 2_000
    max_classes = None
    files = {"classifier": ("tabicl-classifier-v2*.ckpt", "tabicl-classifier-v1.1*.ckpt",
                            "tabicl-classifier-v1*.ckpt"),
             "regressor": ("tabicl-regressor-v2*.ckpt",)}
    suggested = {"classifier": "tabicl-classifier-v2-20260212.ckpt",
                 "regressor": "tabicl-regressor-v2-20260212.ckpt"}

    def licence(self, checkpoint: Path) -> str:
        return LICENCE
