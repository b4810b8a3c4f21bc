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
    if plan.task is Task.multilabel:
        from modelyard.engine.multilabel.plan import label_problems

        return (_column_problems(plan, profile) + label_problems(plan, profile)
                + _family_problems(plan, profile))
    return (_column_problems(plan, profile) + _target_problems(plan, profile)
            + _family_problems(plan, profile) + _forecast_problems(plan, profile))


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
    if named_target and plan.labels is not None and plan.labels.columns:
        named = [p.strip() for p in named_target.split(",")]
        return (None if named == plan.labels.columns
                else TargetChange(", ".join(plan.labels.columns), named_target, named=True))
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
              if c.name not in plan.label_columns and c.name not in plan.excluded_columns
              and c.kind not in UNUSED_KINDS]
    if plan.task is Task.text_to_text:
        return problems + _text_problems(plan, profile)
    if (plan.target in names and not usable and profile.modality not in ("image", "audio")
            and plan.task is not Task.forecast):  # a series alone is enough to forecast
        problems.append("no usable feature column is left once the excluded columns "
                        "are taken out")
    return problems


def _text_problems(plan: Plan, profile: Profile) -> list[str]:
    """A text-to-text plan: an existing text input that is not excluded, and outputs
    the character model can write."""
    from modelyard.engine.text_to_text.charformer import MAX_OUTPUT_CHARS

    names = set(profile.column_names)
    source = plan.input_column
    if source not in names:
        return [f"input column {source!r} does not exist"]
    problems = []
    if source in plan.excluded_columns:
        problems.append(f"the input column {source!r} cannot also be excluded")
    if profile.column(source).kind in (ColumnKind.numeric, ColumnKind.boolean,
                                       ColumnKind.datetime, ColumnKind.constant):
        problems.append(f"the input column {source!r} is not text")
    if plan.target in names:
        longest = int(profile.column(plan.target).text_length.get("max") or 0)
        if longest > MAX_OUTPUT_CHARS and any(c.family == "char_transformer"
                                              for c in plan.families):
            problems.append(f"some outputs in {plan.target!r} are {longest} characters "
                            f"long; the character transformer writes at most "
                            f"{MAX_OUTPUT_CHARS}: leave it out or shorten the outputs")
    return problems


def _target_problems(plan: Plan, profile: Profile) -> list[str]:
    if plan.target not in profile.column_names:
        return []
    if plan.task is Task.text_to_text:
        col = profile.column(plan.target)
        if col.kind in (ColumnKind.numeric, ColumnKind.boolean, ColumnKind.datetime):
            return [f"text to text needs a text target; {plan.target!r} is not text"]
        if col.n_missing >= profile.n_rows:
            return [f"the outputs in {plan.target!r} are all empty: nothing to learn"]
        return []
    problems = []
    col = profile.column(plan.target)
    name = plan.target
    if (plan.task in (Task.regression, Task.forecast)
            and col.kind is not ColumnKind.numeric):
        problems.append(f"{plan.task.value} needs a numeric target; {name!r} is not")
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
    modality = ("series" if plan.task is Task.forecast else
                "text_to_text" if plan.task is Task.text_to_text else  # the task decides
                "image" if profile.modality == "image" else "tabular")
    # Sound trains the image backbones on spectrograms and the table families on MFCCs.
    fits = {"image", "tabular"} if profile.modality == "audio" else {modality}
    if profile.modality == "mixed" and plan.task is not Task.forecast:
        fits = {"tabular", "mixed"}  # the late-fusion network reads images and columns
    wrong = [c.family for c, f in chosen if f.modality not in fits]
    if wrong:
        problems.append(f"model families {', '.join(wrong)} do not fit {modality} data")
    for choice, family in chosen:
        if family.modality == "tabular" and (why := family.fits_table(
                profile, plan.target, plan.task)) is not None:
            problems.append(f"family {choice.family} cannot run here: {why}")
            continue
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


def _forecast_problems(plan: Plan, profile: Profile) -> list[str]:
    """The forecast set-up names existing columns, each for one job."""
    setup = plan.forecast
    if setup is None:
        return []
    names = set(profile.column_names)
    problems = []
    named = {"time column": [setup.time_column],
             "series column": [setup.series_column] if setup.series_column else [],
             "covariates": setup.covariates}
    for role, columns in named.items():
        missing = [c for c in columns if c not in names]
        if missing:
            problems.append(f"forecast {role} {', '.join(map(repr, missing))} does not exist")
    used = [setup.time_column, setup.series_column, *setup.covariates]
    if plan.target in used:
        problems.append(f"the target {plan.target!r} cannot also be the time column, the "
                        "series column or a covariate")
    if len([c for c in used if c]) != len({c for c in used if c}):
        problems.append("the time column, the series column and the covariates must be "
                        "different columns")
    return problems
