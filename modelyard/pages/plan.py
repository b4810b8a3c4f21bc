"""Plan: say what you want, get a plan proposed (language model or rules), read it,
edit it (form or JSON), approve, launch; after a run, review the results."""

import streamlit as st
from pydantic import ValidationError

from modelyard.app import nav
from modelyard.app.plan_view import (
    Progress,
    errors_of,
    parse_json,
    pretty,
    show_card,
    show_origin,
    show_provenance,
    show_target_change,
)
from modelyard.app.ui import clock, pick_dataset, show_error, workspace
from modelyard.app.views import TERMINAL
from modelyard.engine.planning.diff import diff_plans
from modelyard.engine.planning.explain import family_title
from modelyard.engine.planning.problems import plan_problems
from modelyard.engine.planning.propose import IMAGE_NOTE
from modelyard.engine.training import families
from modelyard.schemas import METRICS_FOR_TASK, FamilyChoice, Plan, Task, ValidationKind

PLANNER_WORDS = {"auto": "Language model if available, else rules",
                 "ollama": "Language model only", "rules": "Rules only (instant)"}
LET_IT_CHOOSE = "(let the planner choose)"
NONE = "(none)"

ws = workspace()
st.title("Plan")
dataset = pick_dataset(ws, key="plan_pick")
if dataset is None:
    st.stop()
profile = ws.dataset(dataset["id"]).profile
versions = ws.plans(dataset["id"])
options = ws.llm_options()

# A run of this page that was asking a model and never finished was stopped (the Stop
# button, or any click, interrupts it): say so, nothing was stored.
if st.session_state.pop("plan_asking", False):
    st.info("The planner was stopped before it finished; nothing was stored.",
            icon=":material/stop_circle:")

with st.expander("Propose a new plan", expanded=not versions):
    goal = st.text_input("What do you want to predict?", key="plan_goal",
                         placeholder="In your own words, e.g. “which customers will leave” "
                                     "or “the price of a house”")
    names = profile.column_names
    target = st.selectbox("Target column", [LET_IT_CHOOSE, *names], key="plan_target",
                          help="Leave it to the planner to read it from your words and the "
                               "data, or choose the column yourself.")
    budget = st.number_input("Time budget (seconds)", 10, 86_400, 120, step=10,
                             key="plan_budget")
    planners = list(PLANNER_WORDS)
    planner = st.radio("Planner", planners, index=planners.index(options["planner"]),
                       format_func=PLANNER_WORDS.get, horizontal=True, key="plan_planner")
    if profile.modality == "image":
        st.caption(IMAGE_NOTE)
    elif planner != "rules":
        st.caption(f"Ollama at {options['host']}"
                   + (f", model {options['default_model']}" if options["default_model"]
                      else "") + ". Change it on the Settings page.")
    if st.button("Propose a plan", type="primary", key="plan_propose"):
        st.session_state["plan_asking"] = True
        with st.status("Making a plan…", expanded=planner != "rules") as box:
            st.button("Stop the planner", key="plan_stop", icon=":material/stop:")
            try:
                doc = ws.propose_plan(
                    dataset["id"], target=None if target == LET_IT_CHOOSE else target,
                    budget_seconds=int(budget), goal=goal or None, planner=planner,
                    on_progress=Progress(box))
            except Exception as exc:
                st.session_state.pop("plan_asking", None)
                box.update(label="No plan was made", state="error")
                show_error(exc, "Could not propose a plan")
            else:
                st.session_state.pop("plan_asking", None)
                st.session_state["plan_select"] = doc["id"]
                st.rerun()

if not versions:
    st.stop()

by_id = {v["id"]: v for v in versions}


def _label(v) -> str:
    made = v["planner"]
    model = (v.get("provenance") or {}).get("model")
    if made == "ollama" and model:
        made = f"{model}"
    return (f"v{v['version']} · {'approved' if v['approved'] else 'proposed'} by {made} · "
            f"{clock(v['created_at'])}")


# A version stored on the last rerun is the one shown, so its buttons work at once.
if (pending := st.session_state.pop("plan_select", None)) in by_id:
    st.session_state["plan_version"] = pending
chosen_id = st.selectbox("Version", list(by_id), format_func=lambda i: _label(by_id[i]),
                         key="plan_version")
doc = by_id[chosen_id]
plan = Plan.model_validate(doc["plan"])

st.subheader("The plan in plain words")
show_origin(doc, versions)
show_target_change(ws.target_change(doc), doc["approved"])
show_card(plan, ws.image_setup(plan) if profile.modality == "image" else None)
show_provenance(doc.get("provenance") or {})

