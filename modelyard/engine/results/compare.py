"""Is the leader really better, or within noise? And what differs between two Runs?

Within a Run every trial is scored on the same validation folds, so two trials can be
compared fold by fold (a paired test). The folds share most of their training rows, which
makes plain t-tests overconfident; the Nadeau–Bengio correction widens the variance by
the test/train size ratio of the folds to account for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from modelyard.engine.planning.diff import diff_plans
from modelyard.engine.results.words import metric_name
from modelyard.schemas import Plan

ALPHA = 0.05


@dataclass
class FoldTest:
    """The leader against the runner-up, fold by fold."""

    verdict: str  # "reliably better" | "within noise" | "cannot tell"
    mean_difference: float  # leader minus runner-up, in the metric's units (better > 0)
    p_value: float | None
    folds: int
    text: str  # one sentence for a person

    @property
    def reliable(self) -> bool:
        return self.verdict == "reliably better"


def paired_fold_test(leader: list[float], runner_up: list[float], greater_is_better: bool,
                     *, test_share: float | None = None, names: tuple[str, str] = ("the leader",
                     "the runner-up")) -> FoldTest:
    """One-sided corrected paired t-test that `leader` beats `runner_up` over the same
    folds. `test_share` is each fold's validation share (default 1/k for k folds)."""
    a, b = np.asarray(leader, float), np.asarray(runner_up, float)
    first, second = names
    k = len(a)
    if k != len(b) or k < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        why = ("a single validation split gives no spread to judge by" if min(k, len(b)) < 2
               else "their fold scores do not line up")
        return FoldTest("cannot tell", float(np.mean(a) - np.mean(b)) if k and len(b) else
                        float("nan"), None, k, f"Cannot tell whether {first} is better than "
                        f"{second}: {why}.")
    diff = (a - b) if greater_is_better else (b - a)
    mean = float(diff.mean())
    share = test_share if test_share is not None else 1.0 / k
    variance = float(diff.var(ddof=1)) * (1.0 / k + share / (1.0 - share))
    if variance <= 0:
        p = 0.0 if mean > 0 else 1.0
    else:
        t = mean / np.sqrt(variance)
        p = float(stats.t.sf(t, df=k - 1))
    better_on = int((diff > 0).sum())
    if not diff.any():
        return FoldTest("within noise", 0.0, 1.0, k, f"Tied: {first} and {second} score the "
                        f"same on all {k} folds; either would do.")
    if p < ALPHA and mean > 0:
        verdict = "reliably better"
        text = (f"Reliably better: {first} beats {second} on {better_on} of {k} folds "
                f"(p = {p:.3f}).")
    else:
        verdict = "within noise"
        text = (f"Within noise: {first} beats {second} on {better_on} of {k} folds "
                f"(p = {p:.2f}); another split of the data could rank them the other way "
                "round.")
    return FoldTest(verdict, mean, p, k, text)


def leader_verdicts(leaders: list[dict[str, Any]]) -> dict[str, FoldTest]:
    """For each Run in `storage.runs.run_leaders` rows, rank 1 against rank 2."""
    by_run: dict[str, dict[int, dict[str, Any]]] = {}
    for row in leaders:
        by_run.setdefault(row["run_id"], {})[row["rank"]] = row
    verdicts = {}
    for run_id, ranked in by_run.items():
        if 1 in ranked and 2 in ranked:
            first, second = ranked[1], ranked[2]
            verdicts[run_id] = paired_fold_test(
                first["fold_scores"], second["fold_scores"], bool(first["greater_is_better"]),
                names=(first["model"], second["model"]))
    return verdicts


def plan_differences(plan_a: dict[str, Any], plan_b: dict[str, Any]) -> list[str]:
    """What changed from Run A's Plan to Run B's, one line per decision."""
    a, b = Plan.model_validate(plan_a), Plan.model_validate(plan_b)
    lines = []
    if a.dataset_id != b.dataset_id:
        lines.append(f"data set: {a.dataset_id} → {b.dataset_id}")
    return lines + [line for line in diff_plans(a, b) if not line.startswith("dataset_id")]


def same_folds(plan_a: dict[str, Any], plan_b: dict[str, Any]) -> bool:
    """Whether two Runs validated on identical folds (same data, validation and seed), so
    their winners can be compared fold by fold."""
    keys = ("dataset_id", "target", "validation", "seed", "excluded_columns")
    return all(plan_a.get(k) == plan_b.get(k) for k in keys)


def compare_runs(run_a: dict[str, Any], run_b: dict[str, Any], plan_a: dict[str, Any],
                 plan_b: dict[str, Any], best_a: dict[str, Any] | None,
                 best_b: dict[str, Any] | None) -> dict[str, Any]:
    """Two Runs side by side: `rows` (what, A, B), `plan` (differences), and `test` (their
    winners fold by fold, when both validated on the same folds)."""

    def line(what: str, get) -> dict[str, Any]:
        return {"what": what, "A": str(get(run_a, best_a, plan_a)),
                "B": str(get(run_b, best_b, plan_b))}

    def duration(run, _best, _plan):
        if run.get("finished_at") and run.get("started_at"):
            return f"{run['finished_at'] - run['started_at']:.0f} s"
        return "—"

    rows = [
        line("run", lambda r, b, p: r.get("name")),
        line("data set", lambda r, b, p: r.get("dataset") or r.get("dataset_id")),
        line("status", lambda r, b, p: r.get("status")),
        line("metric", lambda r, b, p: metric_name(p.get("metric"))),
        line("budget", lambda r, b, p: f"{p.get('budget_seconds')} s"),
        line("took", duration),
        # `trials`: the words of the one count (engine/results/counts.py) when given.
        line("trials", lambda r, b, p: r.get("trials") or (b["complete_trials"] if b
                                                           else 0)),
        line("best model", lambda r, b, p: b["model"] if b else "—"),
        line("CV score", lambda r, b, p: f"{b['cv_score']:.4f} ± {b['cv_std'] or 0:.4f}"
             if b else "—"),
        line("fit time of the best (s)", lambda r, b, p: f"{b['fit_seconds'] or 0:.2f}"
             if b else "—"),
    ]
    test = None
    if best_a and best_b and same_folds(plan_a, plan_b) and plan_a.get("metric") == \
            plan_b.get("metric"):
        greater = bool(best_a["greater_is_better"])
        a_wins = (best_a["cv_score"] >= best_b["cv_score"]) == greater
        first, second = (best_a, best_b) if a_wins else (best_b, best_a)
        label = {id(best_a): "A", id(best_b): "B"}
        test = paired_fold_test(first["fold_scores"], second["fold_scores"], greater,
                                names=(f"run {label[id(first)]}'s best",
                                       f"run {label[id(second)]}'s best"))
    return {"rows": rows, "plan": plan_differences(plan_a, plan_b), "test": test}
