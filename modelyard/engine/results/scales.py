"""Axes that do not mislead: a score axis spans the models that compete, a time axis on
a log scale is labelled in plain durations.

Score axes. Trials that ignore the features (the baseline) or fail badly sit far below
the rest; an axis from them to the best squeezes 0.98 and 0.995 into one line. So the
axis spans a robust low quantile of the competing scores to the best, with some padding,
and what falls outside is said (how many trials; the baseline as a labelled line when
it is in range, else in words).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from modelyard.engine.results.words import duration

LOW_QUANTILE = 0.1  # the weakest tenth of the competing trials may fall below the axis
PADDING = 0.08


@dataclass(frozen=True)
class ScoreRange:
    """A score axis: `low` to `high` (the worse end first for a higher-is-better metric),
    how many scores fall outside it, and whether the baseline is inside."""

    low: float
    high: float
    hidden: int
    baseline_shown: bool

    @property
    def range(self) -> list[float]:
        """The axis range, bottom to top."""
        return [self.low, self.high]


def score_range(scores: Iterable[float | None], greater_is_better: bool,
                baseline: float | None = None, quantile: float = LOW_QUANTILE
                ) -> ScoreRange | None:
    """The axis for competing `scores` (the baseline's left out); None when there is
    nothing to scale (the plot's own range is right then). `quantile`: the share of the
    weakest scores that may fall outside (0: none)."""
    finite = [float(s) for s in scores if s is not None and math.isfinite(s)]
    if not finite:
        return None
    # Best first: the worse end is the score `quantile` of the way from the worst, so
    # that one broken trial does not set the scale (and with few trials, none is left out).
    ordered = sorted(finite, reverse=greater_is_better)
    best = ordered[0]
    worst = ordered[-1 - math.floor(quantile * len(ordered))]
    span = abs(best - worst) or abs(best) * 0.01 or 0.01
    low, high = sorted((worst, best))
    low, high = low - PADDING * span, high + PADDING * span
    hidden = sum(1 for s in finite if s < low or s > high)
    shown = baseline is not None and math.isfinite(baseline) and low <= baseline <= high
    return ScoreRange(low, high, hidden, shown)


def baseline_words(baseline: float, axis: ScoreRange | None,
                   sides: tuple[str, str] = ("below", "above")) -> str:
    """Where the baseline is when it is not drawn: below (or above) the chart; `sides`
    for a horizontal score axis ("left of", "right of")."""
    where = ""
    if axis is not None and not axis.baseline_shown:
        where = f" ({sides[0] if baseline < axis.low else sides[1]} the chart)"
    return f"the baseline that ignores the features scores {baseline:.4g}{where}"


_TICKS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
          1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 18000, 36000,
          86400]
_ROUND = {0.0001, 0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 36000, 86400}


def time_ticks(seconds: Iterable[float | None], most: int = 7) -> tuple[list[float],
                                                                          list[str]]:
    """Tick values and labels (`0.1 s`, `1 s`, `1 min`) for a log axis of durations."""
    finite = [float(s) for s in seconds if s is not None and math.isfinite(s) and s > 0]
    if not finite:
        return [], []
    lo, hi = min(finite), max(finite)
    inside = [t for t in _TICKS if lo / 2 <= t <= hi * 2] or [
        min(_TICKS, key=lambda t: abs(math.log10(t) - math.log10(lo)))]
    if len(inside) > most:  # too many: the decades (and the minute, the hour) only
        inside = [t for t in inside if t in _ROUND] or inside
    step = max(1, math.ceil(len(inside) / most))
    chosen = inside[::step]
    return chosen, [duration(t) for t in chosen]
