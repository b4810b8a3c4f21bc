"""The rule planner: deterministic, always available, valid for any usable Profile."""

from __future__ import annotations

from modelyard.engine.errors import PlanError, did_you_mean
from modelyard.engine.intake.target import CHOSEN, task_for
from modelyard.engine.planning.family_notes import pros_cons
from modelyard.engine.planning.time_order import time_order
from modelyard.engine.training import families
from modelyard.schemas import (
    ColumnKind,
    ColumnRole,
    FamilyChoice,
    Metric,
    Plan,
    Profile,
    Task,
    Validation,
    ValidationKind,
)

DEFAULT_METRIC = {Task.binary: Metric.roc_auc, Task.multiclass: Metric.log_loss,
                  Task.regression: Metric.rmse, Task.multilabel: Metric.f1_micro,
                  Task.text_to_text: Metric.exact_match}
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
# Fewer folds when the budget is short for the data: the first round of library defaults
# (FIRST_ROUND families) should take at most half the budget, so the search has time.
# One default fit costs roughly SECONDS_PER_CELL per row per unit of width (a number or
# category is 1, a date 6, a text column the non-zeros of its TF-IDF: about
# TFIDF_PER_CHAR per character); measured with linear models and LightGBM on 2 cores.
FIRST_ROUND = 4
SECONDS_PER_CELL = 2e-6
TFIDF_PER_CHAR = 2.5
_UNUSED_KINDS = {ColumnKind.id: "an identifier", ColumnKind.constant: "constant"}


# Which families the rule planner tries, with how many trials, up to the largest data set
# (rows) each is worth trying on: planning policy, not a family fact (a family's own
# `max_rows` is the most it can finish on; here slower or weaker families are left out
# sooner, where they would only eat the budget). The reasons are the families' own words.
# CatBoost is often the most accurate at its defaults, and the best with categorical
# columns, but it fits far slower than LightGBM (measured, 5 folds on one thread: 7-36 s
# against 2-3 s at 5,000-7,000 rows; 160 s against 5 s at 54,000): worth its share of
# the budget up to moderate sizes. A Plan holds at most MAX_FAMILIES; the list
# is in order of priority, so on small tables (where all would qualify) the weakest on
# tables, nearest neighbours, is the one left out.
MAX_FAMILIES = 8
_FAMILY_RULES: list[tuple[str, int, int]] = [
    ("dummy", 1, 10**12),
    ("linear", 30, 10**12),
    ("lightgbm", 300, 10**12),
    ("xgboost", 300, 10**12),
    ("catboost", 100, 50_000),
    ("random_forest", 50, 10**12),
    ("extra_trees", 50, 10**12),
    ("svm", 30, 3_000),
    ("knn", 30, 20_000),
]


def default_trials(family: str) -> int:
    """The trials the rule planner gives `family` (30 for one it does not choose)."""
    return next((t for f, t, _ in _FAMILY_RULES if f == family), 30)


def feature_width(profile: Profile, target: str) -> float:
    """How much a row weighs in a fit: 1 per number or category, 6 per date (its parts),
    and per text column the rough number of TF-IDF non-zeros of its mean length."""
    width = 0.0
    for col in profile.columns:
        if col.name == target or col.kind in _UNUSED_KINDS:
            continue
        if col.kind is ColumnKind.text:
            width += TFIDF_PER_CHAR * float(col.text_length.get("mean") or 0.0)
        elif col.kind is ColumnKind.datetime:
            width += 6
        else:
            width += 1
    return max(width, 1.0)


def folds_for(profile: Profile, target: str, budget_seconds: int) -> int:
    """5 folds when the first round of defaults fits in half the budget with them, else 3,
    else 1 (a holdout)."""
    fit = profile.n_rows * feature_width(profile, target) * SECONDS_PER_CELL
    for k in (5, 3):
        if FIRST_ROUND * k * fit * (k - 1) / k <= budget_seconds / 2:
            return k
    return 1


