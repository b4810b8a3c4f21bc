"""TabPFN: Prior Labs' pretrained transformer for small tables, from a local checkpoint.

See `foundation.py` for what the foundation families share (weights, trust, limits). The
limits are the package's own (`tabpfn.inference_config`): TabPFN-2 checkpoints were
pretrained for up to 10,000 rows and 500 features, later ones (2.5 and after) for up to
50,000 rows and 2,000; both for at most 10 classes. The weights' licence depends on the
version and is quoted from the package's README (tabpfn 9.2.0), distinct from the code's
Apache 2.0.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.engine.training.families.foundation import FoundationFamily
from modelyard.schemas import Task

# Quoted from tabpfn 9.2.0's README ("License"): the code is Apache 2.0; the weights are not.
V2_LICENCE = ("weights licence, as the tabpfn package states it: the Prior Labs License "
              "(Apache 2.0 with an additional attribution requirement)")
LATER_LICENCE = ("weights licence, as the tabpfn package states it: non-commercial (read "
                 "the licence that came with the file before any commercial use)")
V2_ROWS, V2_FEATURES = 10_000, 500


class TabPFN(FoundationFamily):
    name = "tabpfn"
    library = "tabpfn"
    title = "TabPFN (pretrained, local weights)"
    summary = "a transformer pretrained on millions of synthetic tables; predicts in context"
    speed = "seconds on small tables with a GPU; slow on a CPU beyond a few thousand rows"
    accuracy = "among the best on small tables, with no tuning"
    why = ("A network pretrained on synthetic tables that predicts small tables well "
           "without any tuning.")
    pros = ("strong on small tables with no search at all",
            "copes with missing values and few rows")
    cons = ("needs its checkpoint in the weights folder (never downloaded)",
            "slow on a CPU, and limited to smaller tables")
    packages = ("tabpfn",)
    # The largest any checkpoint was pretrained for; a TabPFN-2 file allows less
    # (`out_of_limits`).
    max_rows = 50_000
    max_features = 2_000
    max_classes = 10
    # Official file names (the package's `ModelSource` lists), classifier or regressor;
    # from TabPFN-3.5 on one file carries both heads.
    files = {"classifier": ("tabpfn-v*-classifier*.ckpt", "tabpfn-v*-classifier*.safetensors",
                            "tabpfn-v3.5*.safetensors"),
             "regressor": ("tabpfn-v*-regressor*.ckpt", "tabpfn-v*-regressor*.safetensors",
                           "tabpfn-v3.5*.safetensors")}
    suggested = {"classifier": "tabpfn-v2-classifier.ckpt",
                 "regressor": "tabpfn-v2-regressor.ckpt"}

    def licence(self, checkpoint: Path) -> str:
        return V2_LICENCE if _is_v2(checkpoint) else LATER_LICENCE

    def out_of_limits(self, task: Task, n_rows: int, n_features: int, n_classes: int
                      ) -> str | None:
        path = self.checkpoint(task)
        if path is not None and _is_v2(path):
            if n_rows > V2_ROWS:
                return (f"{path.name} was pretrained for tables of up to {V2_ROWS:,} rows; "
                        f"this one has {n_rows:,}")
            if n_features > V2_FEATURES:
                return (f"{path.name} was pretrained for up to {V2_FEATURES} columns; this "
                        f"table has {n_features:,}")
        return super().out_of_limits(task, n_rows, n_features, n_classes)


def _is_v2(path: Path) -> bool:
    """A TabPFN-2 file, as the package tells versions apart: by the name."""
    return not any(tag in path.name for tag in ("v2.5", "v2.6", "v3"))