st.subheader("Edit")
form_tab, json_tab = st.tabs(["Form", "JSON"])
edited: Plan | None = None
key = doc["id"]
with form_tab:
    with st.form("plan_form"):
        target_f = st.selectbox("Target", names, index=names.index(plan.target)
                                if plan.target in names else 0, key=f"plan_f_target_{key}")
        task = st.selectbox("Task", [t.value for t in Task], index=list(Task).index(plan.task),
                            key=f"plan_f_task_{key}")
        metrics = [m.value for m in METRICS_FOR_TASK[Task(task)]]
        metric = st.selectbox("Metric", metrics, index=metrics.index(plan.metric.value)
                              if plan.metric.value in metrics else 0, key=f"plan_f_metric_{key}")
        kinds = [k.value for k in ValidationKind]
        c1, c2, c3 = st.columns(3)
        vkind = c1.selectbox("Validation", kinds, index=kinds.index(plan.validation.kind.value),
                             key=f"plan_f_vkind_{key}")
        n_splits = c2.slider("Folds", 2, 10, plan.validation.n_splits, key=f"plan_f_folds_{key}")
        holdout = c3.slider("Holdout share", 0.05, 0.5, plan.validation.holdout_fraction,
                            key=f"plan_f_holdout_{key}")
        v = plan.validation
        split_by = st.selectbox("Column that groups rows (group_kfold) or orders them in time "
                                "(time_split)", [NONE, *names],
                                index=([NONE, *names].index(v.group_column or v.time_column)
                                       if (v.group_column or v.time_column) in names else 0),
                                key=f"plan_f_splitcol_{key}")
        st.markdown("Trials per model family (0 leaves the family out)")
        current = {f.family: f for f in plan.families}
        images = profile.modality == "image"
        offered = [f for f in families.REGISTRY if families.is_image(f) == images or f in current]
        trials = {}
        columns = st.columns(5)
        for i, family in enumerate(offered):
            trials[family] = columns[i % 5].number_input(
                family_title(family), 0, 1000,
                current[family].max_trials if family in current else 0,
                key=f"plan_f_trials_{family}_{key}")
        excluded = st.multiselect("Ignore these columns",
                                  [c for c in names if c != target_f],
                                  default=[c for c in plan.excluded_columns if c != target_f],
                                  key=f"plan_f_excluded_{key}")
        c1, c2 = st.columns(2)
        budget_s = c1.number_input("Time budget (seconds)", 5, 86_400, plan.budget_seconds,
                                   key=f"plan_f_budget_{key}")
        seed = c2.number_input("Seed", 0, 2**31 - 1, plan.seed, key=f"plan_f_seed_{key}")
        if st.form_submit_button("Approve these settings", type="primary"):
            split_col = None if split_by == NONE else split_by
            try:
                edited = Plan.model_validate({
                    **plan.model_dump(mode="json"), "target": target_f, "task": task,
                    "metric": metric,
                    "validation": {
                        "kind": vkind, "n_splits": n_splits, "holdout_fraction": holdout,
                        "group_column": split_col if vkind == "group_kfold" else None,
                        "time_column": split_col if vkind == "time_split" else None},
                    "families": [(current.get(f) or FamilyChoice(family=f)).model_copy(
                        update={"max_trials": int(n)}).model_dump(mode="json")
                        for f, n in trials.items() if n > 0],
                    "excluded_columns": excluded, "budget_seconds": int(budget_s),
                    "seed": int(seed),
                })
            except ValidationError as exc:
                for line in errors_of(exc):
                    st.error(line)
with json_tab:
    raw = st.text_area("Plan JSON", pretty(doc["plan"]), height=360, key=f"plan_json_{key}")
    candidate, problems = parse_json(raw)
    if candidate is not None:
        problems = plan_problems(candidate, profile)
        changes = diff_plans(plan, candidate)
        if changes:
            st.markdown("**Your edits:**\n" + "\n".join(f"- {c}" for c in changes))
    for line in problems:
        st.error(line)
    if st.button("Approve this JSON", key="plan_approve_json") and candidate is not None \
            and not problems:
        edited = candidate

if not doc["approved"] and edited is None and st.button("Approve as proposed", type="primary",
                                                         key="plan_approve"):
    edited = plan
if edited is not None:
    try:
        approved = ws.approve_plan(edited, based_on=doc)
        st.session_state["plan_id"] = approved["id"]
        st.session_state["plan_select"] = approved["id"]
        edits = approved["provenance"].get("edits") or []
        st.success(f"Approved as version {approved['version']}."
                   + (" Your changes: " + "; ".join(edits) + "." if edits else ""))
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

finished = ws.runs(dataset["id"], statuses=TERMINAL)
if finished:
    st.subheader("Learn from a run")
    runs_by_id = {r["id"]: r for r in finished}
    run_id = st.selectbox("Run", list(runs_by_id), key="plan_review_run",
                          format_func=lambda i: f"{runs_by_id[i]['name']} · "
                                                f"{runs_by_id[i]['status']} · "
                                                f"{clock(runs_by_id[i]['created_at'])}")
    st.caption("The review reads the run's leaderboard and journal, says what went wrong "
               "and proposes a revised plan as a new version.")
    if st.button("Review results", key="plan_review"):
        st.session_state["plan_asking"] = True
        with st.status("Reviewing the run…", expanded=True) as box:
            try:
                revision, revised = ws.review_run(run_id, on_progress=Progress(box))
            except Exception as exc:
                st.session_state.pop("plan_asking", None)
                box.update(label="The review did not finish", state="error")
                show_error(exc, "Could not review the run")
            else:
                st.session_state.pop("plan_asking", None)
                if revised is None:
                    box.update(label="Nothing to change", state="complete")
                    for f in revision.findings:
                        st.markdown(f"- {f.message}")
                    if revision.fallback_reason:
                        st.warning(revision.provenance.get("fallback_headline")
                                   or revision.fallback_reason)
                else:
                    st.session_state["plan_select"] = revised["id"]
                    st.rerun()
