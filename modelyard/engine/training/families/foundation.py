"""Tabular foundation models (TabPFN, TabICL): pretrained networks that predict a table
"in context", from local checkpoint files only.

Weights. A family is available for a task only when its library imports and one of its
checkpoint files for that task lies in `$MODELYARD_HOME/weights/` (named as the library
names them, e.g. `tabpfn-v2-classifier.ckpt`); otherwise it is unavailable and the reason
names the file and the folder. Nothing is ever downloaded: the estimator gets the
checkpoint's full path, the library's download switches are off, and `HF_HUB_OFFLINE=1`
is set before the library is imported (`foundation_model.py`).

Trust. A checkpoint is untrusted input: it is read as tensors only (safetensors, or
`torch.load(..., weights_only=True)`) before the library sees it; a damaged or foreign
file fails that trial with a message naming the file and the next step, and the run goes
on with the other families.

Limits. Each family states the table sizes its pretraining covers (rows, features,
classes, from the library's own documentation). Above them the family is left out, with
the reason in words (the rule planner leaves it out; the plan check refuses a plan that
names it): no subsampling, so a score is never of a model that saw part of the data.

Search. None: these models are not trained, they read the training rows as context, so
one configuration (the library's defaults) is one trial. Their time grows with the
square of the rows (attention across rows), which the trainer's estimate on a sample
uses; a fit cannot be stopped midway, so the trainer guards long ones in a child process
killed at the deadline, as for any family without a deadline hook.

GPU. The library's estimator runs on CUDA when `torch.cuda.is_available()` (with its own
mixed precision there), else on the CPU. Only the CPU path is measured here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from modelyard.engine.training.families.base import FitContext, ModelFamily, Space
from modelyard.schemas import ColumnKind, Profile, Task

_UNUSED = (ColumnKind.id, ColumnKind.constant)


def weights_dir() -> Path:
    """`$MODELYARD_HOME/weights` (the worker sets MODELYARD_HOME to its Run's home)."""
    from modelyard.storage.paths import DEFAULT_HOME

    raw = os.environ.get("MODELYARD_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve() / "weights"


def importable(module: str) -> bool:
    """Whether `module` can be imported here, without importing it."""
    from importlib.util import find_spec

    return find_spec(module) is not None


class FoundationFamily(ModelFamily):
    """What TabPFN and TabICL share: local checkpoints, limits, no search."""

    preprocessing = "ordinal"  # numbers as they are, missing left missing, category codes
    takes_limits = False  # nothing is searched, so a review has nothing to limit
    flexible = False
    time_exponent = 2.0
    memory = "large: the network and attention over all training rows"
    interpretability = "low: a pretrained network"
    hold_back_words = "nothing: it is not trained on the rows, it reads them"
    library: ClassVar[str]  # the import name of the library
    # Checkpoint file names per task, most preferred first (globs in the weights folder).
    files: ClassVar[dict[str, tuple[str, ...]]]
    suggested: ClassVar[dict[str, str]]  # the file to ask for, per task kind
    max_features: ClassVar[int]
    max_classes: ClassVar[int | None]

    # -- availability ------------------------------------------------------------------
    def checkpoint(self, task: Task, folder: Path | None = None) -> Path | None:
        """The checkpoint file for `task` in the weights folder, or None."""
        folder = folder if folder is not None else weights_dir()
        if not folder.is_dir():
            return None
        for pattern in self.files[_kind(task)]:
            found = sorted(p for p in folder.glob(pattern) if p.is_file())
            if found:
                return found[-1]  # the newest version when several are there
        return None

    def unavailable(self, task: Task, folder: Path | None = None) -> str | None:
        if task not in (Task.binary, Task.multiclass, Task.regression):
            return f"{self.title} predicts classes or numbers only"
        if not importable(self.library):
            return (f"{self.title} needs the “{self.library}” package: install Modelyard "
                    "with the foundation extra (pip install 'modelyard[foundation]')")
        if self.checkpoint(task, folder) is None:
            where = folder if folder is not None else weights_dir()
            return (f"{self.title} needs its pretrained weights, which are never "
                    f"downloaded: put {self.suggested[_kind(task)]} in {where}")
        return None

    def out_of_limits(self, task: Task, n_rows: int, n_features: int, n_classes: int
                      ) -> str | None:
        """Why a table of this size is beyond what the model was pretrained for, or None."""
        if self.max_rows is not None and n_rows > self.max_rows:
            return (f"{self.title} was pretrained for tables of up to {self.max_rows:,} "
                    f"rows; this one has {n_rows:,}")
        if n_features > self.max_features:
            return (f"{self.title} was pretrained for up to {self.max_features:,} "
                    f"columns; this table has {n_features:,}")
        if self.max_classes is not None and n_classes > self.max_classes:
            return (f"{self.title} predicts at most {self.max_classes} classes; this "
                    f"target has {n_classes}")
        return None

    def fits_table(self, profile: Profile, target: str, task: Task) -> str | None:
        """Why this family cannot run on this table here, or None when it can."""
        reason = self.unavailable(task)
        if reason:
            return reason
        features = sum(c.name != target and c.kind not in _UNUSED for c in profile.columns)
        classes = (profile.column(target).n_distinct
                   if task.is_classification and target in profile.column_names else 0)
        return self.out_of_limits(task, profile.n_rows, features, classes)

    def licence(self, checkpoint: Path) -> str:
        """The weights' licence, as the installed package states it."""
        raise NotImplementedError

    def run_note(self, task: Task) -> str | None:
        path = self.checkpoint(task)
        if path is None:
            return None
        return f"{self.title} uses the pretrained checkpoint {path} ({self.licence(path)})"

    def plan_reason(self, task: Task) -> str:
        """The plan's reason to choose it: what it is, the file it reads, its licence."""
        path = self.checkpoint(task)
        return (f"{self.why} Weights: {path.name} from the weights folder, never "
                f"downloaded; {self.licence(path)}." if path else self.why)

    # -- the family contract -----------------------------------------------------------
    def search_space(self, ctx: FitContext) -> Space:
        return {}

    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        return {}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The checkpoint held a few times over (read, built, copied to the device), and
        # per ensemble member the attention's activations, about rows x columns x width.
        path = self.checkpoint(ctx.task)
        weights = path.stat().st_size if path is not None else 100 * 2**20
        cols = max(1, data_bytes // max(1, 8 * ctx.n_rows))
        return 3 * weights + 8 * data_bytes + 8 * ctx.n_rows * cols * 192 * 4

    def build(self, params: dict[str, Any], ctx: FitContext):
        from modelyard.engine.training.families.foundation_model import FoundationModel

        path = self.checkpoint(ctx.task)
        if path is None:
            from modelyard.engine.training.families.foundation_model import CheckpointError

            raise CheckpointError(self.unavailable(ctx.task) or f"{self.title} has no "
                                  "checkpoint", "")
        return FoundationModel(self.library, str(path), ctx.task.is_classification,
                               threads=ctx.n_jobs, seed=ctx.seed)


def _kind(task: Task) -> str:
    return "classifier" if task.is_classification else "regressor"
