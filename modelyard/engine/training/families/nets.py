"""What RealMLP and TabM share: neural networks for tables from `pytabkit`, trained from
scratch (no weights to fetch), with torch on the GPU when there is one.

Availability. They need the `nets` extra (pytabkit and torch). Without it the families
stay registered (a Plan may name them, the registry describes them), but `unavailable()`
says why in words, the rule planner leaves them out, the workspace refuses a Plan that
names them before a worker starts, and a trial that meets the gap anyway fails with the
same sentence and the install command (a failed trial, not a crashed Run).

Validation. pytabkit holds out a fifth of the rows it is given to choose its best epoch
(RealMLP) or to stop early (TabM). The fold's own validation rows are not handed over:
the out-of-fold score then stays honest, and the refit on every row, which has no
validation fold, trains the same way as the folds did.

Deadline. A fit stops itself at the search deadline and raises `OutOfTime`, as the
boosters do: RealMLP through pytabkit's own time limit (Lightning's `max_time`, checked
after every batch), TabM through the progress log its training loop writes after every
epoch (`nets_model.py`); and the import of pytabkit, torch and Lightning on a first
trial (96 s here under heavy load) is waited for only until the deadline. So the trainer
fits them in-process; a guarded fit (in a child process, for memory) is still killed at
the budget's end like any other.

Threads: pytabkit sets torch's thread count to the trial's `n_jobs` for a fit and a
prediction and puts it back afterwards, so a trial never takes more cores than given.

Whether the rule planner includes them, and on what sizes: `planning/nets_rule.py`
decides, from measurements (bench/RESULTS.md, "Neural networks for tables"): on a CPU
they are left out (30-360 times LightGBM's CPU time for a small gain), so they cannot
starve the boosters; with a GPU they come in where the budget has room (the GPU path,
device "cuda:0" and TabM's mixed precision, is written but unmeasured: no GPU was lent).
"""

from __future__ import annotations

from typing import Any, ClassVar

from modelyard.engine.training.families.base import FitContext, ModelFamily, columns

EXTRA = "nets"
INSTALL_HINT = "Install the nets extra: pip install 'modelyard[nets]' (pytabkit + torch)."

# With a GPU the rule planner adds the networks only where a default cross-validation of
# each takes at most this share of the budget (`planning/nets_rule.py`): the boosters
# keep most of a short budget.
PLANNER_SHARE = 0.25


def unavailable() -> str | None:
    """Why the networks cannot train here, in words; None when they can."""
    from modelyard.engine import extras

    gone = extras.missing(EXTRA)
    if not gone:
        return None
    return (f"RealMLP and TabM need {' and '.join(gone)}, which "
            f"{'is' if len(gone) == 1 else 'are'} not installed.")


def device() -> str:
    """Where a network trains: the first CUDA GPU when torch sees one, else the CPU."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


class TableNet(ModelFamily):
    offered_on_cpu = False  # see planning/nets_rule.py
    """A pytabkit network for tables: its preparation, deadline, memory and words."""

    # Numbers as floats and categories as pandas categories: the network embeds or
    # one-hot encodes the categories itself (`nets_model.NetModel` fills the gaps).
    preprocessing = "native"
    extra: ClassVar[str] = EXTRA
    install_hint: ClassVar[str] = INSTALL_HINT
    interpretability = "low: a network of many learned weights"
    memory = "moderate; the weights and a batch's activations"
    flexible = True
    packages = ("pytabkit", "torch")
    # One fit trains a fixed number of epochs (or stops early), each a pass over the rows.
    time_exponent = 1.0
    # The library's estimator names: (classifier, regressor).
    estimators: ClassVar[tuple[str, str]]

    def unavailable(self, task=None) -> str | None:
        return unavailable()

    def pros_cons(self, profile):
        pros, cons = list(self.pros), list(self.cons)
        if profile.n_rows < 1000:
            cons.append(f"a small table ({profile.n_rows} rows) gives a network little "
                        "to learn from")
        return pros[:3], cons[:3]

    def own_importance(self, model):
        return None  # a network has no importance of its own (permutation is used)

    def fit_params(self, deadline: float | None, valid=None, until: float | None = None
                   ) -> dict:
        return {} if deadline is None else {"deadline": deadline}

    def library_params(self, params: dict[str, Any], ctx: FitContext) -> dict[str, Any]:
        """The estimator's own arguments for the searched `params`."""
        raise NotImplementedError

    def weights(self, params: dict[str, Any], ctx: FitContext, n_inputs: int) -> int:
        """About how many weights the network has."""
        raise NotImplementedError

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The data and its float32 copies (ours, pytabkit's tensors, the transformed
        # inputs); the weights with their gradients and Adam's two moments (4 copies);
        # torch itself (~300 MB resident once imported).
        weights = self.weights(params, ctx, columns(ctx, data_bytes))
        return 4 * data_bytes + 16 * weights + 300 * 2**20

    def build(self, params: dict, ctx: FitContext):
        reason = self.unavailable()
        if reason:
            from modelyard.engine.errors import BadInputError

            raise BadInputError(reason, INSTALL_HINT)
        from modelyard.engine.training.families.nets_model import NetModel

        classifier, regressor = self.estimators
        return NetModel(estimator=classifier if ctx.task.is_classification else regressor,
                        params=self.library_params(params, ctx), n_threads=ctx.n_jobs,
                        seed=ctx.seed)