def choose_families(n_rows: int, profile: Profile | None = None) -> list[FamilyChoice]:
    chosen = []
    for f, trials, max_rows in _FAMILY_RULES:
        if n_rows > max_rows:
            continue
        pros, cons = pros_cons(f, profile) if profile is not None else ([], [])
        chosen.append(FamilyChoice(family=f, max_trials=trials, reason=families.get(f).why,
                                   pros=pros, cons=cons))
    return chosen[:MAX_FAMILIES]


# Pretrained families (TabPFN, TabICL) join a plan only where their weights are here
# and the table is within what they were pretrained for (`fits_table`); one trial each,
# since they are not searched. They take the places of the last rule families (a
# foundation model a person put the weights of here is worth more than nearest neighbours)
# and come right after the fast boosters: the first round tries each family's defaults in
# plan order, and at the end a short budget would never reach them.
PRETRAINED = ("tabpfn", "tabicl")
_BEFORE_PRETRAINED = ("dummy", "linear", "lightgbm", "xgboost")


def with_pretrained(chosen: list[FamilyChoice], profile: Profile, target: str, task: Task
                    ) -> list[FamilyChoice]:
    """`chosen` with the pretrained families that can run on this table here."""
    extra = []
    for name in PRETRAINED:
        family = families.get(name)
        if family.fits_table(profile, target, task) is None:
            pros, cons = pros_cons(name, profile)
            extra.append(FamilyChoice(family=name, max_trials=1,
                                      reason=family.plan_reason(task), pros=pros,
                                      cons=cons))
    if not extra:
        return chosen
    kept = chosen[:MAX_FAMILIES - len(extra)]
    at = sum(c.family in _BEFORE_PRETRAINED for c in kept)
    return kept[:at] + extra + kept[at:]


