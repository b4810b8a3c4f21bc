"""Short names for a plan's choices, where a person picks or scans them (the Plan page's
form, its summary, a list of edits). The long explanations are in `explain.py`; the
names of model families are the families' own titles (`engine/training/families`)."""

from __future__ import annotations

from typing import Any

from modelyard.engine.training import families
from modelyard.schemas import Metric, Plan, Task, Validation, ValidationKind

TASK_LABELS = {
    Task.binary: "Yes or no (two classes)",
    Task.multiclass: "One of several categories",
    Task.regression: "A number (how much, how many)",
    Task.forecast: "Future values of a series (forecasting)",
    Task.multilabel: "Several yes/no labels at once",
    Task.text_to_text: "A text written from another text",
}
# Short enough for a metric tile.
TASK_SHORT = {Task.binary: "Yes or no", Task.multiclass: "Categories",
              Task.regression: "A number", Task.forecast: "Forecast",
              Task.multilabel: "Several labels", Task.text_to_text: "Text to text"}
# The measures' own names (what a person can look up), never the identifiers.
METRIC_LABELS = {
    Metric.roc_auc: "ROC AUC",
    Metric.log_loss: "Log loss",
    Metric.accuracy: "Accuracy",
    Metric.f1_macro: "F1 (macro)",
    Metric.rmse: "RMSE",
    Metric.mae: "MAE",
    Metric.r2: "R²",
    Metric.mase: "MASE",
    Metric.smape: "sMAPE",
    Metric.f1_micro: "F1 (micro)",
    Metric.hamming_loss: "Hamming loss",
    Metric.exact_match: "Exact match",
    Metric.cer: "Character error rate",
}
VALIDATION_LABELS = {
    ValidationKind.stratified_kfold: "Folds keeping the class balance",
    ValidationKind.kfold: "Folds of shuffled rows",
    ValidationKind.holdout: "One held-out share of rows",
    ValidationKind.group_kfold: "Folds keeping groups together",
    ValidationKind.time_split: "In time order: validate on later rows",
}


def task_label(task: Task | str) -> str:
    return TASK_LABELS[Task(task)]


def metric_label(metric: Metric | str) -> str:
    return METRIC_LABELS[Metric(metric)]


def validation_label(kind: ValidationKind | str) -> str:
    return VALIDATION_LABELS[ValidationKind(kind)]


def validation_short(v: Validation) -> str:
    """The split in a few words: "5 folds, class balance kept", "20% held out"."""
    if v.kind is ValidationKind.holdout:
        return f"{v.holdout_fraction:.0%} held out"
    if v.kind is ValidationKind.time_split:
        return f"{v.n_splits} splits in time order by “{v.time_column}”"
    if v.kind is ValidationKind.group_kfold:
        return f"{v.n_splits} folds, “{v.group_column}” groups kept together"
    if v.kind is ValidationKind.stratified_kfold:
        return f"{v.n_splits} folds, class balance kept"
    return f"{v.n_splits} folds"


def validation_tile(v: Validation) -> str:
    """The split for a metric tile: "5 folds", "20% holdout", "By time"."""
    if v.kind is ValidationKind.holdout:
        return f"{v.holdout_fraction:.0%} holdout"
    if v.kind is ValidationKind.time_split:
        return "By time"
    return f"{v.n_splits} folds"


def _names(values: list[Any]) -> str:
    return ", ".join(f"“{v}”" for v in values)


def _trials(n: int) -> str:
    return "1 trial" if n == 1 else f"{n} trials"


def changes_in_words(before: Plan, after: Plan) -> list[str]:
    """Each decision that differs between two versions, one short line each, in the words
    the Plan page uses (the stored record of edits is `diff.diff_plans`)."""
    lines = []
    if before.target != after.target:
        lines.append(f"What to predict: “{before.target}” → “{after.target}”")
    if before.task != after.task:
        lines.append(f"Kind of problem: {task_label(before.task)} → {task_label(after.task)}")
    if before.metric != after.metric:
        lines.append(f"Metric: {metric_label(before.metric)} → {metric_label(after.metric)}")
    if before.validation != after.validation:
        lines.append(f"How scores are checked: {validation_short(before.validation)} → "
                     f"{validation_short(after.validation)}")
    left_out = [c for c in after.excluded_columns if c not in before.excluded_columns]
    back = [c for c in before.excluded_columns if c not in after.excluded_columns]
    if left_out:
        lines.append(f"Columns left out: {_names(left_out)}")
    if back:
        lines.append(f"Columns used again: {_names(back)}")
    if before.budget_seconds != after.budget_seconds:
        lines.append(f"Time budget: {before.budget_seconds} s → {after.budget_seconds} s")
    if before.seed != after.seed:
        lines.append(f"Seed: {before.seed} → {after.seed}")
    old = {f.family: f for f in before.families}
    new = {f.family: f for f in after.families}
    for name in new:
        if name not in old:
            lines.append(f"Added {families.title(name)} ({_trials(new[name].max_trials)})")
    for name in old:
        if name not in new:
            lines.append(f"Left out {families.title(name)}")
        elif old[name].max_trials != new[name].max_trials:
            lines.append(f"{families.title(name)}: {_trials(old[name].max_trials)} → "
                         f"{_trials(new[name].max_trials)}")
        elif old[name].limits != new[name].limits:
            lines.append(f"{families.title(name)}: search limits changed")
    return lines
