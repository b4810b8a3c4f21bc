"""A small multi-layer perceptron (scikit-learn) on scaled, one-hot features."""

from __future__ import annotations

from sklearn.neural_network import MLPClassifier, MLPRegressor

from engine.training.families.base import Choice, FitContext, Float, ModelFamily, Space

_LAYERS = {"64": (64,), "128": (128,), "128-64": (128, 64), "256-128": (256, 128)}


class MLP(ModelFamily):
    name = "mlp"
    preprocessing = "scaled"

    def search_space(self, ctx: FitContext) -> Space:
        return {"layers": Choice(tuple(_LAYERS)), "alpha": Float(1e-6, 1e-1, log=True),
                "learning_rate_init": Float(1e-4, 1e-2, log=True)}

    def default_params(self, ctx: FitContext) -> dict:
        return {"layers": "128-64", "alpha": 1e-4, "learning_rate_init": 1e-3}

    def build(self, params: dict, ctx: FitContext):
        cls = MLPClassifier if ctx.task.is_classification else MLPRegressor
        return cls(hidden_layer_sizes=_LAYERS[params["layers"]], alpha=params["alpha"],
                   learning_rate_init=params["learning_rate_init"], max_iter=300,
                   early_stopping=True, n_iter_no_change=10, random_state=ctx.seed)
