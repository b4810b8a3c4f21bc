"""Learning from a Run: what its leaderboard and journal say went wrong, and the rule
revision of its Plan that answers each finding.

What the journal holds per trial: family, state (complete, failed, pruned, not chosen),
cross-validated score and its spread over the folds, the score on (a sample of) the rows
the model was fitted on (its train score), fit time, message.

Overfitting and underfitting are read from each family's best trial (`family_fits`),
with every score turned so that higher is better and measured against the baseline (the
dummy model's CV score) on the metric's own scale:

- learned = train − baseline: how far above the baseline it scores on rows it has seen;
- gap = train − CV: how much of that is lost on rows it has not seen;
- room = |perfect − baseline|: how far above the baseline a perfect model would score.

It *memorises* (overfits) when the gap is more than twice the spread of its fold scores
(more than the scatter between folds explains) and more than a quarter of what it learned
(under three quarters of its lead on seen rows carries over to new rows). It *underfits*
when it does not memorise and even on rows it has seen it covers less than a quarter of
the room: the model cannot fit the data, so it needs more capacity, time or better
columns. Both cuts are fractions of distances on this run's own scale, not fixed scores.

Runs recorded before train scores were (NULL in the catalog) fall back to inference: from
flexible models losing to a linear one, and from scores that swing between folds more
than they gain over the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelyard.engine.planning.explain import family_title
from modelyard.engine.planning.family_notes import pros_cons
from modelyard.engine.planning.goal import words
from modelyard.engine.training import families as registry
from modelyard.schemas import (
    ColumnKind,
    FamilyChoice,
    Metric,
    Plan,
    Profile,
    RunStatus,
    Task,
    TrialResult,
    TrialStatus,
    ValidationKind,
)

# Added when a run underfits: review policy (the families' facts are in the registry).
_STRONG = ("lightgbm", "xgboost")
MAX_BUDGET = 7 * 24 * 3600
# Scores this good are rarely honest on real data.
_TOO_GOOD = {Metric.roc_auc: 0.995, Metric.accuracy: 0.995, Metric.f1_macro: 0.995,
             Metric.r2: 0.995}


# The best value each metric can take: the far end of its scale from the baseline.
_PERFECT = {Metric.roc_auc: 1.0, Metric.accuracy: 1.0, Metric.f1_macro: 1.0, Metric.r2: 1.0,
            Metric.log_loss: 0.0, Metric.rmse: 0.0, Metric.mae: 0.0,
            Metric.exact_match: 1.0, Metric.cer: 0.0}


def _flexible(family: str) -> bool:
    return registry.known(family) and registry.get(family).flexible


def hold_back(family: str, task: Task) -> str:
    """The settings of `family`'s search space that make it memorise less, in words."""
    if not registry.known(family):
        return "a simpler configuration"
    return registry.get(family).hold_back_advice(task)


def hold_back_limits(family: str, params: dict[str, Any]) -> dict[str, tuple]:
    """Search limits that keep `family` at or below the capacity of a trial that
    memorised (`params`): no more leaves than it had, no less regularisation."""
    limits: dict[str, tuple] = {}
    ways = registry.get(family).hold_back if registry.known(family) else {}
    for name, way in ways.items():
        value = params.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # not searched, or searched as a choice
        limits[name] = (None, value) if way == "at most" else (value, None)
    return limits


def limits_in_words(limits: dict[str, Any]) -> str:
    """{"num_leaves": [None, 31], "reg_lambda": [0.1, None]} → "num_leaves at most 31 and
    reg_lambda at least 0.1"."""
    parts = []
    for name, (low, high) in limits.items():
        parts.append(f"{name} at most {_num(high)}" if low is None else
                     f"{name} at least {_num(low)}" if high is None else
                     f"{name} between {_num(low)} and {_num(high)}")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 2 else parts)


