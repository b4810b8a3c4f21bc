"""The draft a language model fills in, and the JSON schema sent to the server to constrain it.

The draft is smaller than `Plan`: the dataset, budget and seed are the person's, never
the model's. Ollama turns the schema into a grammar, but (FACTS.md) `$ref`/`$defs` and
`anyOf` are sometimes not enforced, and a small model can repeat an array item until its
token cap. So the schema sent is flattened: references inlined, no Optional, every object
closed and fully required, every array and string bounded.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelyard.engine.training import families
from modelyard.engine.training.families import Family
from modelyard.schemas import (
    FamilyChoice,
    Metric,
    Plan,
    Task,
    Validation,
    ValidationKind,
)

Reason = Annotated[str, StringConstraints(max_length=400)]
Phrase = Annotated[str, StringConstraints(max_length=120)]
ColumnName = Annotated[str, StringConstraints(max_length=300)]
MAX_FAMILIES = 6
MAX_EXCLUDED = 100


class FamilyDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: Family
    max_trials: int = Field(ge=1, le=200, description="configurations to try; 1 for dummy")
    reason: Reason = Field(description="one plain sentence: why this family here")
    pros: list[Phrase] = Field(max_length=3, description="short phrases: strengths here")
    cons: list[Phrase] = Field(max_length=3, description="short phrases: weaknesses here")


class PlanDraft(BaseModel):
    """What the language model proposes; `to_plan` makes it a Plan."""

    model_config = ConfigDict(extra="forbid")

    goal_reading: Reason = Field(description="how you read the person's request, in one "
                                             "sentence")
    target: ColumnName = Field(description="the column to predict, exactly as listed")
    target_reason: Reason
    task: Task
    task_reason: Reason
    metric: Metric
    metric_reason: Reason
    validation: ValidationKind
    n_splits: int = Field(ge=2, le=10, description="folds for k-fold validation")
    validation_column: ColumnName = Field(description="group_kfold: the column whose rows "
                                                      "stay together; time_split: the column "
                                                      "that orders rows in time; else empty")
    validation_reason: Reason
    excluded_columns: list[ColumnName] = Field(max_length=MAX_EXCLUDED,
                                               description="columns not to learn from")
    excluded_reason: Reason
    families: list[FamilyDraft] = Field(min_length=1, max_length=MAX_FAMILIES)
    rationale: Annotated[str, StringConstraints(max_length=800)] = Field(
        description="the plan in two or three plain sentences")


def flatten(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `$ref`s inlined, `anyOf [X, null]` reduced to X, titles and defaults
    dropped, every object closed with all its properties required.

    Raises ValueError for what a grammar cannot bound: an unbounded array, a real union.
    """
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            if len(options) != 1:
                raise ValueError(f"a union the server cannot enforce: {node['anyOf']}")
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return walk({**options[0], **rest})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$defs", "title", "default"):
                continue
            if key == "properties":  # property names are data, never keywords
                out[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                out[key] = walk(value)
        if out.get("type") == "object":
            out["required"] = list(out.get("properties", {}))
            out["additionalProperties"] = False
        if out.get("type") == "array" and "maxItems" not in out:
            raise ValueError("an array without maxItems: a model could repeat items forever")
        return out

    return walk(schema)


def draft_schema(column_names: list[str] | None = None) -> dict[str, Any]:
    """The flattened schema for `PlanDraft`; with the column names, the target and the
    excluded columns are constrained to them (enums a grammar enforces)."""
    schema = flatten(PlanDraft.model_json_schema())
    schema.pop("description", None)  # the class docstring speaks to programmers
    schema["properties"]["families"]["items"]["properties"]["family"].pop("description", None)
    if column_names:
        props = schema["properties"]
        props["target"] = {"type": "string", "enum": list(column_names),
                           "description": props["target"].get("description", "")}
        excluded = props["excluded_columns"]
        excluded["items"] = {"type": "string", "enum": list(column_names)}
        excluded["maxItems"] = min(MAX_EXCLUDED, max(1, len(column_names) - 1))
        props["validation_column"] = {"type": "string", "enum": ["", *column_names],
                                      "description": props["validation_column"]["description"]}
    # The language model plans tables: image families are for the image planner.
    family = schema["properties"]["families"]["items"]["properties"]["family"]
    family["enum"] = families.named("tabular")
    return schema


def to_plan(draft: PlanDraft, *, dataset_id: str, budget_seconds: int, seed: int,
            goal: str = "") -> Plan:
    """The Plan a draft stands for (raises pydantic's ValidationError when inconsistent)."""
    column = draft.validation_column or None
    validation = Validation(
        kind=draft.validation, n_splits=draft.n_splits,
        group_column=column if draft.validation is ValidationKind.group_kfold else None,
        time_column=column if draft.validation is ValidationKind.time_split else None)
    return Plan(
        dataset_id=dataset_id,
        target=draft.target,
        task=draft.task,
        metric=draft.metric,
        validation=validation,
        families=[FamilyChoice(family=str(f.family), max_trials=f.max_trials, reason=f.reason,
                               pros=f.pros, cons=f.cons) for f in draft.families],
        excluded_columns=draft.excluded_columns,
        budget_seconds=budget_seconds,
        seed=seed,
        rationale=draft.rationale,
        goal=goal,
        goal_reading=draft.goal_reading,
        reasons={"target": draft.target_reason, "task": draft.task_reason,
                 "metric": draft.metric_reason, "validation": draft.validation_reason,
                 "excluded_columns": draft.excluded_reason},
    )


def from_plan(plan: Plan) -> dict[str, Any]:
    """A Plan as a draft document: what the model sees when asked to revise it."""
    r = plan.reasons
    return {
        "goal_reading": plan.goal_reading, "target": plan.target,
        "target_reason": r.get("target", ""), "task": plan.task.value,
        "task_reason": r.get("task", ""), "metric": plan.metric.value,
        "metric_reason": r.get("metric", ""), "validation": plan.validation.kind.value,
        "n_splits": plan.validation.n_splits,
        "validation_column": plan.validation.group_column or plan.validation.time_column or "",
        "validation_reason": r.get("validation", ""),
        "excluded_columns": plan.excluded_columns,
        "excluded_reason": r.get("excluded_columns", ""),
        "families": [{"family": f.family, "max_trials": min(200, f.max_trials),
                      "reason": f.reason, "pros": f.pros[:3], "cons": f.cons[:3]}
                     for f in plan.families[:MAX_FAMILIES]],
        "rationale": plan.rationale,
    }
