"""Which settings mattered in a family's search, from the trials the catalog holds.

The trials are rebuilt as an in-memory Optuna study (distributions inferred from the
values tried) and scored with Optuna's PED-ANOVA importance: milliseconds for hundreds of
trials, where fANOVA took over ten seconds for 500.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

MIN_TRIALS = 5
optuna.logging.set_verbosity(optuna.logging.WARNING)


def param_table(samples: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per trial: `model`, `cv_score` and a column per setting."""
    frame = pd.DataFrame([{**s["params"], "model": s["model"], "cv_score": s["cv_score"]}
                          for s in samples])
    return frame


def _distribution(values: pd.Series) -> BaseDistribution | None:
    present = values.dropna()
    if present.nunique() < 2:
        return None  # a setting that never changed explains nothing
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        return CategoricalDistribution(sorted(present.astype(str).unique()))
    low, high = float(present.min()), float(present.max())
    log = low > 0 and high / low > 100
    if (present == present.round()).all() and pd.api.types.is_integer_dtype(present):
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(low, high, log=log)


def param_importance(samples: list[dict[str, Any]],
                     greater_is_better: bool) -> dict[str, float]:
    """Each varied setting's share of the score's variation (summing to 1); empty when
    there are too few trials or nothing varied."""
    if len(samples) < MIN_TRIALS:
        return {}
    frame = param_table(samples).drop(columns=["model"])
    distributions = {c: d for c in frame.columns if c != "cv_score"
                     if (d := _distribution(frame[c])) is not None}
    if not distributions:
        return {}
    trials = []
    for _, row in frame.iterrows():
        params = {}
        for name, dist in distributions.items():
            value = row[name]
            if pd.isna(value):
                break
            if isinstance(dist, CategoricalDistribution):
                params[name] = str(value)
            elif isinstance(dist, IntDistribution):
                params[name] = int(value)
            else:
                params[name] = float(value)
        else:
            trials.append(optuna.trial.create_trial(
                params=params, distributions=distributions, value=float(row["cv_score"])))
    if len(trials) < MIN_TRIALS:
        return {}
    study = optuna.create_study(direction="maximize" if greater_is_better else "minimize")
    study.add_trials(trials)
    found = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    total = sum(found.values())
    if not total or not np.isfinite(total):
        return {}
    return {k: float(v) / total for k, v in found.items()}
