"""A Plan in plain words, for someone who has never trained a model: the card the Plan
page shows and `modelyard plan` prints."""

from __future__ import annotations

from dataclasses import dataclass

from engine.planning.family_notes import NOTES
from engine.schemas import Metric, Plan, Task, ValidationKind

TASK_WORDS = {
    Task.binary: "a yes/no question: each row gets one of two answers",
    Task.multiclass: "a choice among several categories",
    Task.regression: "a number (how much, how many)",
}
METRIC_WORDS = {
    Metric.roc_auc: "ROC AUC: how well the model ranks the yes-cases above the no-cases "
                    "(1 is perfect, 0.5 is guessing)",
    Metric.log_loss: "log loss: how confident and right the predicted probabilities are "
                     "(lower is better)",
    Metric.accuracy: "accuracy: the share of rows predicted right (higher is better)",
    Metric.f1_macro: "F1 (macro): right answers balanced across every class, so rare "
                     "classes count as much as common ones (higher is better)",
    Metric.rmse: "RMSE: the typical size of a prediction error, with big misses counting "
                 "extra (lower is better)",
    Metric.mae: "MAE: the average size of a prediction error, in the target's units "
                "(lower is better)",
    Metric.r2: "R²: the share of the target's variation the model explains (1 is perfect, "
               "0 is no better than the average)",
}


def validation_words(plan: Plan) -> str:
    v = plan.validation
    if v.kind is ValidationKind.holdout:
        return (f"a {v.holdout_fraction:.0%} holdout: that share of rows is kept aside and "
                "only used to score the models")
    words = (f"{v.n_splits}-fold cross-validation: the rows are split into {v.n_splits} "
             f"parts, and each part is predicted by a model trained on the other "
             f"{v.n_splits - 1}")
    if v.kind is ValidationKind.stratified_kfold:
        words += ", keeping the share of each class the same in every part"
    return words


@dataclass(frozen=True)
class CardItem:
    label: str
    value: str
    why: str


def card(plan: Plan) -> list[CardItem]:
    """Each choice of the plan, what it means, and why it was made."""
    why = plan.reasons
    excluded = ", ".join(plan.excluded_columns) or "none"
    return [
        CardItem("What to predict", plan.target,
                 why.get("target") or "This column holds the answer the model learns."),
        CardItem("Kind of problem", TASK_WORDS[plan.task],
                 why.get("task") or "It follows from the values in the target column."),
        CardItem("How models are scored", METRIC_WORDS[plan.metric],
                 why.get("metric") or "A usual measure for this kind of problem."),
        CardItem("How scores are checked", validation_words(plan),
                 why.get("validation") or "Every score comes from rows the model did not "
                                          "see while training, so it predicts how the model "
                                          "does on new data."),
        CardItem("Columns left out", excluded,
                 why.get("excluded_columns") or ("Every other column is used."
                                                 if not plan.excluded_columns else "")),
        CardItem("Time budget", f"{plan.budget_seconds} seconds",
                 why.get("budget_seconds") or "The search stops then and keeps the best "
                                              "model found."),
    ]


def family_title(value: str) -> str:
    for family, note in NOTES.items():
        if family.value == value:
            return note.title
    return value


def as_text(plan: Plan) -> str:
    """The card as lines of text, for the terminal."""
    lines = []
    if plan.goal:
        lines.append(f"You asked: {plan.goal}")
    if plan.goal_reading:
        lines.append(f"Read as: {plan.goal_reading}")
    for item in card(plan):
        lines.append(f"{item.label}: {item.value}")
        if item.why:
            lines.append(f"    why: {item.why}")
    lines.append("Model families:")
    for f in plan.families:
        trials = "1 trial" if f.max_trials == 1 else f"up to {f.max_trials} trials"
        lines.append(f"  - {family_title(f.family.value)} ({f.family.value}, {trials}): "
                     f"{f.reason}")
        if f.pros:
            lines.append(f"      + {'; '.join(f.pros)}")
        if f.cons:
            lines.append(f"      - {'; '.join(f.cons)}")
    if plan.rationale:
        lines.append(f"In short: {plan.rationale}")
    return "\n".join(lines)
