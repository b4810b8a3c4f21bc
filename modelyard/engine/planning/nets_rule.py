"""Whether the rule planner adds the neural networks for tables (RealMLP, TabM), and
on what sizes: planning policy, kept apart from the family list in `rules.py`.

Evidence (bench/RESULTS.md, "Neural networks for tables"; 2 CPU cores under heavy
load): at their defaults the two networks beat LightGBM on breast_cancer by 0.002-0.003
ROC AUC (and TabM's log loss on penguins was a third of LightGBM's), at 30 (RealMLP) to
360 (TabM) times its CPU time; inside a 60 s Run neither
finished a trial, and the Runs gained nothing (RealMLP trains 256 epochs whatever the
size; TabM stops early, but runs hundreds of epochs on small tables). Measured again on a
quiet machine without passive OpenMP waiting (session 12), RealMLP still took 17-49 s a
fold on digits, hpc_data and mlc_churn, 40-300 times LightGBM, and scored worse than
LightGBM's defaults on all three. So a network's
default trial is costed as FIT_SECONDS[device] (a fixed part plus a part per row) for
each fold's fit.
On a CPU the planner leaves them out whatever the budget (a person can still add them
to a Plan: their trials stop at the deadline like a booster's). With a GPU (NVML sees
one) it adds them where one default cross-validation of each fits in
`nets.PLANNER_SHARE` of the budget, so the boosters keep most of a short budget: at
300 s, tables up to tens of thousands of rows. The GPU figures are an assumption (no GPU
was lent: unmeasured). Where the Plan is full they take the place of the weakest
families (nearest neighbours, support vectors, extra trees), never a booster's.
"""

from __future__ import annotations

from modelyard.engine.training import families
from modelyard.engine.training.families import nets
from modelyard.engine.training.families.base import cuda_available
from modelyard.schemas import FamilyChoice, Profile

# One fold's default fit on 2 threads: (fixed seconds, seconds per row). RealMLP trains
# 256 epochs whatever the size, so even a tiny table costs it a fixed time.
FIT_SECONDS = {"cpu": {"realmlp": (10.0, 0.005), "tabm": (15.0, 0.005)},
               # GPU: assumed (about a tenth of the CPU's), unmeasured: no GPU was lent.
               "cuda": {"realmlp": (2.0, 0.0005), "tabm": (1.5, 0.0005)}}
TRIALS = 10
# The families a network may displace when a Plan is full, weakest first.
_DISPLACE = ("knn", "svm", "extra_trees", "random_forest")


def default_trial_seconds(family: str, n_rows: int, n_splits: int, device: str) -> float:
    """About how long one cross-validation of `family` at its defaults takes."""
    fit_rows = n_rows * (n_splits - 1) / n_splits if n_splits > 1 else 0.8 * n_rows
    fixed, per_row = FIT_SECONDS[device][family]
    return (fixed + per_row * fit_rows) * max(1, n_splits)


def net_choices(profile: Profile, budget_seconds: int, n_splits: int,
                device: str | None = None) -> list[str]:
    """The networks worth a place in a rule Plan for this table and budget."""
    if nets.unavailable():
        return []
    # NVML, not torch: planning must not import torch (a GPU torch cannot see is unlikely).
    device = device or ("cuda" if cuda_available() else "cpu")
    if device == "cpu":  # `ModelFamily.offered_on_cpu`: the prompt leaves them out too
        # Measured here: 30-360 times LightGBM's CPU for a small gain where they finish,
        # none inside a 60 s Run; on a CPU they are a person's choice only.
        return []
    return [name for name in ("realmlp", "tabm")
            if default_trial_seconds(name, profile.n_rows, n_splits, device)
            <= nets.PLANNER_SHARE * budget_seconds]


def with_nets(chosen: list[FamilyChoice], names: list[str], most: int,
              profile: Profile | None = None) -> list[FamilyChoice]:
    """`chosen` with the networks `names` added, displacing the weakest families when
    the Plan would hold more than `most`."""
    from modelyard.engine.planning.family_notes import pros_cons

    out = list(chosen)
    for name in names:
        if len(out) >= most:
            weakest = next((c for w in _DISPLACE for c in out if c.family == w), None)
            if weakest is None:
                break
            out.remove(weakest)
        pros, cons = pros_cons(name, profile) if profile is not None else ([], [])
        out.append(FamilyChoice(family=name, max_trials=TRIALS,
                                reason=families.get(name).why, pros=pros, cons=cons))
    return out
