"""RealMLP (Holzmüller et al., 2024): a multi-layer perceptron with tuned defaults
(robust scaling and smooth clipping of the inputs, periodic embeddings of the numbers,
learnable scales, a cosine-log learning-rate schedule), through pytabkit's RealMLP-TD.

Defaults are pytabkit's RealMLP-TD ones, except for classification: pytabkit's advice
for log loss and ROC AUC (the metrics our classification plans score by) is to choose
the epoch by cross-entropy and to train without label smoothing, so the default does
that, and label smoothing is searched from 0. The search space is a small one around
the defaults, after the ranges of pytabkit's RealMLP-HPO: learning rate, dropout,
weight decay, the scale of the periodic embeddings and the layer sizes.

Deadline, availability and the planner's choice: see `nets.py`.
"""

from __future__ import annotations

from modelyard.engine.training.families.base import Choice, FitContext, Float, Space
from modelyard.engine.training.families.nets import TableNet

# The layer sizes a trial may take, widest last (`smaller` steps down this list).
_HIDDEN = {"64x5": [64] * 5, "256x3": [256] * 3, "512": [512]}
_BY_WEIGHTS = ("64x5", "256x3", "512")  # of 256x3's ~130k weights, 64x5 has ~17k


class RealMLP(TableNet):
    name = "realmlp"
    estimators = ("RealMLP_TD_Classifier", "RealMLP_TD_Regressor")
    title = "RealMLP (neural network)"
    summary = "a neural network for tables with tuned defaults (pytabkit)"
    speed = "slow on a CPU (256 passes over the rows); fast on a GPU"
    accuracy = "among the best on tables at its defaults, above all with a GPU"
    why = ("A neural network for tables with carefully tuned defaults: often as accurate "
           "as the boosted trees, and different enough to help an ensemble.")
    pros = ("accurate at its defaults, without long tuning",
            "learns differently from trees, which helps an ensemble")
    cons = ("slow to train on a CPU", "hard to explain")
    hold_back = {"p_drop": "at least", "wd": "at least"}
    hold_back_words = "more dropout (p_drop), a stronger weight decay (wd) and smaller layers"

    def search_space(self, ctx: FitContext) -> Space:
        smoothing = {"ls_eps": Float(0.0, 0.15)} if ctx.task.is_classification else {}
        return smoothing | {"lr": Float(0.01, 0.4, log=True), "p_drop": Float(0.0, 0.3),
                            "wd": Float(1e-4, 0.1, log=True),
                            "plr_sigma": Float(0.05, 0.5, log=True),
                            "hidden": Choice(tuple(_HIDDEN))}

    def default_params(self, ctx: FitContext) -> dict:
        if ctx.task.is_classification:
            return {"ls_eps": 0.0, "lr": 0.04, "p_drop": 0.15, "wd": 0.02,
                    "plr_sigma": 0.1, "hidden": "256x3"}
        return {"lr": 0.2, "p_drop": 0.15, "wd": 0.02, "plr_sigma": 0.1, "hidden": "256x3"}

    def library_params(self, params: dict, ctx: FitContext) -> dict:
        out = {"lr": params["lr"], "p_drop": params["p_drop"], "wd": params["wd"],
               "plr_sigma": params["plr_sigma"], "hidden_sizes": _HIDDEN[params["hidden"]]}
        if ctx.task.is_classification:
            smoothing = params.get("ls_eps", 0.0)
            out |= {"use_ls": smoothing > 0, "ls_eps": smoothing,
                    "val_metric_name": "cross_entropy"}
        return out

    def weights(self, params: dict, ctx: FitContext, n_inputs: int) -> int:
        # Each number becomes a 4-wide periodic embedding (16 hidden), then the layers.
        sizes = [n_inputs * 4, *_HIDDEN[params.get("hidden", "256x3")], max(1, ctx.n_classes)]
        return n_inputs * 16 * 2 + sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        at = _BY_WEIGHTS.index(params["hidden"])
        return {**params, "hidden": _BY_WEIGHTS[at - 1]} if at > 0 else None
