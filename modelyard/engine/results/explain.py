"""Which columns the model leans on, overall (importance) and for one row (contributions).

Models see prepared features (one-hot columns, missing-value flags, date parts); every
number here is added back up to the column a person knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.training import families
from modelyard.engine.training.bagging import BaggedModel
from modelyard.engine.training.bundle import Predictor
from modelyard.engine.training.ensemble import WeightedEnsemble
from modelyard.engine.training.evaluate import predict_matrix
from modelyard.engine.training.metrics import score
from modelyard.engine.training.preprocess import DateParts, NativeFrame, TextComponents
from modelyard.schemas import Metric


def _explains_rows(family: str | None) -> bool:
    return families.known(family or "") and families.get(family).explains_rows


def _explainers() -> str:
    """The families that give per-row contributions, for people: "A, B, C"."""
    return ", ".join(f.title for f in families.REGISTRY.values() if f.explains_rows)


# -- from prepared features back to the columns -----------------------------------------------
def _dates_of(prepare) -> list[str]:
    steps = getattr(prepare, "named_steps", {})
    return list(steps["dates"].columns) if "dates" in steps else []


def _inner(prepare):
    steps = getattr(prepare, "named_steps", {})
    # Dates, then text components, each wrap the next preparation as "features".
    return _inner(steps["features"]) if "features" in steps else prepare


def _text_parts(prepare) -> dict[str, str]:
    """Each text component's name (`TextComponents`) → the text column it comes from."""
    steps = getattr(prepare, "named_steps", {})
    found = {}
    if isinstance(steps.get("text"), TextComponents):
        step = steps["text"]
        found = {part: col for col in step.columns
                 for part in TextComponents.names([col], step.n_components)}
    return found | (_text_parts(steps["features"]) if "features" in steps else {})


def source_columns(pipeline) -> list[str]:
    """For each prepared feature the model sees, the input column it comes from."""
    prepare = pipeline.named_steps["prepare"]
    dates, inner = _dates_of(prepare), _inner(prepare)
    if isinstance(inner, NativeFrame):  # a NativeTextFrame adds its text columns
        names = list(inner.numeric) + list(inner.categorical) + list(getattr(inner, "texts", []))
    else:  # a ColumnTransformer: "num__x", "num__missingindicator_x", "cat__x_value", ...
        names = []
        groups = {name: list(cols) for name, _, cols in inner.transformers_
                  if name != "remainder"}
        for out in inner.get_feature_names_out():
            group, _, rest = str(out).partition("__")
            cols = groups.get(group, [])
            if rest in cols:
                names.append(rest)
            elif rest.startswith("missingindicator_") and rest[17:] in cols:
                names.append(rest[17:])
            else:  # a one-hot column: the longest column name it starts with
                found = [c for c in cols if rest.startswith(f"{c}_")]
                # A text column's n-grams ("text_review" group) all belong to it.
                names.append(max(found, key=len) if found
                             else cols[0] if len(cols) == 1 else rest)
    date_of = {part: col for col in dates for part in DateParts.names([col])}
    date_of |= _text_parts(prepare)
    return [date_of.get(n, n) for n in names]


def _by_column(values: np.ndarray, sources: list[str]) -> pd.Series:
    return pd.Series(values, index=sources).groupby(level=0, sort=False).sum()


# -- importance --------------------------------------------------------------------------------
def model_importance(predictor: Predictor) -> pd.DataFrame | None:
    """The model's own importance (gain for boosters, impurity for forests, |coefficient|
    on standardised features for linear models), per column, summing to 1; None for
    models without one (ensembles, stacks, k-NN, SVM, networks). A bagged model's is the
    mean over its fold models (each fold prepared its own features: added up per column
    first)."""
    pipeline = predictor.pipeline
    if not isinstance(pipeline, BaggedModel) and not hasattr(pipeline, "named_steps"):
        return None  # a blend or a stack
    family = predictor.meta.get("family") or ""
    if not families.known(family):
        return None
    folds = pipeline.members if isinstance(pipeline, BaggedModel) else [pipeline]
    columns = []
    for fold in folds:
        found = families.get(family).own_importance(fold.named_steps["model"])
        if found is None:
            return None
        raw, kind = found
        columns.append(_by_column(np.asarray(raw, dtype=float), source_columns(fold)))
    per_column = pd.concat(columns, axis=1).fillna(0.0).mean(axis=1)
    total = per_column.sum()
    if not np.isfinite(total) or total <= 0:
        return None
    frame = (per_column / total).sort_values(ascending=False).rename("importance")
    return frame.rename_axis("feature").reset_index().assign(kind=kind)


