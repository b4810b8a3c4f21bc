"""The two ways to change a plan on the Plan page: a form of its settings and its JSON.
Each returns the changed Plan when the person approves it, else None.

The form's widgets are live (not an `st.form`): a control that does not apply is not
shown (the holdout share only for a holdout, the number of folds only for folds, a
column only for the split that needs one), the metrics follow the kind of problem, and
the changes and problems are listed as the person makes them, before approving."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from modelyard.app.literal import literal
from modelyard.app.plan_view import errors_of, parse_json, pretty, show_lines
from modelyard.engine.intake.target import task_for
from modelyard.engine.planning.diff import as_edited
from modelyard.engine.planning.explain import METRIC_WORDS, family_title
from modelyard.engine.planning.labels import (
    changes_in_words,
    metric_label,
    task_label,
    validation_label,
)
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.rules import DEFAULT_METRIC
from modelyard.engine.training import families
from modelyard.schemas import (
    METRICS_FOR_TASK,
    ColumnKind,
    FamilyChoice,
    Plan,
    Profile,
    Task,
    ValidationKind,
)

V = ValidationKind


def _kinds(plan: Plan, task: Task, images: bool) -> list[ValidationKind]:
    """The splits that apply: a single holdout for images; for tables, folds keeping the
    class balance (classification) or plain folds (regression), a holdout, groups, time."""
    if images:
        offered = [V.holdout]
    else:
        stratified = task.is_classification and task is not Task.multilabel
        offered = [V.stratified_kfold if stratified else V.kfold, V.holdout,
                   V.group_kfold, V.time_split]
    if plan.task is task and plan.validation.kind not in offered:
        offered.append(plan.validation.kind)
    return offered


def _validation(plan: Plan, profile: Profile, task: Task, key: str) -> tuple[dict, list[str]]:
    """The split controls that apply to the chosen kind; (validation fields, problems)."""
    v = plan.validation
    names = profile.column_names
    kinds = _kinds(plan, task, profile.modality == "image")
    current = v.kind if v.kind in kinds else kinds[0]
    c1, c2 = st.columns(2)
    kind = c1.selectbox("How scores are checked", kinds, index=kinds.index(current),
                        format_func=validation_label, key=f"plan_f_vkind_{key}")
    fields: dict = {"kind": kind.value, "n_splits": v.n_splits,
                    "holdout_fraction": v.holdout_fraction}
    problems = []
    if kind is V.holdout:
        share = c2.slider("Share of rows held out to score the models", 5, 50,
                          round(v.holdout_fraction * 100), step=5, format="%d%%",
                          key=f"plan_f_holdout_{key}")
        fields["holdout_fraction"] = share / 100
    else:
        fields["n_splits"] = c2.slider("Number of splits in time" if kind is V.time_split
                                       else "Number of folds", 2, 10, v.n_splits,
                                       key=f"plan_f_folds_{key}")
    if kind is V.group_kfold:
        group = st.selectbox("Column whose rows stay together (a customer, a patient…)",
                             names, index=names.index(v.group_column)
                             if v.group_column in names else None,
                             placeholder="Choose a column", key=f"plan_f_splitcol_{key}")
        fields["group_column"] = group
        if group is None:
            problems.append("Choose the column whose rows stay together.")
    if kind is V.time_split:
        dates = [c.name for c in profile.columns if c.kind is ColumnKind.datetime]
        ordered = dates + [n for n in names if n not in dates]
        start = v.time_column or profile.time_column
        column = st.selectbox("Column that orders the rows in time", ordered,
                              index=ordered.index(start) if start in ordered else None,
                              placeholder="Choose a column", key=f"plan_f_timecol_{key}")
        fields["time_column"] = column
        if column is None:
            problems.append("Choose the column that orders the rows in time.")
    return fields, problems


def _families(plan: Plan, profile: Profile, key: str) -> dict[str, int]:
    st.markdown("**Trials for each kind of model** (0 leaves it out)")
    current = {f.family: f for f in plan.families}
    kind = profile.modality if profile.modality in ("image", "text_to_text") else "tabular"
    # A table that carries images may also use the late-fusion network (slow on a CPU).
    kinds = {kind, "mixed"} if profile.modality == "mixed" else {kind}
    offered = [f for f in families.REGISTRY if families.get(f).modality in kinds
               or f in current]
    trials = {}
    columns = st.columns(4)
    for i, family in enumerate(offered):
        trials[family] = columns[i % 4].number_input(
            family_title(family), 0, 1000,
            current[family].max_trials if family in current else 0,
            help=families.get(family).summary if families.known(family) else None,
            key=f"plan_f_trials_{family}_{key}")
    return trials


def _labels(plan: Plan, profile: Profile, task: Task, key: str) -> dict | None:
    """A multi-label plan's labels: the label columns to choose from, or the delimited
    labels said; None for any other task."""
    if task is not Task.multilabel or plan.labels is None:
        return None
    labels = plan.labels
    if labels.separator:
        st.caption(literal(f"Labels: those listed in “{plan.target}”, separated by "
                           f"“{labels.separator}”" + (f" ({', '.join(labels.names)})."
                                                      if labels.names else ".")))
        return labels.model_dump(mode="json")
    names = profile.column_names
    chosen = st.multiselect("Label columns (each 0/1)", names, default=labels.columns,
                            key=f"plan_f_labels_{key}")
    return {"columns": chosen} if chosen else labels.model_dump(mode="json")


def settings_form(plan: Plan, profile: Profile, key: str) -> Plan | None:
    """The plan's settings as controls; the changed Plan once approved, else None."""
    names = profile.column_names
    c1, c2, c3 = st.columns(3)
    target = c1.selectbox("What to predict (the target column)", names,
                          index=names.index(plan.target) if plan.target in names else 0,
                          key=f"plan_f_target_{key}")
    # Another target brings its own kind of problem, and that its own metrics.
    natural = plan.task if target == plan.target else task_for(profile.column(target),
                                                                profile.n_rows)
    # A forecast needs its set-up (time, horizon): the forecast form makes those plans.
    tasks = [t for t in Task if t is not Task.forecast]
    task = c2.selectbox("Kind of problem", tasks, index=tasks.index(natural),
                        format_func=task_label, key=f"plan_f_task_{key}_{names.index(target)}")
    metrics = list(METRICS_FOR_TASK[task])
    first = plan.metric if plan.metric in metrics else DEFAULT_METRIC[task]
    metric = c3.selectbox("Metric", metrics, index=metrics.index(first),
                          format_func=metric_label, key=f"plan_f_metric_{key}_{task.value}")
    words = METRIC_WORDS[metric].format(unit="image" if profile.modality == "image" else "row")
    st.caption(f"{words[:1].upper()}{words[1:]}.")
    labels = _labels(plan, profile, task, key)
    source = None
    if task is Task.text_to_text:  # the column each output is written from
        inputs = [c for c in names if c != target]
        source = st.selectbox("Written from (the input text column)", inputs,
                              index=inputs.index(plan.input_column)
                              if plan.input_column in inputs else None,
                              placeholder="Choose a column", key=f"plan_f_input_{key}")
    validation, problems = _validation(plan, profile, task, key)
    trials = _families(plan, profile, key)
    current = {f.family: f for f in plan.families}
    excluded = st.multiselect("Columns to leave out", [c for c in names if c != target],
                              default=[c for c in plan.excluded_columns if c != target],
                              key=f"plan_f_excluded_{key}")
    c1, c2 = st.columns(2)
    budget = c1.number_input("Time budget for the search (seconds)", 5, 86_400, plan.budget_seconds,
                             key=f"plan_f_budget_{key}")
    seed = c2.number_input("Seed (the same seed repeats the same search)", 0, 2**31 - 1,
                           plan.seed, key=f"plan_f_seed_{key}")
    candidate = None
    if not problems:
        try:
            candidate = Plan.model_validate({
                **plan.model_dump(mode="json"), "target": target, "task": task.value,
                "metric": metric.value, "validation": validation,
                "families": [(current.get(f) or FamilyChoice(family=f)).model_copy(
                    update={"max_trials": int(n)}).model_dump(mode="json")
                    for f, n in trials.items() if n > 0],
                "excluded_columns": excluded, "budget_seconds": int(budget),
                "seed": int(seed), "labels": labels, "input_column": source,
                **({"target": labels["columns"][0]} if labels and labels.get("columns")
                   else {})})
        except ValidationError as exc:
            problems = errors_of(exc)
    if candidate is not None:
        candidate = as_edited(plan, candidate)
        problems = plan_problems(candidate, profile)
    return _approve_button(plan, candidate, problems, "Approve these changes",
                           "plan_approve_form")


def json_editor(plan: Plan, doc_plan: dict, profile: Profile, key: str) -> Plan | None:
    """The plan as JSON, checked as it is typed; the changed Plan once approved."""
    raw = st.text_area("Plan JSON", pretty(doc_plan), height=360, key=f"plan_json_{key}")
    candidate, problems = parse_json(raw)
    if candidate is not None:
        problems = plan_problems(candidate, profile)
    return _approve_button(plan, candidate, problems, "Approve this JSON", "plan_approve_json")


def _approve_button(plan: Plan, candidate: Plan | None, problems: list[str], label: str,
                    key: str) -> Plan | None:
    changes = changes_in_words(plan, candidate) if candidate is not None else []
    if changes:
        show_lines("Your changes", changes)
    for line in problems:
        st.error(literal(line))  # problems quote names and the typed JSON
    ready = candidate is not None and not problems and candidate != plan
    if candidate == plan:
        st.caption("Change a setting above to approve it as a new version.")
    if st.button(label, key=key, disabled=not ready, icon=":material/check:") and ready:
        return candidate
    return None
