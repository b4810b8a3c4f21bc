"""Home: what Modelyard does, and a three-click path from nothing to a trained model."""

import streamlit as st

from modelyard.app import nav
from modelyard.app.ui import show_error, workspace
from modelyard.engine.intake.samples import SAMPLES
from modelyard.schemas import Plan

ws = workspace()

st.title("Modelyard")
st.caption("A local AutoML workbench")
st.markdown(
    "Modelyard turns a table of examples into a model that predicts the missing column. "
    "Bring a file (or try a sample); Modelyard profiles it, proposes a training plan you can "
    "read and edit, then trains and compares many models in the background. "
    "You get a leaderboard, predictions for new rows and a model you can take away — all on "
    "this machine, nothing sent anywhere."
)

st.subheader("Try it in one click")
keys = list(SAMPLES)
key = st.radio(
    "Pick a sample data set",
    keys,
    format_func=lambda k: f"{SAMPLES[k].title} — {SAMPLES[k].blurb}",
    key="home_sample",
)
budget = st.select_slider("Training time", options=[15, 30, 60, 120, 300], value=30,
                          format_func=lambda s: f"{s} s", key="home_budget")
if st.button("Train a model on this sample", type="primary", key="home_train"):
    try:
        with st.spinner("Loading the sample and planning…"):
            meta = ws.ingest_sample(key)
            proposal = ws.propose_plan(meta["id"], budget_seconds=budget)
            approved = ws.approve_plan(Plan.model_validate(proposal["plan"]),
                                       based_on=proposal)
            folder, _ = ws.start_run(approved, name=f"{SAMPLES[key].title} demo")
        st.session_state["dataset_id"] = meta["id"]
        st.session_state["run_id"] = folder.id
        st.switch_page(nav.page("runs"))
    except Exception as exc:
        show_error(exc, "Could not start the demo")

st.subheader("Or bring your own data")
c1, c2, c3 = st.columns(3)
c1.page_link(nav.page("data"), label="1 · Add data")
c2.page_link(nav.page("plan"), label="2 · Review the plan")
c3.page_link(nav.page("runs"), label="3 · Train and watch")