@dataclass(frozen=True)
class Fit:
    """How one family's best trial fits, in the metric's units (see the module docstring);
    `learned`, `gap` and `room` are turned so that larger is better."""

    family: str
    model: str
    train: float
    cv: float
    std: float
    baseline: float
    learned: float
    gap: float
    room: float
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def memorises(self) -> bool:
        return self.learned > 0 and self.gap > 2 * self.std and self.gap > self.learned / 4

    @property
    def underfits(self) -> bool:
        return not self.memorises and self.room > 0 and self.learned < self.room / 4

    def scores(self) -> str:
        return (f"{_num(self.train)} on rows it has seen and {_num(self.cv)} on held-out "
                f"folds (baseline {_num(self.baseline)})")

    def evidence(self, metric: Metric) -> str:
        share = f" ({self.gap / self.learned:.0%} of it lost)" if self.learned > 0 else ""
        return (f"{self.model}: {metric.value} train {self.train:.4g}, CV {self.cv:.4g} ± "
                f"{self.std:.2g}, baseline {self.baseline:.4g}; better than the baseline by "
                f"{self.learned:.3g} on seen rows, by {self.learned - self.gap:.3g} held out"
                f"{share}")


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


Trials = Sequence[TrialResult | Mapping[str, Any]]


def typed(trials: Trials) -> list[TrialResult]:
    """Trials as TrialResults: the catalog's rows (dictionaries) are read here, once."""
    return [t if isinstance(t, TrialResult) else TrialResult.model_validate(dict(t))
            for t in trials]


def family_fits(metric: Metric, trials: Trials) -> list[Fit]:
    """Each family's best complete trial that has a train score, best first; empty when
    the Run has no baseline (dummy) to measure against or recorded no train scores."""
    done = [t for t in typed(trials) if t.state is TrialStatus.complete
            and _finite(t.cv_score) and t.family not in ("ensemble", "stack")]
    dummy = _best(metric, [t for t in done if t.family == "dummy"])
    if dummy is None:
        return []
    sign = 1 if metric.greater_is_better else -1
    base = dummy.cv_score
    found = []
    for family in dict.fromkeys(t.family for t in done if t.family != "dummy"):
        best = _best(metric, [t for t in done if t.family == family])
        train = best.train_score
        if not _finite(train):
            continue
        found.append(Fit(family, best.model, train, best.cv_score,
                         float(best.cv_std or 0.0), base, sign * (train - base),
                         sign * (train - best.cv_score), abs(_PERFECT[metric] - base),
                         dict(best.params)))
    return sorted(found, key=lambda f: -sign * f.cv)


def fit_lines(metric: Metric, trials: Trials) -> list[str]:
    """One line per family (best trial): train score, CV score and spread, baseline, and
    the verdict; for the language model's review prompt."""
    lines = []
    for f in family_fits(metric, trials):
        verdict = ("memorises" if f.memorises else "underfits" if f.underfits
                   else "fits reasonably")
        lines.append(f"- {f.family}: train {f.train:.4g}, CV {f.cv:.4g} ± {f.std:.2g}, "
                     f"baseline {f.baseline:.4g}: {verdict}")
    return lines


@dataclass(frozen=True)
class Finding:
    code: str  # run_failed, cancelled, family_failed, budget_short, underfitting,
    #            overfitting, leakage, fine
    message: str  # plain words
    evidence: str = ""  # the numbers behind it
    subject: str = ""  # the family a finding is about, when it is about one
    scores: str = ""  # a measured fit in words: train, held-out and baseline scores
    limits: dict[str, Any] = field(default_factory=dict, compare=False)  # to search within


def _better(metric: Metric, a: float, b: float) -> bool:
    return a > b if metric.greater_is_better else a < b


def _best(metric: Metric, rows: list[TrialResult]) -> TrialResult | None:
    best = None
    for row in rows:
        if best is None or _better(metric, row.cv_score, best.cv_score):
            best = row
    return best


