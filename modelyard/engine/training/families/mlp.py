"""A small multi-layer perceptron (scikit-learn) on scaled, one-hot features."""

from __future__ import annotations

from modelyard.engine.training.families.base import (
    Choice,
    FitContext,
    Float,
    ModelFamily,
    Space,
    columns,
)

_LAYERS = {"64": (64,), "128": (128,), "128-64": (128, 64), "256-128": (256, 128)}
_BY_WIDTH = sorted(_LAYERS, key=lambda k: sum(_LAYERS[k]))


class MLP(ModelFamily):
    name = "mlp"
    preprocessing = "scaled"
    title = "Neural network (MLP)"
    summary = "layers of learned weights"
    speed = "moderate"
    accuracy = "can learn curved effects, needs data"
    interpretability = "low"
    memory = "moderate"
    why = "A small neural network: can learn curved effects when there is enough data."
    pros = ("can learn curved effects and interactions",)
    cons = ("needs more data and tuning than trees", "hard to explain")
    flexible = True
    hold_back = {"alpha": "at least"}
    hold_back_words = "a stronger penalty (alpha) and smaller layers"

    def search_space(self, ctx: FitContext) -> Space:
        return {"layers": Choice(tuple(_LAYERS)), "alpha": Float(1e-6, 1e-1, log=True),
                "learning_rate_init": Float(1e-4, 1e-2, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"layers": "128-64", "alpha": 1e-4, "learning_rate_init": 1e-3}

    def memory_bytes(self, params: dict, ctx: FitContext, data_bytes: int) -> int:
        # The prepared data; every layer's activations when predicting a validation set
        # (at most half the rows) at once; the weights, their gradients, Adam's moments.
        sizes = [columns(ctx, data_bytes), *_LAYERS[params["layers"]], max(1, ctx.n_classes)]
        weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
        return 4 * data_bytes + ctx.n_rows // 2 * sum(sizes[1:]) * 8 + weights * 8 * 4

    def smaller(self, params: dict, ctx: FitContext) -> dict | None:
        narrower = [k for k in _BY_WIDTH if sum(_LAYERS[k]) < sum(_LAYERS[params["layers"]])]
        return {**params, "layers": narrower[-1]} if narrower else None

    def build(self, params: dict, ctx: FitContext):
        from sklearn.neural_network import MLPClassifier, MLPRegressor  # see linear.py

        cls = MLPClassifier if ctx.task.is_classification else MLPRegressor
        return cls(hidden_layer_sizes=_LAYERS[params["layers"]], alpha=params["alpha"],
                   learning_rate_init=params["learning_rate_init"], max_iter=300,
                   early_stopping=True, n_iter_no_change=10, random_state=ctx.seed)
