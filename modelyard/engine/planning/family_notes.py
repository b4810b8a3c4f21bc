"""What each model family is good and bad at, in words, and what that means for one data set.

The same notes brief the language model (in the prompt) and fill the rule planner's
pros and cons, so both planners describe a family alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.schemas import FAMILY_MAX_ROWS, ColumnKind, Family, Profile


@dataclass(frozen=True)
class Note:
    title: str
    summary: str
    speed: str
    accuracy: str
    interpretability: str
    memory: str


NOTES: dict[Family, Note] = {
    Family.dummy: Note("Baseline", "predicts the most common class or the average",
                       "instant", "the score to beat", "trivial", "tiny"),
    Family.linear: Note("Linear model", "adds up one weight per feature",
                        "fast", "good when effects add up simply",
                        "high: one weight per feature", "small"),
    Family.lightgbm: Note("LightGBM", "gradient-boosted decision trees",
                          "fast, even on large tables", "usually the best on tables",
                          "medium: feature importances", "moderate"),
    Family.xgboost: Note("XGBoost", "gradient-boosted decision trees",
                         "moderate", "usually among the best on tables",
                         "medium: feature importances", "moderate"),
    Family.hist_gradient_boosting: Note("Histogram gradient boosting",
                                        "scikit-learn's gradient-boosted trees",
                                        "fast", "close to LightGBM",
                                        "medium: feature importances", "moderate"),
    Family.random_forest: Note("Random forest", "many independent deep trees, averaged",
                               "moderate", "robust, rarely the worst",
                               "medium: feature importances", "large"),
    Family.extra_trees: Note("Extra trees", "many randomised trees, averaged",
                             "fast", "a useful second opinion for the ensemble",
                             "medium: feature importances", "large"),
    Family.knn: Note("Nearest neighbours", "predicts from the most similar rows",
                     "no training, slow predictions on big tables", "good on small, smooth data",
                     "high: shows the similar rows", "keeps every training row"),
    Family.svm: Note("Support-vector machine", "finds the widest margin between classes",
                     "slow beyond a few thousand rows", "strong on small data",
                     "low", "grows with the square of the rows"),
    Family.mlp: Note("Neural network (MLP)", "layers of learned weights",
                     "moderate", "can learn curved effects, needs data",
                     "low", "moderate"),
}

_TREES = {Family.lightgbm, Family.xgboost, Family.hist_gradient_boosting,
          Family.random_forest, Family.extra_trees}


def describe_families() -> str:
    """One line per family for the prompt: what it is, speed, accuracy, limits."""
    lines = []
    for family, note in NOTES.items():  # the tabular families: the model plans tables
        limit = FAMILY_MAX_ROWS.get(family)
        extra = f"; only up to {limit} rows" if limit else ""
        lines.append(f"- {family.value}: {note.summary}; speed: {note.speed}; accuracy: "
                     f"{note.accuracy}; interpretability: {note.interpretability}; memory: "
                     f"{note.memory}{extra}")
    return "\n".join(lines)


def pros_cons(family: Family, profile: Profile) -> tuple[list[str], list[str]]:
    """Pros and cons of `family` for this data: speed, accuracy, interpretability, memory."""
    n = profile.n_rows
    kinds = [c.kind for c in profile.columns]
    has_gaps = any(c.n_missing for c in profile.columns)
    n_categorical = kinds.count(ColumnKind.categorical)
    pros: list[str] = []
    cons: list[str] = []
    if family is Family.dummy:
        pros += ["instant", "shows the score any real model must beat"]
        cons += ["ignores every feature"]
    elif family is Family.linear:
        pros += ["fast to train and to predict", "easy to explain: one weight per feature"]
        cons += ["misses interactions and curved effects"]
        if n_categorical:
            cons.append("turns each category into its own column")
    elif family in _TREES:
        if family in (Family.lightgbm, Family.xgboost, Family.hist_gradient_boosting):
            pros.append("usually the most accurate family on tables")
        else:
            pros.append("robust with little tuning")
        if has_gaps:
            pros.append("copes with the missing values in this data")
        if family in (Family.random_forest, Family.extra_trees):
            cons.append("large in memory: hundreds of deep trees")
        else:
            cons.append("harder to explain than a linear model")
        if n < 500:
            cons.append(f"can overfit a small table ({n} rows)")
        elif n > 100_000 and family is Family.xgboost:
            cons.append(f"slower than LightGBM on {n} rows")
    elif family is Family.knn:
        pros += ["simple: predicts from the most similar rows", "no training time"]
        cons.append(f"each prediction compares against all {n} rows")
        if len(kinds) > 30:
            cons.append("weak when there are many columns")
    elif family is Family.svm:
        pros.append("strong on small data sets with clear margins")
        cons.append(f"training time grows with the square of the rows ({n} here)")
        cons.append("hard to explain")
    elif family is Family.mlp:
        pros.append("can learn curved effects and interactions")
        cons.append("needs more data and tuning than trees")
        cons.append("hard to explain")
    return pros[:3], cons[:3]