def _improved_late(metric: Metric, done: list[TrialResult]) -> bool:
    """Whether the best score still moved in the last third of the trials."""
    if len(done) < 3:
        return False
    ordered = sorted(done, key=lambda t: t.finished_at or 0)
    cut = len(ordered) - max(1, len(ordered) // 3)
    before = _best(metric, ordered[:cut])
    after = _best(metric, ordered[cut:])
    return bool(before and after and _better(metric, after.cv_score, before.cv_score))


def leakage_suspects(plan: Plan, profile: Profile) -> list[str]:
    """Feature columns that may give the answer away: a name built on the target's name,
    or a categorical column whose value counts copy the target's."""
    if plan.target not in profile.column_names:
        return []
    target = profile.column(plan.target)
    stems = {w for w in words(plan.target) if len(w) >= 4}
    target_counts = sorted(n for _, n in target.top_values)
    found = []
    for col in profile.columns:
        if col.name == plan.target or col.name in plan.excluded_columns:
            continue
        if stems & set(words(col.name)):
            found.append(col.name)
        elif (target_counts and col.kind in (ColumnKind.categorical, ColumnKind.boolean)
              and col.n_distinct == target.n_distinct
              and sorted(n for _, n in col.top_values) == target_counts):
            found.append(col.name)
    return found


def diagnose(plan: Plan, profile: Profile, run: dict[str, Any],
             trials: Trials) -> list[Finding]:
    """What went wrong in a Run, from its record and its trials, in plain words."""
    metric = plan.metric
    found: list[Finding] = []
    status = run.get("status")
    if status == RunStatus.failed:
        found.append(Finding("run_failed", f"The run failed: {run.get('message')}",
                             str(run.get("message"))))
    elif status == RunStatus.cancelled:
        found.append(Finding("cancelled", "The run was cancelled, so its results are "
                                          "incomplete."))
    singles = [t for t in typed(trials) if t.family not in ("ensemble", "stack")]
    done = [t for t in singles if t.state is TrialStatus.complete and t.cv_score is not None]
    by_family: dict[str, list[TrialResult]] = {}
    for t in singles:
        by_family.setdefault(t.family, []).append(t)

    for choice in plan.families:
        rows = by_family.get(choice.family, [])
        failed = [t for t in rows if t.state is TrialStatus.failed]
        if failed and not any(t.state is TrialStatus.complete for t in rows):
            found.append(Finding(
                "family_failed",
                f"Every {family_title(choice.family)} trial failed "
                f"({len(failed)} of {len(rows)}), so it only used up time.",
                failed[0].message, subject=choice.family))

    budget = float(run.get("budget_seconds") or plan.budget_seconds)
    started, finished = run.get("started_at"), run.get("finished_at")
    elapsed = (finished - started) if started and finished else None
    pruned = [t for t in singles if t.state is TrialStatus.pruned]
    never = [c.family for c in plan.families if c.family not in by_family]
    below_cap = any(len(by_family.get(c.family, [])) < c.max_trials
                    for c in plan.families if c.family != "dummy")
    late = _improved_late(metric, done)
    if status != RunStatus.cancelled and (
            pruned or never or (elapsed is not None and elapsed >= 0.8 * budget
                                and late and below_cap)
            or "ran out of time" in str(run.get("message") or "")):
        bits = []
        if never:
            bits.append(f"{', '.join(map(family_title, never))} never got a turn")
        if pruned:
            bits.append(f"{len(pruned)} trials were stopped by the clock")
        if late:
            bits.append("the best score was still improving at the end")
        found.append(Finding(
            "budget_short",
            f"The {budget:g} s budget was too short to finish the search"
            + (f": {'; '.join(bits)}." if bits else "."),
            f"elapsed {elapsed if elapsed is None else round(elapsed, 1)} s of {budget:g} s; "
            f"{len(done)} complete, {len(pruned)} stopped, never tried: {never or 'none'}"))

    best = _best(metric, [t for t in done if t.family != "dummy"])
    dummy = _best(metric, [t for t in done if t.family == "dummy"])
    if best is not None:
        score = best.cv_score
        gain = None if dummy is None else abs(score - dummy.cv_score) * (
            1 if _better(metric, score, dummy.cv_score) else -1)
        threshold = _TOO_GOOD.get(metric)
        too_good = (threshold is not None and score >= threshold) or (
            metric in (Metric.log_loss,) and score <= 0.01)
        if metric in (Metric.rmse, Metric.mae) and plan.target in profile.column_names:
            std = profile.column(plan.target).std
            too_good = bool(std) and score <= 0.01 * std
        if too_good:
            suspects = leakage_suspects(plan, profile)
            found.append(Finding(
                "leakage",
                f"The best score ({metric.value} {score:.4g}) is too good to be true: a "
                "column may give the answer away"
                + (f" (suspects: {', '.join(suspects)})." if suspects else "."),
                f"best {best.model} {score:.6g}"))
        fits = {} if too_good else {f.family: f for f in family_fits(metric, done)}
        top = fits.get(best.family)  # the best model's own fit, when recorded
        weak = False
        if dummy is not None and gain is not None and not too_good:
            base = dummy.cv_score
            weak = {Metric.roc_auc: score < 0.6,
                    Metric.r2: score < 0.1,
                    Metric.accuracy: gain < 0.02,
                    Metric.f1_macro: gain < 0.02,
                    }.get(metric, gain < 0.05 * abs(base))
            if top is not None and top.memorises:
                pass  # it can fit the rows: the memorising finding below says so
            elif top is not None and (weak or top.underfits):
                found.append(Finding(
                    "underfitting",
                    f"{family_title(top.family)}, the best model, scores only "
                    f"{top.scores()}: it cannot even fit the rows it learns from. It needs "
                    "more capacity or time, or columns that carry more of the answer.",
                    top.evidence(metric), subject=top.family))
            elif weak:
                found.append(Finding(
                    "underfitting",
                    f"The best model barely beats the baseline ({metric.value} {score:.4g} "
                    f"against {base:.4g}): the models may be too simple, or the columns "
                    "may not hold the answer.",
                    f"best {best.model} {score:.6g}; dummy {base:.6g}"))
        linear = _best(metric, [t for t in done if t.family == "linear"])
        flexible = _best(metric, [t for t in done if _flexible(t.family)])
        spread = best.cv_std
        if too_good:
            pass  # with a leak, the scores say nothing about fitting
        elif fits:
            for fit in fits.values():
                if fit.memorises:
                    found.append(Finding(
                        "overfitting",
                        f"{family_title(fit.family)} scores {fit.scores()}: it memorises "
                        "the rows it learns from instead of what carries over to new rows. "
                        f"What holds it back: {hold_back(fit.family, plan.task)}."
                        + (" Its held-out score barely beats the baseline: the columns may "
                           "hold little that carries over." if weak and fit is top else ""),
                        fit.evidence(metric), subject=fit.family, scores=fit.scores(),
                        limits=hold_back_limits(fit.family, fit.params)))
        elif linear and flexible and _better(metric, linear.cv_score, flexible.cv_score):
            found.append(Finding(
                "overfitting",
                f"The flexible models did worse than the simple linear model "
                f"({flexible.cv_score:.4g} against {linear.cv_score:.4g}): with "
                f"{profile.n_rows} rows they probably learned noise (overfitting).",
                "inferred: train scores per trial are not recorded, or there is no "
                "baseline to measure them against"))
        elif spread and gain and gain > 0 and spread > 0.5 * gain:
            found.append(Finding(
                "overfitting",
                f"The best model's score swings between folds (± {spread:.3g}) by more "
                f"than half its gain over the baseline ({gain:.3g}): it may be fitting "
                "noise, and its score is uncertain.",
                "inferred from the fold spread: train scores per trial are not recorded, "
                "or there is no baseline to measure them against"))
    if not found:
        found.append(Finding("fine", "No problem found: the search finished within its "
                                     "budget and the best model clearly beats the baseline."))
    return found


def revise_by_rules(plan: Plan, profile: Profile,
                    findings: list[Finding]) -> tuple[Plan, list[str]]:
    """A revised Plan answering each finding, and what changed and why (one line each)."""
    raw = plan.model_dump(mode="json")
    families = [FamilyChoice.model_validate(f) for f in raw["families"]]
    changes: list[str] = []
    codes = {f.code for f in findings}
    budget = plan.budget_seconds

    failed = {f.subject for f in findings if f.code == "family_failed"}
    if failed:
        dead = [c.family for c in families if c.family in failed]
        kept = [c for c in families if c.family not in dead]
        if any(c.family != "dummy" for c in kept):
            families = kept
            changes.append(f"Left out {', '.join(family_title(f) for f in dead)}: "
                           "every trial of it failed.")
    if codes & {"budget_short", "underfitting"}:
        new_budget = min(MAX_BUDGET, max(budget * 2, budget + 60))
        if new_budget != budget:
            changes.append(f"Raised the time budget from {budget} s to {new_budget} s: "
                           + ("the search ran out of time."
                              if "budget_short" in codes else
                              "a longer search gives the models a better chance."))
            budget = new_budget
    tabular = profile.modality != "image"
    if "underfitting" in codes and profile.n_rows >= 300 and tabular:
        present = {c.family for c in families}
        for family in _STRONG:
            if family not in present and len(families) < 8:
                pros, cons = pros_cons(family, profile)
                families.append(FamilyChoice(family=family, max_trials=50, pros=pros,
                                             cons=cons, reason="Added after the review: "
                                             "boosted trees find patterns simpler models "
                                             "miss."))
                changes.append(f"Added {family_title(family)}: the models tried so "
                               "far barely beat the baseline.")
    validation = dict(raw["validation"])
    # Measured memorising names its family; the inferred kind (no train scores) does not.
    memorising = {f.subject: f.scores for f in findings
                  if f.code == "overfitting" and f.subject}
    limits = {f.subject: f.limits for f in findings if f.code == "overfitting" and f.subject}
    if "overfitting" in codes:
        if (validation["kind"] != ValidationKind.holdout.value and profile.n_rows < 5000
                and validation["n_splits"] < 10):
            changes.append(f"Validation now uses 10 folds instead of "
                           f"{validation['n_splits']}: a steadier score on a small table.")
            validation["n_splits"] = 10
        for c in families:
            if c.family in memorising:
                advice = hold_back(c.family, plan.task)
                c.reason = (f"Held back after the review, which found it memorising its "
                            f"training rows: {advice}.")
                c.limits = {**c.limits, **limits.get(c.family, {})}
                bounds = limits_in_words(limits.get(c.family, {}))
                changes.append(f"{family_title(c.family)} scored "
                               f"{memorising[c.family]}, so it memorises: "
                               + (f"its search now keeps {bounds}." if bounds else
                                  f"its note in the plan now names what holds it back — "
                                  f"{advice}."))
            elif (not memorising and _flexible(c.family) and c.max_trials > 20):
                changes.append(f"{family_title(c.family)} tries at most 20 "
                               f"configurations instead of {c.max_trials}: fewer chances to "
                               "look good by luck.")
                c.max_trials = 20
        if tabular and "linear" not in {c.family for c in families}:
            pros, cons = pros_cons("linear", profile)
            families.append(FamilyChoice(family="linear", max_trials=20, pros=pros,
                                         cons=cons, reason="Added after the review: a "
                                         "simple model overfits least."))
            changes.append("Added the linear model: simple models overfit least.")
    excluded = list(raw["excluded_columns"])
    if "leakage" in codes:
        suspects = leakage_suspects(plan, profile)
        if suspects:
            excluded += suspects
            changes.append(f"Left out {', '.join(suspects)}: the score was too good to be "
                           "true and these columns may give the answer away.")
    revised = Plan.model_validate({
        **raw, "families": [c.model_dump(mode="json") for c in families],
        "validation": validation, "excluded_columns": excluded, "budget_seconds": budget,
        "rationale": ("Revised after a run. " + " ".join(changes)) if changes
        else raw["rationale"],
    })
    return revised, changes
