"""Reading a language model's reply: JSON, then the mends (`mend.py`: every mistake with
one obvious mend is mended in code and said), then the draft schema, then meaning (the
one plan check, `plan_problems`, and what only a model's reply can get wrong: the target
the person chose).

Every problem is a sentence the model can act on when it is sent back for a repair. The
model's words in an accepted plan (reasons, pros, cons, rationale) are made plain text
(`quoting.plain_words`): they reach a terminal and the pages, never as control codes.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from pydantic import ValidationError

from modelyard.engine.planning.mend import mend_reply, mend_text
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.quoting import plain_words
from modelyard.engine.planning.schema import PlanDraft, to_plan
from modelyard.schemas import Plan, Profile, ValidationKind

MAX_PROBLEMS = 10
_NEEDS_COLUMN = {ValidationKind.group_kfold: "the column whose rows must stay together",
                 ValidationKind.time_split: "the column that orders the rows in time"}


def _problems(exc: ValidationError) -> list[str]:
    found = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "plan"
        message = err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        if err["type"] in ("enum", "literal_error", "int_parsing", "string_type",
                           "less_than_equal", "greater_than_equal", "too_long", "too_short"):
            message += f" (you gave {json.dumps(given, default=str)[:80]})"
        found.append(f"{where}: {message}")
    return found[:MAX_PROBLEMS]


def meaning_problems(plan: Plan, profile: Profile, target: str | None = None) -> list[str]:
    """What is wrong with a model's `plan` for this data: `plan_problems`, and a target
    other than the one the person chose."""
    found = plan_problems(plan, profile)
    if target and plan.target != target:
        found.append(f"the person chose the target {target!r}; use it, not {plan.target!r}")
    return found[:MAX_PROBLEMS]


def plain_plan(plan: Plan) -> Plan:
    """`plan` with every sentence of the model's made plain text."""
    return plan.model_copy(update={
        "rationale": plain_words(plan.rationale),
        "goal_reading": plain_words(plan.goal_reading),
        "reasons": {k: plain_words(v) for k, v in plan.reasons.items()},
        "families": [f.model_copy(update={"reason": plain_words(f.reason),
                                          "pros": [plain_words(x) for x in f.pros],
                                          "cons": [plain_words(x) for x in f.cons]})
                     for f in plan.families]})


class Reading(NamedTuple):
    """A reply read: the Plan or None, the problems in its way (sent back to the model),
    and the mends made on the way (said to the person)."""

    plan: Plan | None
    problems: list[str]
    mends: list[str]


def read_reply(text: str, profile: Profile, *, dataset_id: str, budget_seconds: int,
               seed: int, goal: str = "", target: str | None = None) -> Reading:
    """The Plan in a reply, mended where a mistake has one obvious mend, or None and the
    problems that stand in its way."""
    raw, mends = mend_text(text)
    if raw is None:
        try:
            json.loads(text)
        except ValueError as exc:
            start = text.strip()[:60]
            return Reading(None, [f"the reply is not JSON ({exc}); it starts with {start!r}"],
                           [])
    if not isinstance(raw, dict):
        return Reading(None, ["the reply must be one JSON object"], mends)
    mended = mend_reply(raw, profile, target)
    mends = mends + mended.mends
    try:
        draft = PlanDraft.model_validate(mended.raw)
        if draft.validation in _NEEDS_COLUMN and not draft.validation_column:
            return Reading(None, [f"validation_column: {draft.validation.value} needs "
                                  f"{_NEEDS_COLUMN[draft.validation]}"], mends)
        plan = to_plan(draft, dataset_id=dataset_id, budget_seconds=budget_seconds,
                       seed=seed, goal=goal)
    except ValidationError as exc:
        return Reading(None, _problems(exc), mends)
    problems = meaning_problems(plan, profile, target)
    return (Reading(None, problems, mends) if problems
            else Reading(plain_plan(plan), [], mends))
