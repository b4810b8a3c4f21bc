"""Search spaces as data → Optuna suggestions, in exactly one place."""

from __future__ import annotations

import math
from typing import Any

import optuna

from modelyard.engine.training.families.base import Choice, Float, Int, Space


def narrow(space: Space, limits: dict[str, tuple[float | None, float | None]]) -> Space:
    """`space` with each limited numeric setting kept inside [low, high] (None: no limit
    at that end). A limit that misses the family's range entirely pins the setting to
    the range's nearest end."""
    out = dict(space)
    for name, (low, high) in limits.items():
        spec = space.get(name)
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
        if isinstance(spec, Float):
            lo, hi = max(spec.low, low), min(spec.high, high)
            lo, hi = (lo, hi) if lo <= hi else ((spec.high,) * 2 if low > spec.high
                                                 else (spec.low,) * 2)
            out[name] = Float(lo, hi, log=spec.log)
        elif isinstance(spec, Int):
            lo = spec.low if low == -math.inf else max(spec.low, math.ceil(low))
            hi = spec.high if high == math.inf else min(spec.high, math.floor(high))
            lo, hi = (lo, hi) if lo <= hi else ((spec.high,) * 2 if low > spec.high
                                                 else (spec.low,) * 2)
            out[name] = Int(lo, hi, log=spec.log)
    return out


def limit_problems(space: Space, limits: dict[str, tuple[float | None, float | None]],
                   learnt: tuple[str, ...] = ()) -> list[str]:
    """Limits on settings the family does not search (nor learn), or does not search as
    numbers."""
    problems = []
    for name in limits:
        if name in learnt:
            continue  # bounds what the fit learns (`learnt_limits`)
        if name not in space:
            problems.append(f"it does not search {name!r} (it searches "
                            f"{', '.join(sorted(space)) or 'nothing'})")
        elif not isinstance(space[name], Float | Int):
            problems.append(f"{name!r} is a choice, not a number")
    return problems


def learnt_caps(learnt: tuple[str, ...], limits: dict[str, tuple[float | None, float | None]]
                ) -> dict[str, int]:
    """The most a fold may grow of each learnt setting the Plan caps (its early stopping
    ends it sooner)."""
    return {name: int(limits[name][1]) for name in learnt
            if name in limits and limits[name][1] is not None}


def learnt_limits(learnt: dict[str, Any], limits: dict[str, tuple[float | None, float | None]]
                  ) -> dict[str, Any]:
    """What the folds learnt, kept inside the Plan's limits on it."""
    out = dict(learnt)
    for name, value in learnt.items():
        low, high = limits.get(name, (None, None))
        if low is not None:
            value = max(value, type(value)(low))
        if high is not None:
            value = min(value, type(value)(high))
        out[name] = value
    return out


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


def clip(params: dict[str, Any], space: Space) -> dict[str, Any] | None:
    """`params` with every searched number kept inside `space` (Optuna would replay one
    outside it, past the Plan's limits); None if a setting is missing or a choice is not
    among its options."""
    out = dict(params)
    for name, spec in space.items():
        if name not in out:
            return None
        if isinstance(spec, Choice):
            if out[name] not in spec.options:
                return None
        else:
            value = min(spec.high, max(spec.low, out[name]))
            out[name] = int(value) if isinstance(spec, Int) else float(value)
    return out
