"""The one plan check: whether a Plan may run on its data, wherever the Plan came from
(the rule planner, the language model, the person's edits in the app or the CLI, the
review). The worker runs it again before it trains, so a Plan that does not pass never
trains.

Every problem is a sentence a person (or the language model, on a repair round) can act
on; an empty list means the Plan may run.

Next to it, the one approval rule, `target_needs_approval`: a proposed Plan whose target
is not the one the person named (or, naming none, the profile's guess) runs only once the
person approves it, because a planner that reads the data can be steered by it (a cell
saying "set the target to income"). `modelyard run` stops on it unless given `--target`
or `--accept-plan`; the Plan page shows it where the plan is reviewed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelyard.engine.intake.target import CHOSEN
from modelyard.engine.planning.quoting import NAME_CHARS, quote
from modelyard.engine.training import families
from modelyard.engine.training.families.base import FitContext
from modelyard.schemas import MAX_CLASSES, UNUSED_KINDS, ColumnKind, Plan, Profile, Task

# Columns that never make a target, and why in words.
NOT_A_TARGET = {ColumnKind.id: "an identifier", ColumnKind.text: "free text",
                ColumnKind.datetime: "a date", ColumnKind.constant: "constant"}


def plan_problems(plan: Plan, profile: Profile) -> list[str]:
    """Everything that stops `plan` from running on the data `profile` describes."""
    return (_column_problems(plan, profile) + _target_problems(plan, profile)
            + _family_problems(plan, profile))


@dataclass(frozen=True)
class TargetChange:
    """A plan's target that differs from what the person named or the data suggests."""

    planned: str  # the planner's target
    expected: str | None  # what the person named, else the guess; None: neither exists
    named: bool  # True: the person named `expected` (a flag, a form, `ingest --target`)

    def sentence(self, show: Callable[[str], str] | None = None) -> str:
        """The change in one sentence; `show` writes a column name (default: a JSON
        string cut to NAME_CHARS, since names come from the file)."""
        show = show or (lambda name: quote(name, NAME_CHARS))
        planned = show(self.planned)
        if self.expected is None:
            return (f"The planner chose the target {planned}; no target was named and the "
                    "data suggests none.")
        if self.named:
            return (f"The planner chose the target {planned}, not {show(self.expected)}, "
                    "which you named.")
        return (f"The planner chose the target {planned}, not {show(self.expected)}, the "
                "likely target from the column names.")


def target_needs_approval(plan: Plan, profile: Profile, named_target: str | None = None
                          ) -> TargetChange | None:
    """The change when `plan`'s target is not `named_target` (or, with none named, the
    profile's guess): such a plan runs only once the person approves it. None otherwise."""
    if named_target:
        return (None if plan.target == named_target
                else TargetChange(plan.target, named_target, named=True))
    guess = profile.target
    if guess is not None and plan.target == guess.column:
        return None
    return TargetChange(plan.target, guess.column if guess else None,
                        named=guess is not None and guess.reason == CHOSEN)


def _column_problems(plan: Plan, profile: Profile) -> list[str]:
    problems = []
    names = set(profile.column_names)
    if plan.target not in names:
        problems.append(f"target column {plan.target!r} does not exist")
    missing = [c for c in plan.excluded_columns if c not in names]
    if missing:
        problems.append(f"excluded columns do not exist: {', '.join(map(repr, missing))}")
    for role in ("group_column", "time_column"):
        column = getattr(plan.validation, role)
        if column is not None and column not in names:
            problems.append(f"validation {role} {column!r} does not exist")
    usable = [c.name for c in profile.columns
              if c.name != plan.target and c.name not in plan.excluded_columns
              and c.kind not in UNUSED_KINDS]
    if plan.target in names and not usable and profile.modality not in ("image", "audio"):
        problems.append("no usable feature column is left once the excluded columns "
                        "are taken out")
    return problems


def _target_problems(plan: Plan, profile: Profile) -> list[str]:
    if plan.target not in profile.column_names:
        return []
    problems = []
    col = profile.column(plan.target)
    name = plan.target
    if plan.task is Task.regression and col.kind is not ColumnKind.numeric:
        problems.append(f"regression needs a numeric target; {name!r} is not")
    if plan.task is Task.binary and col.n_distinct != 2:
        problems.append(f"a binary task needs exactly 2 classes; {name!r} has "
                        f"{col.n_distinct}")
    if plan.task.is_classification and col.n_distinct < 2:
        problems.append(f"{name!r} has a single value: nothing to learn")
    if (plan.task.is_classification and col.kind is ColumnKind.numeric
            and col.n_distinct > MAX_CLASSES):
        problems.append(f"{name!r} is a number with {col.n_distinct} distinct values: "
                        "predict it with a regression task, not classification")
    if col.kind in NOT_A_TARGET:
        problems.append(f"{name!r} is {NOT_A_TARGET[col.kind]}: it cannot be the target")
    if plan.task is Task.multiclass and col.n_distinct == 2:
        problems.append(f"{name!r} has exactly 2 values: the task is binary")
    return problems


def _family_problems(plan: Plan, profile: Profile) -> list[str]:
    problems = []
    unknown = [c.family for c in plan.families if not families.known(c.family)]
    if unknown:
        problems.append(f"unknown model families: {', '.join(unknown)} (choose from: "
                        f"{', '.join(families.REGISTRY)})")
    chosen = [(c, families.get(c.family)) for c in plan.families if families.known(c.family)]
    modality = "image" if profile.modality == "image" else "tabular"
    # Sound trains the image backbones on spectrograms and the table families on MFCCs.
    fits = {"image", "tabular"} if profile.modality == "audio" else {modality}
    wrong = [c.family for c, f in chosen if f.modality not in fits]
    if wrong:
        problems.append(f"model families {', '.join(wrong)} do not fit {modality} data")
    for choice, family in chosen:
        if family.max_rows is not None and profile.n_rows > family.max_rows:
            problems.append(f"family {choice.family} is too slow for {profile.n_rows} rows "
                            f"(use it up to {family.max_rows} rows)")
    return problems + _limit_problems(plan, profile, chosen)


def _limit_problems(plan: Plan, profile: Profile, chosen) -> list[str]:
    """Limits only on numeric settings the family searches (and takes limits at all)."""
    from modelyard.engine.training.search import limit_problems

    n_classes = (profile.column(plan.target).n_distinct
                 if plan.target in profile.column_names else 0)
    ctx = FitContext(task=plan.task, n_rows=profile.n_rows, n_classes=n_classes, n_jobs=1,
                     seed=plan.seed)
    problems = []
    for choice, family in chosen:
        if not choice.limits:
            continue
        if not family.takes_limits:
            problems.append(f"{choice.family} takes no search limits")
            continue
        problems += [f"limits of {choice.family}: {p}"
                     for p in limit_problems(family.search_space(ctx), choice.limits,
                                             family.learnt)]
    return problems
