"""From a goal in a person's own words ("which customers will leave") to a target column,
a task and a metric, by matching words against column names and values.

This is the reading used when no language model is available; it says how it read the
request so a person can correct it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.engine.intake.target import MAX_CLASSES, task_for
from modelyard.schemas import ColumnKind, ColumnProfile, Metric, Profile, Task

_STOP = {
    "a", "an", "the", "of", "for", "to", "in", "on", "at", "by", "and", "or", "is", "are",
    "be", "will", "would", "which", "what", "who", "whom", "whether", "if", "how", "much",
    "many", "do", "does", "did", "i", "we", "want", "like", "know", "predict", "prediction",
    "forecast", "estimate", "guess", "find", "out", "tell", "me", "us", "our", "my", "their",
    "its", "it", "this", "that", "these", "those", "each", "every", "per", "row", "rows",
    "get", "going", "can", "could", "should", "likely", "chance", "probability", "model",
}
# Words people use for what a column is often called, both ways round.
_SYNONYMS: dict[str, set[str]] = {
    "leave": {"churn", "churned", "attrition", "exit", "exited", "left", "cancel", "quit"},
    "churn": {"leave", "attrition", "exit", "exited", "left", "cancel"},
    "price": {"cost", "value", "saleprice", "amount", "worth"},
    "cost": {"price", "charge", "charges", "amount", "expense"},
    "survive": {"survived", "survival", "alive", "died", "death"},
    "die": {"survived", "death", "died", "mortality"},
    "buy": {"purchase", "purchased", "converted", "conversion", "bought"},
    "click": {"clicked", "ctr"},
    "fraud": {"fraudulent", "is_fraud"},
    "pay": {"default", "paid", "repaid"},
    "default": {"pay", "delinquent"},
    "earn": {"income", "salary", "wage", "wages"},
    "income": {"salary", "earn", "wage"},
    "sell": {"sales", "sold", "revenue"},
    "revenue": {"sales", "income"},
    "cancer": {"diagnosis", "malignant", "benign", "tumor"},
    "sick": {"disease", "diagnosis", "illness"},
    "disease": {"diagnosis", "progression"},
    "kind": {"type", "class", "species", "category", "label"},
    "type": {"kind", "class", "species", "category"},
    "good": {"quality", "rating", "score"},
    "rating": {"quality", "score", "stars"},
}
# Words that say which measure of success the person cares about.
_METRIC_HINTS: list[tuple[tuple[str, ...], Task | None, Metric, str]] = [
    (("rank", "ranking", "risk", "likelihood", "probability", "chance"), Task.binary,
     Metric.roc_auc, "you asked about how likely each case is"),
    (("rare", "imbalanced", "balanced", "minority"), None, Metric.f1_macro,
     "you mentioned rare cases, so every class counts alike"),
    (("accurate", "accuracy", "correct", "right"), None, Metric.accuracy,
     "you asked for the share of right answers"),
    (("average error", "typical error", "off by", "mae"), Task.regression, Metric.mae,
     "you asked about the typical size of an error"),
    (("explained", "variance", "r2"), Task.regression, Metric.r2,
     "you asked how much of the variation is explained"),
]
_NUMBER_WORDS = ("how much", "how many", "price", "amount", "number of", "cost", "value of")


@dataclass(frozen=True)
class GoalReading:
    """How a goal was read: the column, the task, the metric, and in words why."""

    target: str | None
    task: Task | None
    metric: Metric | None
    confidence: float
    explanation: str


def words(text: str) -> list[str]:
    """Lower-case word pieces: `MonthlyCharges_2` -> monthly, charges, 2."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w for w in re.split(r"[^0-9a-zA-Z]+", text.lower()) if w]


