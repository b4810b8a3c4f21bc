"""Words for numbers and names on the result pages, the CLI and the report: counts with
their plural, metrics by the name a person knows, durations as a clock would say them."""

from __future__ import annotations

from modelyard.engine.planning.explain import METRIC_WORDS, family_title
from modelyard.schemas import Metric


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 run`, `2 runs`, `3 classes` (with `many`)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def metric_name(metric: str | Metric | None) -> str:
    """`roc_auc` → `ROC AUC`, `log_loss` → `log loss`; an unknown name as it is."""
    if metric is None:
        return "score"
    try:
        return METRIC_WORDS[Metric(metric)].split(":", 1)[0]
    except (ValueError, KeyError):
        return str(metric)


def direction(greater_is_better: bool | None) -> str:
    """How to read a metric: which way is better."""
    return "higher is better" if greater_is_better else "lower is better"


def duration(seconds: float) -> str:
    """A tick label a person reads at a glance: `5 ms`, `0.2 s`, `10 s`, `2 min`, `1 h`."""
    if seconds < 0.1:
        return f"{seconds * 1000:g} ms"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def family_name(family: str | None) -> str:
    """A model family by its name for people; the blend of the best models as such."""
    if family == "ensemble":
        return "Blend of the best"
    if family == "stack":
        return "Stack (a model over the best models' predictions)"
    return family_title(family) if family else ""


def layer_name(layer: int | None) -> str:
    """Which layer a model is on, for people (None: the first, in older records)."""
    return ("2 · over the models' predictions" if layer == 2 else
            "1 · on the data")


# How a trial ended, in words (`TrialStatus` values).
STATE_WORDS = {"complete": "complete", "pruned": "stopped early", "failed": "failed",
               "not chosen": "blend not chosen"}


def state_name(state: str | None) -> str:
    """A trial state in words: `pruned` → `stopped early`."""
    return STATE_WORDS.get(str(state), str(state)) if state else ""
