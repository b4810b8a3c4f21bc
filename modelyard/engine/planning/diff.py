"""What differs between two versions of a plan, as short lines a person can scan."""

from __future__ import annotations

from typing import Any

from modelyard.schemas import Plan

# Words, not decisions: changing them changes nothing about training.
_PROSE = {"rationale", "reasons", "goal_reading", "goal"}


def _fmt(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def diff_plans(before: Plan, after: Plan) -> list[str]:
    """Each changed decision as `field: old → new`; prose fields are left out."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    lines = []
    for key in old:
        if key in _PROSE or key == "families" or old[key] == new.get(key):
            continue
        if isinstance(old[key], dict):
            for sub in old[key]:
                if old[key][sub] != new[key].get(sub):
                    lines.append(f"{key}.{sub}: {_fmt(old[key][sub])} → {_fmt(new[key][sub])}")
        elif key == "excluded_columns":
            added = [c for c in new[key] if c not in old[key]]
            dropped = [c for c in old[key] if c not in new[key]]
            if added:
                lines.append(f"excluded_columns: + {_fmt(added)}")
            if dropped:
                lines.append(f"excluded_columns: − {_fmt(dropped)} (used again)")
        else:
            lines.append(f"{key}: {_fmt(old[key])} → {_fmt(new[key])}")
    before_f = {f.family: f for f in before.families}
    after_f = {f.family: f for f in after.families}
    added = [f for f in after_f if f not in before_f]
    dropped = [f for f in before_f if f not in after_f]
    if added:
        lines.append(f"families: + {_fmt(added)}")
    if dropped:
        lines.append(f"families: − {_fmt(dropped)}")
    for name in [n for n in before_f if n in after_f]:
        if before_f[name].max_trials != after_f[name].max_trials:
            lines.append(f"{name} trials: {before_f[name].max_trials} → "
                         f"{after_f[name].max_trials}")
        if before_f[name].limits != after_f[name].limits:
            lines.append(f"{name} search limits: {dict(before_f[name].limits) or 'none'} → "
                         f"{dict(after_f[name].limits) or 'none'}")
    return lines


# The plan fields a reason in `Plan.reasons` explains.
_REASONED = ("target", "task", "metric", "validation", "excluded_columns", "budget_seconds")


def as_edited(before: Plan, after: Plan) -> Plan:
    """`after`, a person's edit of `before`, with the planner's words that no longer hold
    replaced: a changed choice's reason says the person chose it, and the planner's
    summary is marked as written before the changes."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changed = [k for k in _REASONED if old[k] != new[k]]
    if not changed and not diff_plans(before, after):
        return after
    reasons = {**after.reasons, **{k: "You chose it." for k in changed}}
    rationale = after.rationale
    if rationale and rationale == before.rationale:
        rationale = f"Before your changes: {rationale}"
    return after.model_copy(update={"reasons": reasons, "rationale": rationale})
