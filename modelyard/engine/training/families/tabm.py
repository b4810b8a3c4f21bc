"""TabM (Gorishniy et al., 2025): one multi-layer perceptron that trains k = 32 light
copies of itself at once (shared weights, each copy with its own scalings) and averages
them, through pytabkit's TabM-D.

Defaults are pytabkit's TabM-D ones (from the TabM authors' example), except for
classification, where early stopping watches cross-entropy rather than the error rate:
our classification plans score probabilities (log loss, ROC AUC). It stops after 16
epochs without improvement on the fifth of the rows pytabkit holds out. The search
space is a small one around the defaults, after the TabM paper's: learning rate,
dropout, weight decay, width and depth.

Deadline, availability and the planner's choice: see `nets.py`.
"""

from __future__ import annotations

from modelyard.engine.training.families.base import Choice, FitContext, Float, Int, Space
from modelyard.engine.training.families.nets import TableNet

K = 32  # TabM's copies: the authors' default, and what the speed measurements used


class TabM(TableNet):
    name = "tabm"
    estimators = ("TabM_D_Classifier", "TabM_D_Regressor")
    title = "TabM (neural network ensemble)"
    summary = "a neural network that trains 32 light copies of itself at once (pytabkit)"
    speed = "slow on a CPU; fast on a GPU"
    accuracy = "among the best on tables, above all with a GPU"
    why = ("A neural network for tables that averages many light copies of itself: "
           "strong at its defaults, and different enough from trees to help an ensemble.")
    pros = ("accurate at its defaults, an ensemble in one network",
            "learns differently from trees, which helps an ensemble")
    cons = ("slow to train on a CPU", "hard to explain")
    hold_back = {"dropout": "at least", "weight_decay": "at least", "n_blocks": "at most"}
    hold_back_words = ("more dropout, a stronger weight decay and fewer or narrower "
                       "layers (n_blocks, d_block)")

    def search_space(self, ctx: FitContext) -> Space:
        return {"lr": Float(3e-4, 5e-3, log=True), "dropout": Float(0.0, 0.4),
                "weight_decay": Float(1e-6, 0.1, log=True), "d_block": Choice((256, 512, 1024)),
                "n_blocks": Int(1, 4)}

    def default_params(self, ctx: FitContext) -> dict:
        # weight_decay 1e-6: TabM's 0 within the log-scale space.
        return {"lr": 2e-3, "dropout": 0.1, "weight_decay": 1e-6, "d_block": 512,
                "n_blocks": 3}

    def library_params(self, params: dict, ctx: FitContext) -> dict:
        out = {k: params[k] for k in ("lr", "dropout", "weight_decay", "d_block",
                                      "n_blocks")} | {"tabm_k": K}
        if ctx.task.is_classification:
            out["val_metric_name"] = "cross_entropy"
        return out

    def weights(self, params: dict, ctx: FitContext, n_inputs: int) -> int:
        width, depth = params.get("d_block", 512), params.get("n_blocks", 3)
        shared = n_inputs * width + (depth - 1) * width * width
        # Each copy's own scalings of every layer's inputs and outputs, and its head.
        return shared + K * (2 * width * depth + width * max(1, ctx.n_classes))

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        narrower = [w for w in (256, 512, 1024) if w < params["d_block"]]
        return {**params, "d_block": narrower[-1]} if narrower else None
