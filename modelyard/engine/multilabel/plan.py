"""Multi-label set-ups as the profile finds them, the rule planner's Plan for them, and
the plan check's multi-label part."""

from __future__ import annotations

from modelyard.engine.errors import IntakeError
from modelyard.schemas import (
    ColumnKind,
    FamilyChoice,
    Labels,
    Metric,
    Plan,
    Profile,
    Task,
    Validation,
    ValidationKind,
)

# The families the rule planner tries for each label (a baseline, a linear model, a
# booster and a forest), with their trials: each trial fits one model per label, per fold.
FAMILIES = (("dummy", 1), ("linear", 20), ("lightgbm", 20), ("random_forest", 10))
# Values a 0/1 label column shows in its profile.
ZERO_ONE = {"0", "1", "true", "false", "yes", "no"}
NOTE = ("Multi-label plans come from the rules: the language model is briefed on one "
        "target at a time, so it is not asked.")


def named_labels(target: str | None, names: list[str]) -> list[str] | None:
    """The label columns when `target` names several ("Action,Comedy,Drama"); None when
    it names one column (or nothing). A name that is no column is an error."""
    if not target or target in names or "," not in target:
        return None
    parts = [p.strip() for p in target.split(",") if p.strip()]
    missing = [p for p in parts if p not in names]
    if missing:
        raise IntakeError(f"There is no column {', '.join(f'“{m}”' for m in missing)}.",
                          f"Columns are: {', '.join(names[:20])}"
                          f"{' …' if len(names) > 20 else ''}. Name several targets "
                          "separated by commas for a multi-label problem.")
    if len(set(parts)) != len(parts):
        raise IntakeError("A label column is named twice.", "Name each label column once.")
    if len(parts) < 2:
        return None
    return parts


def mark_label_columns(profile: Profile, columns: list[str]) -> None:
    """The person named several target columns: the target is multi-label (the first
    column stands as the target, the finding lists them all)."""
    profile.findings["multi_label_columns"] = list(columns)
    if profile.target is not None:
        profile.target.task = Task.multilabel
        profile.target.reason = "you named these label columns"
    profile.class_balance = label_counts(profile, columns)


def label_counts(profile: Profile, columns: list[str]) -> list[tuple[str, int]]:
    """Rows with each label on, from the columns' profiles (most common first)."""
    out = []
    for name in columns:
        col = profile.column(name)
        on = sum(n for v, n in col.top_values if str(v).strip().lower() in ("1", "true",
                                                                           "yes"))
        out.append((name, on))
    return sorted(out, key=lambda t: -t[1])


def labels_for(profile: Profile, target: str | None) -> Labels | None:
    """The labels of a multi-label set-up for `target` (the one named, or the guess):
    several named columns, or a column of delimited labels taken as multi-label."""
    if parts := named_labels(target, profile.column_names):
        return Labels(columns=parts)
    guess = profile.target
    if guess is None or guess.task is not Task.multilabel:
        return None
    if target is not None and target != guess.column:
        return None
    if columns := profile.findings.get("multi_label_columns"):
        return Labels(columns=list(columns))
    if sep := profile.findings.get("multi_label"):
        return Labels(separator=sep, names=[n for n, _ in profile.class_balance][:500])
    return None


def multilabel_plan(profile: Profile, dataset_id: str, labels: Labels, *,
                    budget_seconds: int, seed: int, metric: Metric | None = None,
                    excluded: list[str], reasons: dict[str, str]) -> Plan:
    """A sound multi-label Plan: micro F1, 5 shuffled folds (3 on larger tables), a
    baseline, a linear model, a booster and a forest, each per label and as a chain."""
    from modelyard.engine.planning.family_notes import pros_cons
    from modelyard.engine.training import families

    target = labels.columns[0] if labels.columns else profile.target.column
    metric = metric if metric is not None and metric.fits(Task.multilabel) else \
        Metric.f1_micro
    k = 5 if profile.n_rows <= 20_000 else 3
    chosen = []
    for name, trials in FAMILIES:
        pros, cons = pros_cons(name, profile)
        chosen.append(FamilyChoice(family=name, max_trials=trials,
                                   reason=families.get(name).why, pros=pros, cons=cons))
    names = labels.columns or labels.names
    shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
    what = (f"{len(names)} label columns ({shown})" if labels.columns else
            f"the labels listed in “{target}”, separated by “{labels.separator}” ({shown})")
    excluded = [c for c in excluded if c not in labels.columns]
    reasons = {**reasons,
               "target": reasons.get("target") or "You named these labels.",
               "task": "Each row may have several labels at once: one yes/no answer is "
                       "learnt per label (one model per label, and a classifier chain "
                       "where each label also sees the ones before it).",
               "metric": "F1 (micro) counts right yes-answers over every label together; "
                         "each label's decision threshold is chosen on predictions for "
                         "rows the model did not see.",
               "validation": f"Every score comes from {k}-fold cross-validation over "
                             "shuffled rows (folds cannot keep the balance of several "
                             "labels at once)."}
    return Plan(dataset_id=dataset_id, target=target, task=Task.multilabel, metric=metric,
                validation=Validation(kind=ValidationKind.kfold, n_splits=k),
                families=chosen, excluded_columns=excluded, budget_seconds=budget_seconds,
                seed=seed, labels=labels, reasons=reasons,
                rationale=f"Predicting {what}: a multi-label classification. Models are "
                          f"compared by {metric.value} with per-label thresholds, measured "
                          f"with {k}-fold cross-validation. The search stops after "
                          f"{budget_seconds} seconds and keeps the best model.")


def label_problems(plan: Plan, profile: Profile) -> list[str]:
    """What stops a multi-label Plan from running on this data (the plan check's part)."""
    labels = plan.labels
    names = set(profile.column_names)
    if labels is None:
        return ["a multilabel task needs its labels"]
    if labels.separator:
        if plan.target not in names:
            return []  # said by the column check
        col = profile.column(plan.target)
        if col.n_distinct < 2:
            return [f"{plan.target!r} has a single value: nothing to learn"]
        return []
    problems = []
    missing = [c for c in labels.columns if c not in names]
    if missing:
        problems.append(f"label columns do not exist: {', '.join(map(repr, missing))}")
    if len(labels.columns) < 2:
        problems.append("a multi-label task needs at least 2 label columns; with one, "
                        "train a binary classification")
    for name in [c for c in labels.columns if c in names]:
        col = profile.column(name)
        if col.n_distinct < 2:
            problems.append(f"label {name!r} has a single value in every row: leave it out")
        elif col.kind not in (ColumnKind.numeric, ColumnKind.boolean,
                              ColumnKind.categorical) or col.n_distinct > 2 or not all(
                str(v).strip().lower() in ZERO_ONE for v, _ in col.top_values):
            problems.append(f"label {name!r} is not a 0/1 column: each label column must "
                            "hold 0 and 1 (or yes/no, true/false)")
    return problems