def _root(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e", "d"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _roots(word: str) -> set[str]:
    """`word` without its ending; for -ied/-ies also with the -y it came from
    (denied: deni and deny, so that it meets both "deny" and "denial")."""
    out = {_root(word)}
    if len(word) > 4 and word.endswith(("ied", "ies")):
        out.add(word[:-3] + "y")
    return out


def _same(a: str, b: str) -> bool:
    """The same word up to an ending: churn/churned, leave/leaving, charge/charged,
    deny/denied."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    for ra in _roots(a):
        for rb in _roots(b):
            short, long_ = sorted((ra, rb), key=len)
            if long_.startswith(short) and len(long_) - len(short) <= 2:
                return True
    return False


def _expand(goal_words: list[str]) -> set[str]:
    found = set(goal_words)
    for w in goal_words:
        for key, similar in _SYNONYMS.items():
            if _same(w, key):
                found |= similar
    return found


def _score(col: ColumnProfile, wanted: set[str]) -> tuple[float, str]:
    name_words = words(col.name)
    hits = [w for w in name_words if any(_same(w, x) for x in wanted)]
    if hits:
        return 2.0 + len(hits) / len(name_words), f"its name matches “{hits[0]}”"
    joined = "".join(name_words)
    for w in sorted(wanted):
        if len(w) >= 4 and w in joined:
            return 1.5, f"its name contains “{w}”"
    for w in sorted(wanted):
        if len(joined) >= 5 and w.startswith(joined):  # "unemploy" for "unemployment"
            return 1.5, f"its name is short for “{w}”"
    for value, _ in col.top_values:
        for v in words(value):
            if any(_same(v, x) for x in wanted):
                return 1.0, f"its values include “{value}”"
    return 0.0, ""


_FORECAST = re.compile(r"\b(forecast\w*|future|ahead|next\s+(\d+\s+)?(day|week|month|"
                       r"quarter|year|hour)s?)\b", re.IGNORECASE)


def asks_for_forecast(goal: str) -> bool:
    """Whether a goal asks for future values ("forecast sales", "the next 12 months")."""
    return bool(_FORECAST.search(goal or ""))


def forecast_target(goal: str | None, profile: Profile) -> str | None:
    """The column to forecast when `goal` asks for future values and the profile found
    its rows to be a time series: the number column the rest of the goal names ("the
    next 12 months" says when, not what), else the likely target. None otherwise."""
    if not (goal and asks_for_forecast(goal) and profile.findings.get("forecasting")):
        return None
    named = read_goal(_FORECAST.sub(" ", goal), profile).target
    if named is None or profile.column(named).kind is not ColumnKind.numeric:
        named = profile.target.column if profile.target else None
    return named


def read_goal(goal: str, profile: Profile) -> GoalReading:
    """The column and task a goal asks for, by name matching; target None if nothing fits."""
    goal_words = [w for w in words(goal) if w not in _STOP]
    wanted = _expand(goal_words)
    best: tuple[float, ColumnProfile, str] | None = None
    for col in profile.columns:
        if col.kind in (ColumnKind.id, ColumnKind.constant, ColumnKind.text):
            continue
        if col.kind is ColumnKind.categorical and col.n_distinct > MAX_CLASSES:
            continue
        score, why = _score(col, wanted)
        if score and (best is None or score > best[0]):
            best = (score, col, why)
    if best is None:
        return GoalReading(None, None, None, 0.0,
                           f"No column name matches “{goal.strip()}”.")
    score, col, why = best
    task = task_for(col, profile.n_rows)
    lowered = goal.lower()
    if task is not Task.regression and col.kind is ColumnKind.numeric and any(
            w in lowered for w in _NUMBER_WORDS) and col.n_distinct > 2:
        task = Task.regression  # "how many" over a whole-number column asks for a number
    metric, metric_why = None, ""
    for hints, for_task, candidate, because in _METRIC_HINTS:
        if any(h in lowered for h in hints) and (for_task in (None, task)) \
                and candidate.fits(task):
            metric, metric_why = candidate, because
            break
    task_words = {Task.binary: "a yes/no question", Task.multiclass: "a choice among "
                  f"{col.n_distinct} categories", Task.regression: "a number to predict"}
    explanation = (f"I read “{goal.strip()}” as predicting the column “{col.name}”, "
                   f"{task_words[task]}, because {why}.")
    if metric is not None:
        explanation += f" Scored by {metric.value}, because {metric_why}."
    return GoalReading(col.name, task, metric, round(min(0.95, 0.3 + score / 4), 2),
                       explanation)
