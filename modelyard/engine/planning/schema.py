"""The draft a language model fills in, and the JSON schema sent to the server to constrain it.

The draft is smaller than `Plan`: the dataset, budget and seed are the person's, never
the model's. Ollama turns the schema into a grammar, but (FACTS.md) `$ref`/`$defs` and
`anyOf` are sometimes not enforced, and a small model can repeat an array item until its
token cap. So the schema sent is flattened: references inlined, no Optional, every object
closed and fully required, every array and string bounded.

Two shapes, one meaning:
- `ReplyDraft`, the schema SENT, is compact, for models as small as 135M parameters: the
  choices first (so a reply cut short loses words, not choices), the families as a short
  list of names (their trials are the rule planner's: a budget bounds the search anyway),
  then two short sentences; no reason per field, no pros and cons (our notes fill those
  in). Every token a small model writes costs time: on two cores a 135M model writes a
  few tokens a second under a grammar.
- `PlanDraft`, what a reply is READ into (after `mend.py`), keeps families as a list with
  optional reasons: replies in the older, longer shape (or from a server that did not
  enforce the grammar) read too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from modelyard.engine.training import families
from modelyard.engine.training.families import Family
from modelyard.schemas import (
    METRICS_FOR_TASK,
    FamilyChoice,
    Metric,
    Plan,
    Task,
    Validation,
    ValidationKind,
)

Reason = Annotated[str, StringConstraints(max_length=400)]
# In the schema sent: one short sentence (a small model's sentence that runs on is cut by
# the grammar here, not by the token cap in the middle of the plan).
Short = Annotated[str, StringConstraints(max_length=120)]
Phrase = Annotated[str, StringConstraints(max_length=120)]
ColumnName = Annotated[str, StringConstraints(max_length=300)]
MAX_FAMILIES = 8  # as many as a Plan holds
MAX_FAMILIES_SENT = 6
MAX_EXCLUDED = 100
MAX_EXCLUDED_SENT = 8  # in the schema sent: a small model may list columns until the cap


class FamilyDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: Family
    max_trials: int = Field(ge=1, le=1000, description="configurations to try; 1 for dummy")
    reason: Reason = Field(default="", description="one plain sentence: why this family here")
    pros: list[Phrase] = Field(default_factory=list, max_length=3,
                               description="short phrases: strengths here")
    cons: list[Phrase] = Field(default_factory=list, max_length=3,
                               description="short phrases: weaknesses here")


class PlanDraft(BaseModel):
    """A reply as read (after `mend.mend_reply`); `to_plan` makes it a Plan."""

    model_config = ConfigDict(extra="forbid")

    goal_reading: Reason = ""
    target: ColumnName
    target_reason: Reason = ""
    task: Task
    task_reason: Reason = ""
    metric: Metric
    metric_reason: Reason = ""
    validation: ValidationKind
    n_splits: int = Field(ge=2, le=10)
    validation_column: ColumnName = ""
    validation_reason: Reason = ""
    excluded_columns: list[ColumnName] = Field(default_factory=list, max_length=MAX_EXCLUDED)
    excluded_reason: Reason = ""
    families: list[FamilyDraft] = Field(min_length=1, max_length=MAX_FAMILIES)
    families_reason: Reason = ""
    rationale: Annotated[str, StringConstraints(max_length=800)] = ""


def _family_names() -> Any:
    """The families the model may choose, as an enum type (a grammar holds the model to
    them): `family_notes.offered`, the families the prompt lists."""
    from modelyard.engine.planning.family_notes import offered

    return Literal[tuple(offered())]


# Forecasting, multi-label and text-to-text plans come from the rules (a horizon and a
# time column, labels, an input column the person names), never from the language
# model: its reply offers the table tasks only.
_NOT_PLANNED_BY_MODEL = (Task.forecast, Task.multilabel, Task.text_to_text)


def _planned_tasks() -> Any:
    return Literal[tuple(t.value for t in Task if t not in _NOT_PLANNED_BY_MODEL)]


def _planned_metrics() -> Any:

    kept = {m.value for t, ms in METRICS_FOR_TASK.items() if t not in _NOT_PLANNED_BY_MODEL
            for m in ms}
    return Literal[tuple(m.value for m in Metric if m.value in kept)]


def _reply_model() -> type[BaseModel]:
    """The compact reply the schema sent asks for (see the module docstring): the choices,
    the target first, then how the request was read and the plan in one or two sentences.
    No reason per field: a small model writes them slowly and copies them from anywhere;
    the page explains each choice in our words."""
    return create_model(
        "ReplyDraft", __config__=ConfigDict(extra="forbid"),
        target=(ColumnName, Field(description="the column to predict")),
        task=(_planned_tasks(), ...),
        metric=(_planned_metrics(), ...),
        validation=(ValidationKind, ...),
        n_splits=(int, Field(ge=2, le=10)),
        validation_column=(ColumnName, Field(description="group or time column, else empty")),
        excluded_columns=(list[ColumnName], Field(max_length=MAX_EXCLUDED_SENT)),
        families=(list[_family_names()], Field(min_length=1, max_length=MAX_FAMILIES_SENT,
                                               description="the model families to try")),
        goal_reading=(Short, Field(description="how you read the request, one sentence")),
        rationale=(Short, Field(description="the plan in one or two plain sentences")),
    )


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
    """The flattened compact schema sent to the server; with the column names, the target
    and the excluded columns are constrained to them (enums a grammar enforces)."""
    schema = flatten(_reply_model().model_json_schema())
    for key in ("task", "metric", "validation"):  # enum classes' docstrings: for us
        schema["properties"][key].pop("description", None)
    if column_names:
        props = schema["properties"]
        props["target"] = {"type": "string", "enum": list(column_names),
                           "description": props["target"].get("description", "")}
        excluded = props["excluded_columns"]
        excluded["items"] = {"type": "string", "enum": list(column_names)}
        excluded["maxItems"] = min(MAX_EXCLUDED_SENT, max(1, len(column_names) - 1))
        props["validation_column"] = {"type": "string", "enum": ["", *column_names],
                                      "description": props["validation_column"]["description"]}
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
        families=[FamilyChoice(family=str(f.family), max_trials=f.max_trials,
                               reason=f.reason or families.get(str(f.family)).why,
                               pros=f.pros, cons=f.cons) for f in draft.families],
        excluded_columns=draft.excluded_columns,
        budget_seconds=budget_seconds,
        seed=seed,
        rationale=draft.rationale,
        goal=goal,
        goal_reading=draft.goal_reading,
        reasons={k: v for k, v in (("target", draft.target_reason),
                                   ("task", draft.task_reason),
                                   ("metric", draft.metric_reason),
                                   ("validation", draft.validation_reason),
                                   ("excluded_columns", draft.excluded_reason),
                                   ("families", draft.families_reason)) if v},
    )


def from_plan(plan: Plan) -> dict[str, Any]:
    """A Plan as a reply in the compact shape: what the model sees when asked to revise it."""
    tabular = families.named("tabular")
    return {
        "target": plan.target, "task": plan.task.value, "metric": plan.metric.value,
        "validation": plan.validation.kind.value, "n_splits": plan.validation.n_splits,
        "validation_column": plan.validation.group_column or plan.validation.time_column or "",
        "excluded_columns": plan.excluded_columns,
        "families": [f.family for f in plan.families if f.family in tabular],
        "goal_reading": plan.goal_reading[:120], "rationale": plan.rationale[:120],
    }
