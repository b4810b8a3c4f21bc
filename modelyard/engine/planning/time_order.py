"""Whether a plan checks its scores in time order: the one decision, and its words for the
Data page and the plan's reasons, so the two never disagree.

A date column alone does not make a time order: customers' sign-up dates in a table of
customers are a feature, and shuffled folds score such a table fairly. Rows *kept in
date order* (a log, a ledger, daily readings) are different: their later rows are what a
model will be asked about, and shuffled folds would let it learn from the future of the
rows it is scored on. So the rule planner validates in time order when the rows are
sorted by a date column with enough distinct dates to split on, or when the person gave
a column the role `time`; otherwise it shuffles and says how to ask for time order.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.schemas import ColumnRole, Profile

# Fewer distinct dates than this are batches, not a time line to split into blocks.
MIN_TIMES = 10


@dataclass(frozen=True)
class TimeOrder:
    """What the data says about time: the date column, and whether plans split on it."""

    column: str
    split: bool  # plans validate on later rows by `column`
    by_role: bool  # the person gave `column` the role time
    why: str  # one plain sentence: what was found and what plans do about it


def time_order(profile: Profile) -> TimeOrder | None:
    """The time order plans follow, or None when the data has no date column."""
    chosen = next((c for c in profile.columns if c.role == ColumnRole.time), None)
    if chosen is not None:
        return TimeOrder(chosen.name, True, True,
                         f"“{chosen.name}” has the role time, so every score comes from "
                         "later rows than the model learned from.")
    name = profile.time_column
    if not name or name not in profile.column_names:
        return None
    distinct = profile.column(name).n_distinct
    if profile.findings.get("time_sorted") and distinct >= MIN_TIMES:
        return TimeOrder(name, True, False,
                         f"The rows are in time order by “{name}”, so every score comes from "
                         "later rows than the model learned from, as when it predicts new "
                         "rows.")
    how = (f"If the model will predict rows that come later in time, give “{name}” the role "
           "time (Data page, Roles) and make a new plan: scores then come from later rows.")
    if profile.findings.get("time_sorted"):
        return TimeOrder(name, False, False,
                         f"The rows are sorted by “{name}”, but it holds only {distinct} "
                         f"different dates, too few to split on, so the rows are shuffled "
                         f"into folds. {how}")
    return TimeOrder(name, False, False,
                     f"“{name}” holds dates, but the rows are not in date order, so they are "
                     f"shuffled into folds. {how}")
