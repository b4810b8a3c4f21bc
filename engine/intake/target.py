"""Guess which column is the target and what kind of problem it poses."""

from __future__ import annotations

from engine.schemas import ColumnKind, ColumnProfile, Profile, TargetGuess, Task

# Names people give the thing they want to predict, strongest first.
_TARGET_WORDS = (
    "target", "label", "labels", "class", "y", "outcome", "response", "survived", "churn",
    "default", "diagnosis", "species", "price", "saleprice", "quality", "result", "income",
    "progression", "cultivar", "fraud", "is_fraud", "converted", "clicked", "sales",
)
_UNUSABLE = {ColumnKind.id, ColumnKind.constant, ColumnKind.text, ColumnKind.datetime}
MAX_CLASSES = 100


def task_for(col: ColumnProfile, n_rows: int) -> Task:
    """The problem type a column implies as a target."""
    if col.kind is ColumnKind.boolean or col.n_distinct == 2:
        return Task.binary
    if col.kind is ColumnKind.numeric:
        whole = col.dtype.startswith(("Int", "UInt")) or _all_whole(col)
        few = col.n_distinct <= max(10, min(30, n_rows // 20))
        return Task.multiclass if (whole and few) else Task.regression
    return Task.multiclass


def _all_whole(col: ColumnProfile) -> bool:
    # Top values are only kept for low-cardinality columns, which is when it matters.
    if not col.top_values:
        return False
    try:
        return all(float(v).is_integer() for v, _ in col.top_values)
    except ValueError:
        return False


def guess_target(profile: Profile, explicit: str | None = None) -> TargetGuess | None:
    """The most likely target, with a confidence and the reason in words."""
    if explicit is not None:
        col = profile.column(explicit)
        task = task_for(col, profile.n_rows)
        return TargetGuess(column=explicit, task=task, confidence=1.0,
                           reason="chosen by you")
    best: tuple[float, ColumnProfile, str] | None = None
    last = profile.columns[-1].name if profile.columns else None
    for col in profile.columns:
        if col.kind in _UNUSABLE:
            continue
        if col.kind is ColumnKind.categorical and col.n_distinct > MAX_CLASSES:
            continue
        score, reasons = 0.0, []
        lowered = col.name.lower().strip()
        if lowered in _TARGET_WORDS:
            rank = _TARGET_WORDS.index(lowered)
            score += 3.0 - rank * 0.02
            reasons.append(f"its name “{col.name}” is a usual name for a target")
        elif any(lowered.endswith(w) or lowered.startswith(w) for w in _TARGET_WORDS if len(w) > 3):
            score += 1.5
            reasons.append(f"its name “{col.name}” suggests an outcome")
        if col.name == last:
            score += 1.0
            reasons.append("it is the last column")
        if col.missing_share > 0.2:
            score -= 1.0
        if best is None or score > best[0]:
            best = (score, col, " and ".join(reasons) or "no better candidate was found")
    if best is None:
        return None
    score, col, reason = best
    confidence = max(0.1, min(0.95, 0.3 + score / 5))
    return TargetGuess(column=col.name, task=task_for(col, profile.n_rows),
                       confidence=round(confidence, 2), reason=reason)
