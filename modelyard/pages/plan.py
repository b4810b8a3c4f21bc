"""Plan: say what you want, get a plan proposed (language model or rules), read its
summary and launch it with one click (approving it on the way); change it in a form or
as JSON when you want to; after a run, review the results."""

import streamlit as st

from modelyard.app import nav
from modelyard.app.literal import literal
from modelyard.app.plan_form import json_editor, settings_form
from modelyard.app.plan_view import (
    Progress,
    show_card,
    show_origin,
    show_provenance,
    show_summary,
    show_target_change,
)
from modelyard.app.ui import clock, offer_extra, pick_dataset, show_error, workspace
from modelyard.app.views import TERMINAL
from modelyard.engine.planning.propose import rules_note
from modelyard.schemas import Plan

PLANNER_WORDS = {"auto": "Language model if available, else rules",
                 "ollama": "Language model only", "rules": "Rules only (instant)"}
LET_IT_CHOOSE = "(let the planner choose)"

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


def propose_section() -> None:
    """Ask for a new plan: the person's words, an optional target, a budget, a planner."""
    goal = st.text_input("What do you want to predict?", key="plan_goal",
                         placeholder="In your own words, e.g. “which customers will leave” "
                                     "or “the price of a house”")
    target = st.selectbox("Target column", [LET_IT_CHOOSE, *profile.column_names],
                          key="plan_target",
                          help="Leave it to the planner to read it from your words and the "
                               "data, or choose the column yourself.")
    budget = st.number_input("Time budget (seconds)", 10, 86_400, 120, step=10,
                             key="plan_budget")
    planners = list(PLANNER_WORDS)
    planner = st.radio("Planner", planners, index=planners.index(options["planner"]),
                       format_func=PLANNER_WORDS.get, horizontal=True, key="plan_planner")
    if rules_note(profile.modality):
        st.caption(literal(rules_note(profile.modality)))
    elif planner != "rules":
        st.caption(f"Ollama at {literal(options['host'])}"
                   + (f", model {literal(options['default_model'])}"
                      if options["default_model"] else "") + ". Change it on the Settings page.")
    if not st.button("Propose a plan", type="primary", key="plan_propose"):
        return
    st.session_state["plan_asking"] = True
    with st.status("Making a plan…", expanded=planner != "rules") as box:
        st.button("Stop the planner", key="plan_stop", icon=":material/stop:")
        try:
            # Words about the future on a time series ask for a forecast (as on the CLI).
            series = (ws.forecast_asked(dataset["id"], goal) if target == LET_IT_CHOOSE
                      else None)
            if series is not None:
                doc = ws.propose_forecast_plan(dataset["id"], target=series,
                                               budget_seconds=int(budget))
            else:
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


with st.expander("Propose a new plan", expanded=not versions):
    propose_section()
if profile.modality not in ("image", "audio", "text_to_text"):  # no time column to forecast
    from modelyard.app.forecast_ui import forecast_form, forecast_section, forecast_summary

    with st.expander("Forecast future values (a time series)",
                     expanded=bool(profile.findings.get("forecasting")) and not versions):
        if (made := forecast_section(ws, dataset, profile)) is not None:
            st.session_state["plan_select"] = made["id"]
            st.rerun()
if not versions:
    st.stop()

by_id = {v["id"]: v for v in versions}


def _label(v) -> str:
    """"v2 · approved by you · proposed by rules · 30 Nov 14:55:01": who made it, who
    approved it."""
    made = v["planner"]
    model = (v.get("provenance") or {}).get("model")
    if made == "ollama" and model:
        made = model
    if made == "person":
        who = "edited and approved by you" if v["approved"] else "edited by you"
    elif v["approved"]:
        who = f"approved by you · proposed by {made}"
    else:
        who = f"proposed by {made}"
    return f"v{v['version']} · {who} · {clock(v['created_at'])}"