def rule_plan(
    profile: Profile,
    dataset_id: str,
    *,
    target: str | None = None,
    budget_seconds: int = 300,
    seed: int = 0,
    metric: Metric | None = None,
) -> Plan:
    """A sound default Plan for this Profile, with its reasons in plain words.

    `metric` replaces the default metric when it fits the task.
    """
    if profile.modality == "audio":
        from modelyard.engine.audio.plan import audio_plan

        return audio_plan(profile, dataset_id, budget_seconds=budget_seconds, seed=seed)
    if profile.modality == "image":
        from modelyard.engine.vision.plan import image_plan

        return image_plan(profile, dataset_id, budget_seconds=budget_seconds, seed=seed)
    from modelyard.engine.multilabel.plan import labels_for, multilabel_plan

    if (labels := labels_for(profile, target)) is not None:
        first = labels.columns[0] if labels.columns else profile.target.column
        excluded = [c.name for c in profile.columns if c.kind in _UNUSED_KINDS
                    and c.name != first and c.name not in labels.columns]
        return multilabel_plan(profile, dataset_id, labels, budget_seconds=budget_seconds,
                               seed=seed, metric=metric, excluded=excluded,
                               reasons={"target": _target_reason(target is not None,
                                                                 profile.target)})
    if profile.modality == "text_to_text" and (
            target is None or target == (profile.target.column if profile.target else None)):
        from modelyard.engine.text_to_text.plan import text_plan

        return text_plan(profile, dataset_id, target=target, budget_seconds=budget_seconds,
                         seed=seed)
    target_given = target is not None
    if target is None:
        if profile.target is None:
            raise PlanError("No column looks like something to predict.",
                            "Choose the target column yourself.")
        target = profile.target.column
    if target not in profile.column_names:
        raise PlanError(f"There is no column “{target}”.",
                        did_you_mean(target, profile.column_names)
                        + "Choose one of the data set's columns as the target.")
    col = profile.column(target)
    if col.n_distinct < 2:
        raise PlanError(f"The target “{target}” has a single value: there is nothing to learn.",
                        "Choose another target column.")
    task = task_for(col, profile.n_rows)
    metric_given = metric is not None and metric.fits(task)
    if not metric_given:
        metric = DEFAULT_METRIC[task]

    # Roles the person gave decide the split: rows of one group stay together, and time
    # runs forward (validation always after training); so does data kept in time order
    # (time_order.py says when, and why not otherwise).
    group = next((c.name for c in profile.columns if c.role == ColumnRole.group), None)
    timing = time_order(profile)
    k = folds_for(profile, target, budget_seconds)
    if timing is not None and timing.split and (timing.by_role or group is None):
        splits = 5 if timing.by_role else 2 if profile.n_rows > HOLDOUT_ROWS else max(2, k)
        validation = Validation(kind=ValidationKind.time_split, n_splits=splits,
                                time_column=timing.column)
        how = (f"{splits} splits in time order by “{timing.column}”, always validating on "
               "later rows")
    elif group is not None:
        validation = Validation(kind=ValidationKind.group_kfold, n_splits=5,
                                group_column=group)
        how = f"5-fold cross-validation keeping each “{group}” group in a single fold"
    elif profile.n_rows > HOLDOUT_ROWS:
        validation = Validation(kind=ValidationKind.holdout, holdout_fraction=0.2)
        how = "a 20% holdout (the data set is large)"
    elif k == 1:
        validation = Validation(kind=ValidationKind.holdout, holdout_fraction=0.2)
        how = (f"a 20% holdout (cross-validating {profile.n_rows:,} rows would leave "
               f"little of the {budget_seconds} s budget for the search)")
    elif task.is_classification:
        validation = Validation(kind=ValidationKind.stratified_kfold, n_splits=k)
        how = f"{k}-fold cross-validation keeping the class balance in every fold"
    else:
        validation = Validation(kind=ValidationKind.kfold, n_splits=k)
        how = f"{k}-fold cross-validation"

    excluded = [c.name for c in profile.columns
                if c.name != target and c.kind in _UNUSED_KINDS]
    families = with_pretrained(choose_families(profile.n_rows, profile), profile, target,
                               task)
    if profile.modality == "mixed":  # with a GPU, the late-fusion network too
        from modelyard.engine.mixed.plan import with_fusion
        from modelyard.engine.training.families.base import cuda_available

        families = with_fusion(families, profile, cuda_available())
    # The neural networks for tables, where the budget has room for them (nets_rule.py).
    from modelyard.engine.planning.nets_rule import net_choices, with_nets

    splits = 1 if validation.kind is ValidationKind.holdout else validation.n_splits
    families = with_nets(families, net_choices(profile, budget_seconds, splits),
                         MAX_FAMILIES, profile)
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
    guess = profile.target
    reasons = {
        "target": _target_reason(target_given, guess),
        "task": _task_reason(task, col),
        "metric": ("It is the measure you asked for." if metric_given else
                   _METRIC_REASONS[task]),
        "validation": (timing.why
                       if timing is not None and validation.time_column == timing.column
                       else f"Every score comes from {how}, so it shows how the model does "
                            "on rows it has not seen."
                       + (f" {timing.why}" if timing is not None and group is None else "")),
        "excluded_columns": ("; ".join(f"“{c.name}” is {_UNUSED_KINDS[c.kind]}"
                                       for c in profile.columns if c.name in excluded) + "."
                             if excluded else "Every other column can help the model."),
    }
    return Plan(dataset_id=dataset_id, target=target, task=task, metric=metric,
                validation=validation, families=families, excluded_columns=excluded,
                budget_seconds=budget_seconds, seed=seed, rationale=rationale,
                reasons=reasons)


_METRIC_REASONS = {
    Task.binary: "ROC AUC judges how well the model ranks cases, and is not fooled when "
                 "one answer is much more common than the other.",
    Task.multiclass: "Log loss rewards probabilities that are both confident and right, "
                     "across every class.",
    Task.regression: "RMSE is in the target's own units and punishes big misses most.",
}


def _target_reason(given: bool, guess) -> str:
    """Who chose the target, or why it looks like one (the profile's reason)."""
    if given or (guess and guess.reason == CHOSEN):
        return "You chose it."
    if guess is None:
        return ""
    if guess.confidence >= 1.0:  # named, not guessed: by a sample, a sample submission
        return f"{guess.reason[:1].upper()}{guess.reason[1:]}."
    return f"It looks like the thing to predict: {guess.reason}."


def _task_reason(task: Task, col) -> str:
    if task is Task.binary:
        return f"“{col.name}” has exactly two values."
    if task is Task.multiclass:
        return f"“{col.name}” has {col.n_distinct} distinct values, each a category."
    return f"“{col.name}” is a number with {col.n_distinct} distinct values."
