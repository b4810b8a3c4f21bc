"""Search spaces as data → Optuna suggestions, in exactly one place."""

from __future__ import annotations

from typing import Any

import optuna

from engine.training.families.base import Choice, Float, Int, Space


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """Ask `trial` for one value of every parameter in `space`."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, Float):
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Int):
            params[name] = trial.suggest_int(name, spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Choice):
            params[name] = trial.suggest_categorical(name, list(spec.options))
        else:
            raise TypeError(f"unknown search-space entry {name}: {spec!r}")
    return params


def distributions(space: Space) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna distributions of `space`, for enqueueing fixed configurations."""
    out: dict[str, optuna.distributions.BaseDistribution] = {}
    for name, spec in space.items():
        if isinstance(spec, Float):
            out[name] = optuna.distributions.FloatDistribution(spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Int):
            out[name] = optuna.distributions.IntDistribution(spec.low, spec.high, log=spec.log)
        else:
            out[name] = optuna.distributions.CategoricalDistribution(list(spec.options))
    return out