# A version stored on the last run of the page is the one shown: the choice is set
# before the picker is drawn, so the picker, the summary and the buttons all agree.
if (pending := st.session_state.pop("plan_select", None)) in by_id:
    st.session_state["plan_version"] = pending
chosen_id = st.selectbox("Version", list(by_id), format_func=lambda i: _label(by_id[i]),
                         key="plan_version")
doc = by_id[chosen_id]
plan = Plan.model_validate(doc["plan"])
if said := st.session_state.pop("plan_approved_note", None):
    st.success(said, icon=":material/check_circle:")  # what changed: show_origin below
    st.toast(said, icon=":material/check_circle:")  # seen wherever the page is scrolled


def approve(edited: Plan, *, launch: bool) -> None:
    """Store `edited` as a new approved version, then launch it (and follow it on the
    Runs page) or show it selected, with what changed."""
    try:
        approved = ws.approve_plan(edited, based_on=doc)
    except Exception as exc:
        show_error(exc, "Could not approve the plan")
        return
    st.session_state["plan_id"] = approved["id"]
    st.session_state["plan_select"] = approved["id"]
    headline = f"Approved as version {approved['version']}. Launch it when you are ready."
    if launch:
        failed = start(approved)  # returns only when the run could not start
        headline = (f"Approved as version {approved['version']}, but the run did not start: "
                    f"{literal(failed)}")
    st.session_state["plan_approved_note"] = headline
    st.rerun()


def start(approved: dict) -> Exception | None:
    """Launch a run of an approved version and follow it on the Runs page (switching
    pages ends this run of the script); returns the error when it could not start."""
    try:
        folder, _ = ws.start_run(approved)
    except Exception as exc:
        show_error(exc, "Could not launch the run")
        return exc
    st.session_state["run_id"] = folder.id
    st.switch_page(nav.page("runs"))
    return None


# -- the plan at a glance, and the one thing to do with it ---------------------------------
st.subheader("The plan in plain words")
show_origin(doc, versions)
show_target_change(ws.target_change(doc), doc["approved"])
show_summary(plan)
if plan.forecast is not None:
    forecast_summary(plan)
# Image models need the vision extra; make run leaves it out, so it is offered here.
ready = profile.modality != "image" or offer_extra(
    ws, "vision", "Image models are trained here, on this machine.")
if doc["approved"]:
    if st.button("Launch", type="primary", key="plan_launch", icon=":material/play_arrow:",
                 disabled=not ready):
        start(doc)
    st.caption("Trains in the background with this version; you can follow it on the Runs "
               "page and leave this page at any time.")
else:
    if st.button("Approve and launch", type="primary", key="plan_approve",
                 icon=":material/play_arrow:", disabled=not ready):
        approve(plan, launch=True)
    st.caption("Approving keeps this version as yours and starts training at once, in the "
               "background. To change something first, open “Change the plan” below.")

# Per version: a new version starts with its changes folded away.
with st.expander(f"Change the plan (version {doc['version']})"):
    form_tab, json_tab = st.tabs(["Settings", "JSON"])
    with form_tab:
        edited = (forecast_form(plan, doc["id"]) if plan.forecast is not None
                  else settings_form(plan, profile, doc["id"]))
    with json_tab:
        from_json = json_editor(plan, doc["plan"], profile, doc["id"])
if from_json is not None:
    edited = from_json
if edited is not None:
    approve(edited, launch=False)

show_card(plan, ws.image_setup(plan) if profile.modality == "image" else None,
          unit="recording" if profile.modality == "audio" else None)
show_provenance(doc.get("provenance") or {})

# -- after a run: what it taught ------------------------------------------------------------
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
                        st.markdown(f"- {literal(f.message)}")
                    if revision.fallback_reason:
                        st.warning(literal(revision.provenance.get("fallback_headline")
                                           or revision.fallback_reason))
                else:
                    st.session_state["plan_select"] = revised["id"]
                    st.rerun()
