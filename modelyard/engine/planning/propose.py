"""The one way to get a Plan proposed: by the language model when it can, by rules
otherwise, always with its provenance and, after a fallback, the reason in one sentence.

Used by `Workspace.propose_plan` (the app) and the CLI alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelyard.engine import system
from modelyard.engine.errors import BadInputError, PlanError
from modelyard.engine.planning.checks import read_reply
from modelyard.engine.planning.diff import diff_plans
from modelyard.engine.planning.family_notes import pros_cons
from modelyard.engine.planning.goal import GoalReading, read_goal
from modelyard.engine.planning.llm import (
    DEFAULT_TIMEOUT,
    MAX_REPAIRS,
    LLMConfig,
    LLMError,
    Progress,
    ask_for_plan,
)
from modelyard.engine.planning.prompt import plan_messages, revision_messages
from modelyard.engine.planning.review import Finding, diagnose, fit_lines, revise_by_rules
from modelyard.engine.planning.rules import rule_plan
from modelyard.engine.planning.schema import draft_schema, from_plan
from modelyard.schemas import Plan, Profile

PLANNERS = ("auto", "ollama", "rules")
# Failures that mean "there is no language model to ask" rather than "it answered badly".
NO_MODEL_KINDS = frozenset({"unreachable", "too_old", "no_model", "unknown_model"})


@dataclass
class Proposal:
    """A proposed Plan and how it came to be."""

    plan: Plan
    planner: str  # "ollama" or "rules": who made this plan
    model: str | None  # the language model that made it; None for rules
    fallback_reason: str | None  # why the rule planner stood in, in one sentence
    provenance: dict[str, Any] = field(default_factory=dict)


# Said where an image plan is shown: the rule planner making it is expected, not a fallback.
IMAGE_NOTE = ("Image plans come from the image rules: they choose the networks, the image "
              "size and a holdout split from the images themselves. The language model is "
              "briefed on tables (columns and the model families for them), so it is not "
              "asked.")


TEXT_NOTE = ("Text-to-text plans come from the text rules: baselines and the text models, "
             "scored on held-out inputs. The language model is briefed on tables, so it "
             "is not asked.")


SOUND_NOTE = ("Sound plans come from the sound rules: a network reading the recordings' "
              "spectrograms, and table models on their MFCC statistics as the baseline, "
              "scored on a holdout of the recordings. The language model is briefed on "
              "tables, so it is not asked.")
# The data sets the rule planner plans on its own: the note said beside their plans.
RULES_ONLY = {"image": ("image", IMAGE_NOTE), "text_to_text": ("text-to-text", TEXT_NOTE),
              "audio": ("sound", SOUND_NOTE)}


def rules_note(modality: str) -> str | None:
    """Why the rule planner, not the language model, plans this kind of data set (None
    when the language model may plan it)."""
    return RULES_ONLY[modality][1] if modality in RULES_ONLY else None


def _images_only(profile: Profile, planner: str) -> str | None:
    """The note for an image, text-to-text or sound data set (the rule planner plans
    them), else None."""
    if profile.modality not in RULES_ONLY:
        return None
    words, note = RULES_ONLY[profile.modality]
    if planner == "ollama":
        raise PlanError(f"The language model plans tables, not {words} data sets.",
                        f"Use the auto or rules planner for {words} data.")
    return note


def _labels_only(profile: Profile, target: str | None, planner: str) -> str | None:
    """The multi-label note when `target` is multi-label (the rule planner plans it)."""
    from modelyard.engine.multilabel.plan import NOTE, labels_for

    if labels_for(profile, target) is None:
        return None
    if planner == "ollama":
        raise PlanError("The language model plans one target at a time, not several "
                        "labels.", "Use the auto or rules planner for multi-label data.")
    return NOTE


def check_planner(planner: str) -> str:
    if planner not in PLANNERS:
        raise BadInputError(f"There is no planner “{planner}”.",
                            f"Choose one of: {', '.join(PLANNERS)}.")
    return planner


def _fill_notes(plan: Plan, profile: Profile) -> Plan:
    """Pros and cons from our notes where the model gave none."""
    for choice in plan.families:
        if not choice.pros and not choice.cons:
            choice.pros, choice.cons = pros_cons(choice.family, profile)
    return plan


def rules_with_goal(profile: Profile, dataset_id: str, *, goal: str, reading: GoalReading | None,
                    target: str | None, budget_seconds: int, seed: int) -> Plan:
    """The rule planner, pointed at the column the goal names when one matches."""
    metric = None
    chosen = target
    note = ""
    if reading is not None:
        if target is None and reading.target:
            chosen = target = reading.target
        if reading.target and reading.target == chosen:
            metric = reading.metric
            note = reading.explanation
        elif target is not None:
            note = f"You chose the target “{target}” yourself."
        else:
            fallback = profile.target.column if profile.target else None
            note = reading.explanation + (
                f" I used the likely target “{fallback}” instead." if fallback else "")
    plan = rule_plan(profile, dataset_id, target=chosen, budget_seconds=budget_seconds,
                     seed=seed, metric=metric)
    if reading is not None and reading.target == plan.target:
        plan.reasons["target"] = reading.explanation
    return plan.model_copy(update={"goal": goal, "goal_reading": note})


def _ask_model(messages: list[dict[str, str]], read: Callable[[str], Any], profile: Profile,
               config: LLMConfig, planner: str, provenance: dict[str, Any], verb: str, *,
               on_progress: Callable[[Progress], None] | None,
               cancel_event: threading.Event | None) -> tuple[Plan | None, str | None]:
    """The language model's Plan, or None and the sentence saying why the rule planner
    stands in ("… so the rule planner {verb} this plan"). The one "model, else rules"
    step of `propose` and `revise`: the exchange goes into `provenance`, and with planner
    "ollama" no model to ask is a PlanError (the person asked for the model)."""
    record: dict[str, Any] = {}
    try:
        plan = ask_for_plan(messages, read, config, draft_schema(profile.column_names),
                            record, on_progress=on_progress, cancel_event=cancel_event)
    except LLMError as exc:
        provenance.update(record)
        provenance["llm_error"] = {"kind": exc.kind, "message": exc.sentence,
                                   "detail": exc.detail}
        if planner == "ollama" and exc.kind in NO_MODEL_KINDS:
            raise PlanError(f"{exc.sentence}.",
                            "Start Ollama or choose an installed model, or use the "
                            "auto or rules planner.") from exc
        # What a page shows: the same without the model's quoted words.
        provenance["fallback_headline"] = f"{exc.headline}, so the rule planner {verb} this plan."
        return None, f"{exc.sentence}, so the rule planner {verb} this plan."
    provenance.update(record, planner="ollama", fallback_reason=None)
    return _fill_notes(plan, profile), None


def propose(
    profile: Profile,
    dataset_id: str,
    *,
    goal: str | None = None,
    target: str | None = None,
    budget_seconds: int = 300,
    seed: int = 0,
    planner: str = "auto",
    host: str | None = None,
    model: str | None = None,
    default_model: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_repairs: int = MAX_REPAIRS,
    sample_rows: list[dict[str, Any]] | None = None,
    hardware: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Proposal:
    """A Plan for this data: the language model's when `planner` allows and it gives a
    valid one, else the rule planner's with the reason why.

    `model` is used as named; `default_model` (the remembered one) only if installed,
    else the first installed model. With planner "ollama", a server that cannot be
    reached (or lacks the model) is a PlanError rather than a fallback: the person asked
    for the model.
    """
    check_planner(planner)
    goal = (goal or "").strip()
    reading = read_goal(goal, profile) if goal else None
    # The target the person named, if any: what `target_needs_approval` compares against.
    provenance: dict[str, Any] = {"requested_planner": planner, "goal": goal,
                                  "named_target": target}
    note = _images_only(profile, planner) or _labels_only(profile, target, planner)
    fallback = None
    if note is None and planner != "rules":
        hardware = system.hardware() if hardware is None else hardware
        provenance["hardware"] = hardware
        config = LLMConfig(host=host or system.ollama_host(), model=model,
                           default_model=default_model, timeout=timeout, seed=seed,
                           max_repairs=max_repairs)
        messages = plan_messages(profile, goal=goal, target=target,
                                 budget_seconds=budget_seconds, hardware=hardware,
                                 sample_rows=sample_rows or [], reading=reading)

        def read(text: str):
            return read_reply(text, profile, dataset_id=dataset_id,
                              budget_seconds=budget_seconds, seed=seed, goal=goal,
                              target=target)

        plan, fallback = _ask_model(messages, read, profile, config, planner, provenance,
                                    "made", on_progress=on_progress,
                                    cancel_event=cancel_event)
        if plan is not None:
            return Proposal(plan, "ollama", provenance.get("model"), None, provenance)
    plan = rules_with_goal(profile, dataset_id, goal=goal, reading=reading, target=target,
                           budget_seconds=budget_seconds, seed=seed)
    provenance.update(planner="rules", fallback_reason=fallback, planner_note=note)
    return Proposal(plan, "rules", None, fallback, provenance)


@dataclass
class Revision:
    """What a Run showed, and the revised Plan that answers it (None: nothing to change)."""

    findings: list[Finding]
    plan: Plan | None
    changes: list[str]  # what changed and why, one line each
    planner: str
    model: str | None
    fallback_reason: str | None
    provenance: dict[str, Any] = field(default_factory=dict)


def revise(
    plan: Plan,
    profile: Profile,
    run: dict[str, Any],
    trials: list[dict[str, Any]],
    *,
    planner: str = "auto",
    host: str | None = None,
    model: str | None = None,
    default_model: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_repairs: int = MAX_REPAIRS,
    sample_rows: list[dict[str, Any]] | None = None,
    hardware: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Revision:
    """Diagnose a Run and revise its Plan: by the language model when it can, by rules
    otherwise. The budget and the target stay the person's (raised budget included)."""
    check_planner(planner)
    findings = diagnose(plan, profile, run, trials)
    by_rules, rule_changes = revise_by_rules(plan, profile, findings)
    provenance: dict[str, Any] = {
        "requested_planner": planner,
        "named_target": plan.target,  # the run's plan was approved: its target is theirs
        "review": {"run_id": run.get("id"),
                   "findings": [{"code": f.code, "message": f.message,
                                 "evidence": f.evidence} for f in findings]},
    }
    if [f.code for f in findings] == ["fine"]:
        provenance["review"]["changes"] = []
        return Revision(findings, None, [], "rules", None, None, provenance)
    note = _images_only(profile, planner)
    fallback = None
    if note is None and planner != "rules":
        hardware = system.hardware() if hardware is None else hardware
        config = LLMConfig(host=host or system.ollama_host(), model=model,
                           default_model=default_model, timeout=timeout, seed=plan.seed,
                           max_repairs=max_repairs)
        notes = [f"{f.message} ({f.evidence})" if f.evidence else f.message for f in findings]
        messages = revision_messages(profile, plan, findings=notes,
                                     budget_seconds=by_rules.budget_seconds,
                                     hardware=hardware, sample_rows=sample_rows or [],
                                     draft=from_plan(plan), fit=fit_lines(plan.metric, trials))

        def read(text: str):
            return read_reply(text, profile, dataset_id=plan.dataset_id,
                              budget_seconds=by_rules.budget_seconds, seed=plan.seed,
                              goal=plan.goal, target=plan.target)

        revised, fallback = _ask_model(messages, read, profile, config, planner, provenance,
                                       "revised", on_progress=on_progress,
                                       cancel_event=cancel_event)
        if revised is not None:
            changes = diff_plans(plan, revised)
            if revised.rationale:
                changes.append(f"Why: {revised.rationale}")
            provenance["review"]["changes"] = changes
            return Revision(findings, revised, changes, "ollama", provenance.get("model"),
                            None, provenance)
    provenance.update(planner="rules", fallback_reason=fallback, planner_note=note)
    provenance["review"]["changes"] = rule_changes
    if not rule_changes:
        return Revision(findings, None, [], "rules", None, fallback, provenance)
    return Revision(findings, by_rules, rule_changes, "rules", None, fallback, provenance)
