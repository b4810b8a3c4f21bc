"""Plan: propose a training plan, read it, edit it (form or JSON), approve, launch."""

import json

import streamlit as st
from pydantic import ValidationError

from app import nav
from app.ui import clock, pick_dataset, show_error, workspace
from engine.intake.ingest import load_profile
from engine.schemas import METRICS_FOR_TASK, Family, FamilyChoice, Plan, Task, ValidationKind
from storage import plans as plan_store

ws = workspace()
st.title("Plan")
dataset = pick_dataset(ws, key="plan_pick")
if dataset is None:
    st.stop()
profile = load_profile(ws.home, dataset["id"])
versions = plan_store.list_plans(ws.catalog, dataset["id"])

with st.expander("Propose a new plan", expanded=not versions):
    names = profile.column_names
    guess = profile.target.column if profile.target else names[-1]
    target = st.selectbox("What do you want to predict?", names, index=names.index(guess),
                          key="plan_target")
    budget = st.number_input("Time budget (seconds)", 10, 86_400, 120, step=10,
                             key="plan_budget")
    if st.button("Propose a plan", type="primary", key="plan_propose"):
        try:
            ws.propose_plan(dataset["id"], target=target, budget_seconds=int(budget))
            st.rerun()
        except Exception as exc:
            show_error(exc, "Could not propose a plan")

if not versions:
    st.stop()

labels = {v["id"]: f"v{v['version']} · {'approved' if v['approved'] else 'proposed'} by "
                   f"{v['planner']} · {clock(v['created_at'])}" for v in versions}
# A version approved on the last rerun is the one shown, so its Launch button works.
if (pending := st.session_state.pop("plan_select", None)) in labels:
    st.session_state["plan_version"] = pending
chosen_id = st.selectbox("Version", list(labels), format_func=labels.get, key="plan_version")
doc = next(v for v in versions if v["id"] == chosen_id)
plan = Plan.model_validate(doc["plan"])

st.subheader("The plan in plain words")
st.info(plan.rationale or "No rationale was given.")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Target", plan.target)
c2.metric("Task", plan.task.value)
c3.metric("Metric", plan.metric.value)
c4.metric("Budget", f"{plan.budget_seconds} s")
for f in plan.families:
    st.markdown(f"- **{f.family.value}** (up to {f.max_trials} trials): {f.reason}")

st.subheader("Edit")
form_tab, json_tab = st.tabs(["Form", "JSON"])
edited: Plan | None = None
with form_tab:
    with st.form("plan_form"):
        task = st.selectbox("Task", [t.value for t in Task], index=list(Task).index(plan.task))
        metrics = [m.value for m in METRICS_FOR_TASK[Task(task)]]
        metric = st.selectbox("Metric", metrics, index=metrics.index(plan.metric.value)
                              if plan.metric.value in metrics else 0)
        kinds = [k.value for k in ValidationKind]
        vkind = st.selectbox("Validation", kinds, index=kinds.index(plan.validation.kind.value))
        n_splits = st.slider("Folds", 2, 10, plan.validation.n_splits)
        fams = st.multiselect("Model families", [f.value for f in Family],
                              default=[f.family.value for f in plan.families])
        excluded = st.multiselect("Ignore these columns",
                                  [c for c in profile.column_names if c != plan.target],
                                  default=plan.excluded_columns)
        budget_s = st.number_input("Time budget (seconds)", 5, 86_400, plan.budget_seconds)
        seed = st.number_input("Seed", 0, 2**31 - 1, plan.seed)
        if st.form_submit_button("Approve these settings", type="primary"):
            old = {f.family.value: f for f in plan.families}
            try:
                edited = Plan.model_validate({
                    **plan.model_dump(mode="json"), "task": task, "metric": metric,
                    "validation": {**plan.validation.model_dump(mode="json"),
                                   "kind": vkind, "n_splits": n_splits},
                    "families": [(old.get(f) or FamilyChoice(family=f)).model_dump(mode="json")
                                 for f in fams],
                    "excluded_columns": excluded, "budget_seconds": int(budget_s),
                    "seed": int(seed),
                })
            except ValidationError as exc:
                for err in exc.errors():
                    st.error(f"{'.'.join(map(str, err['loc'])) or 'plan'}: {err['msg']}")
with json_tab:
    raw = st.text_area("Plan JSON", json.dumps(doc["plan"], indent=2), height=360,
                       key=f"plan_json_{doc['id']}")
    if st.button("Approve this JSON", key="plan_approve_json"):
        try:
            edited = Plan.model_validate_json(raw)
        except ValidationError as exc:
            for err in exc.errors():
                st.error(f"{'.'.join(map(str, err['loc'])) or 'plan'}: {err['msg']}")

if not doc["approved"] and edited is None and st.button("Approve as proposed", type="primary",
                                                         key="plan_approve"):
    edited = plan
if edited is not None:
    try:
        approved = ws.approve_plan(edited, based_on=doc)
        st.session_state["plan_id"] = approved["id"]
        st.session_state["plan_select"] = approved["id"]
        st.success(f"Approved as version {approved['version']}.")
        doc = approved
    except Exception as exc:
        show_error(exc, "Could not approve the plan")

if doc["approved"]:
    if st.button("Launch a run with this plan", type="primary", key="plan_launch"):
        try:
            folder, _ = ws.start_run(doc)
            st.session_state["run_id"] = folder.id
            st.switch_page(nav.page("runs"))
        except Exception as exc:
            show_error(exc, "Could not launch the run")