def permutation_importance(predictor: Predictor, table: pd.DataFrame, *, max_rows: int = 2000,
                           repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """How much the score drops when one column's values are shuffled (any model, blends
    included). On the training rows, which the final model has seen: it says what the
    model uses, not how well it generalises."""
    meta = predictor.meta
    metric = Metric(meta["metric"])
    rows = table.sample(n=max_rows, random_state=seed) if len(table) > max_rows else table
    X = rows[predictor.features].reset_index(drop=True)
    classes = predictor.classes
    if classes:
        lookup = {str(c): i for i, c in enumerate(classes)}
        y = np.array([lookup[str(v)] for v in rows[meta["target"]]])
    else:
        y = rows[meta["target"]].to_numpy(float)
    sign = 1.0 if metric.greater_is_better else -1.0

    def scored(frame: pd.DataFrame) -> float:
        pred = predict_matrix(predictor.pipeline, frame, bool(classes), len(classes))
        return sign * score(metric, y, pred, len(classes))

    baseline = scored(X)
    rng = np.random.default_rng(seed)
    drops = []
    for col in predictor.features:
        found = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[col] = X[col].to_numpy()[rng.permutation(len(X))]
            found.append(baseline - scored(shuffled))
        drops.append((col, float(np.mean(found)), float(np.std(found))))
    frame = pd.DataFrame(drops, columns=["feature", "importance", "spread"])
    return frame.sort_values("importance", ascending=False, ignore_index=True).assign(
        kind=f"how much {metric.value} worsens when the column is shuffled")


# -- per-row contributions ---------------------------------------------------------------------
@dataclass
class Contributions:
    """How each column moved one row's prediction away from the model's baseline, in the
    model's raw output (log-odds for classifiers, the value itself for regression)."""

    values: pd.Series  # per input column, largest effect first
    base: float
    output: str  # what the numbers add up to
    class_label: Any | None
    explained_by: str  # which model: the winner, or the member of a blend
    two_classes: bool = False  # one output, whose total maps to a probability

    @property
    def total(self) -> float:
        return float(self.base + self.values.sum())

    def scale_words(self) -> str:
        """What the numbers mean, for someone who has never met log-odds."""
        if self.class_label is None:
            return f"The numbers are in the units of the {self.output.split(' ', 1)[-1]}."
        text = ("The numbers are the model's evidence for “{c}” (its log-odds): 0 means "
                "even odds, and each +1 makes “{c}” about 2.7 times as likely against the "
                "rest.").format(c=self.class_label)
        if self.two_classes:
            text += (f" This row adds up to {self.total:+.2f}: a probability of "
                     f"{1 / (1 + np.exp(-self.total)):.0%}.")
        else:
            text += " The probabilities come from weighing every class's evidence together."
        return text


def _explainable(predictor: Predictor) -> tuple[Any, str, str]:
    """The fitted pipeline to explain, its family, and how to say which model it is."""
    pipeline, meta = predictor.pipeline, predictor.meta
    if not isinstance(pipeline, (WeightedEnsemble, BaggedModel)) \
            and not hasattr(pipeline, "named_steps"):
        raise BadInputError("Per-row contributions are not available for a stacked model: "
                            "its second layer weighs the first layer's predictions, not "
                            "the columns.", "Use the feature importance instead.")
    if isinstance(pipeline, WeightedEnsemble):
        members = meta.get("params", {}).get("members", [])
        ranked = sorted(zip(members, pipeline.members, pipeline.weights, strict=True),
                        key=lambda m: -m[2])
        for member, fitted, weight in ranked:
            if _explains_rows(member["family"]):
                return fitted, member["family"], (f"its {member['model']} member "
                                                  f"(weight {weight:.2f} of the blend)")
        raise BadInputError(f"Per-row contributions need one of these models: "
                            f"{_explainers()}; this blend has none.",
                            "Use the feature importance instead.")
    family = meta.get("family")
    if not _explains_rows(family):
        raise BadInputError(f"Per-row contributions are available for these models: "
                            f"{_explainers()}; the winner is a {family} model.",
                            "Use the feature importance instead.")
    return pipeline, family, f"the winner, {meta.get('model')}"


def contributions(predictor: Predictor, row: pd.DataFrame,
                  class_label: Any | None = None) -> Contributions:
    """Contributions of each column to the prediction for the first row of `row`
    (LightGBM/XGBoost `pred_contrib`, or coefficient × value for linear models), towards
    `class_label` (default: the predicted class)."""
    pipeline, family, who = _explainable(predictor)
    classes = predictor.classes
    X = row[predictor.features].iloc[:1]
    n_out = len(classes) if len(classes) > 2 else 1
    # A bag: each fold model's contributions, per input column, averaged (the bag
    # averages probabilities, so the total is close to, not exactly, its log-odds).
    folds = pipeline.members if isinstance(pipeline, BaggedModel) else [pipeline]
    if len(folds) > 1:
        who = f"{who}, averaged over its {len(folds)} fold models"
    found = [(families.get(family).row_contributions(
        fold.named_steps["model"], fold[:-1].transform(X), n_out), source_columns(fold))
        for fold in folds]
    if classes:
        proba = predict_matrix(predictor.pipeline, X, True, len(classes))[0]
        k = classes.index(class_label) if class_label is not None else int(proba.argmax())
        if len(classes) == 2:  # one output: the log-odds of the second class
            vectors = [(pc[0] if k == 1 else -pc[0], cols) for pc, cols in found]
        else:
            vectors = [(pc[k], cols) for pc, cols in found]
        output, label = f"evidence for “{classes[k]}”", classes[k]
    else:
        vectors = [(pc[0], cols) for pc, cols in found]
        output, label = f"predicted {predictor.meta['target']}", None
    values = pd.concat([_by_column(v[:-1], cols) for v, cols in vectors], axis=1) \
        .fillna(0.0).mean(axis=1)
    base = float(np.mean([v[-1] for v, _ in vectors]))
    values = values.reindex(values.abs().sort_values(ascending=False).index)
    return Contributions(values, base, output, label, who, len(classes) == 2)
