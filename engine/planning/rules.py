"""The rule planner: deterministic, always available, valid for any usable Profile."""

from __future__ import annotations

from engine.errors import PlanError
from engine.intake.target import task_for
from engine.schemas import (
    ColumnKind,
    Family,
    FamilyChoice,
    Metric,
    Plan,
    Profile,
    Task,
    Validation,
    ValidationKind,
)

DEFAULT_METRIC = {Task.binary: Metric.roc_auc, Task.multiclass: Metric.log_loss,
                  Task.regression: Metric.rmse}
_METRIC_WORDS = {
    Metric.roc_auc: "ROC AUC (how well the model ranks positives above negatives; 1 is "
                    "perfect, 0.5 is guessing)",
    Metric.log_loss: "log loss (how confident and right the predicted probabilities are; "
                     "lower is better)",
    Metric.rmse: "RMSE (the typical size of a prediction error, in the target's units; lower "
                 "is better)",
}
# Above this many rows, k-fold cross-validation costs more than it teaches.
HOLDOUT_ROWS = 200_000
_UNUSED_KINDS = {ColumnKind.id: "an identifier", ColumnKind.constant: "constant",
                 ColumnKind.text: "free text (not used by tabular models yet)",
                 ColumnKind.datetime: "a date (not used by tabular models yet)"}


def rule_plan(
    profile: Profile,
    dataset_id: str,
    *,
    target: str | None = None,
    budget_seconds: int = 300,
    seed: int = 0,
) -> Plan:
    """A sound default Plan for this Profile, with its reasons in plain words."""
    if target is None:
        if profile.target is None:
            raise PlanError("No column looks like something to predict.",
                            "Choose the target column yourself.")
        target = profile.target.column
    if target not in profile.column_names:
        raise PlanError(f"There is no column “{target}”.",
                        "Choose one of the data set's columns as the target.")
    col = profile.column(target)
    if col.n_distinct < 2:
        raise PlanError(f"The target “{target}” has a single value: there is nothing to learn.",
                        "Choose another target column.")
    task = task_for(col, profile.n_rows)
    metric = DEFAULT_METRIC[task]

    if profile.n_rows > HOLDOUT_ROWS:
        validation = Validation(kind=ValidationKind.holdout, holdout_fraction=0.2)
        how = "a 20% holdout (the data set is large)"
    elif task.is_classification:
        validation = Validation(kind=ValidationKind.stratified_kfold, n_splits=5)
        how = "5-fold cross-validation keeping the class balance in every fold"
    else:
        validation = Validation(kind=ValidationKind.kfold, n_splits=5)
        how = "5-fold cross-validation"

    excluded = [c.name for c in profile.columns
                if c.name != target and c.kind in _UNUSED_KINDS]
    families = [
        FamilyChoice(family=Family.dummy, max_trials=1,
                     reason="A baseline that ignores the features: any real model must beat "
                            "it."),
        FamilyChoice(family=Family.linear, max_trials=20,
                     reason="Fast and easy to explain; strong when effects add up simply."),
        FamilyChoice(family=Family.lightgbm, max_trials=200,
                     reason="Gradient-boosted trees: usually the most accurate on tables, "
                            "handles missing values and categories natively."),
    ]
    kind_words = {Task.binary: "a yes/no (binary) classification",
                  Task.multiclass: f"a classification into {col.n_distinct} classes",
                  Task.regression: "a regression (predicting a number)"}
    rationale = (
        f"“{target}” is the column to predict, so this is {kind_words[task]}. "
        f"Models are compared by {_METRIC_WORDS.get(metric, metric.value)}, measured with "
        f"{how}. "
        + (f"Ignored columns: {', '.join(excluded)}. " if excluded else "")
        + f"The search stops after {budget_seconds} seconds and keeps the best model."
    )
    return Plan(dataset_id=dataset_id, target=target, task=task, metric=metric,
                validation=validation, families=families, excluded_columns=excluded,
                budget_seconds=budget_seconds, seed=seed, rationale=rationale)
