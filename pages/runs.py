"""Runs: launch, watch live (trials, best so far, log), cancel."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app import nav
from app.ui import TRIAL_COLUMNS, clock, fmt_params, fmt_score, show_error, workspace
from storage import runs as run_store
from storage.runfolder import ACTIVE, RunFolder

ws = workspace()
st.title("Runs")

runs = run_store.list_runs(ws.catalog)
if not runs:
    st.info("No runs yet. Approve a plan on the **Plan** page and launch it, or try a sample "
            "on the **Home** page.")
    st.page_link(nav.page("plan"), label="Go to Plan")
    st.stop()

ids = [r["id"] for r in runs]
by_id = {r["id"]: r for r in runs}
current = st.session_state.get("run_id")
run_id = st.selectbox(
    "Run", ids, index=ids.index(current) if current in ids else 0, key="runs_pick",
    # A stable label: a label that changes between reruns would reset the choice.
    format_func=lambda i: f"{by_id[i]['name']} · {by_id[i]['dataset'] or by_id[i]['dataset_id']}"
                          f" · started {clock(by_id[i]['created_at'])}")
st.session_state["run_id"] = run_id


def live_view(run_id: str) -> None:
    ws.refresh()
    run = run_store.get_run(ws.catalog, run_id)
    if run is None:
        st.warning("This run no longer exists.")
        return
    status = run["status"]
    progress = run_store.events(ws.catalog, run_id, kinds=("progress",), limit=1)
    live = progress[-1]["data"] if progress else {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", status)
    c2.metric("Metric", run["metric"] or "—")
    c3.metric("Best model" if run["best_model"] else "Best so far",
              run["best_model"] or live.get("best_model") or "—")
    c4.metric("Best score", fmt_score(run["best_score"] if run["best_model"]
                                      else live.get("best_score")))

    if status in ACTIVE:
        fraction = progress[-1]["data"].get("fraction", 0.0) if progress else 0.0
        text = progress[-1]["message"] if progress else "starting the worker…"
        st.progress(min(1.0, fraction), text=text)
        if st.button("Cancel this run", key="runs_cancel"):
            ws.cancel(run_id)
            st.rerun(scope="app")
    elif run["message"]:
        say = {"succeeded": st.success, "failed": st.error}.get(status, st.info)
        say(run["message"])

    trials = run_store.trials(ws.catalog, run_id)
    done = [t for t in trials if t["state"] == "complete"]
    if done:
        frame = pd.DataFrame(done)
        frame["finished"] = pd.to_datetime(frame["finished_at"], unit="s")
        better = max if run["greater_is_better"] else min
        best, best_so_far = None, []
        for score in frame["cv_score"]:
            best = score if best is None else better(best, score)
            best_so_far.append(best)
        frame["best so far"] = best_so_far
        fig = px.scatter(frame, x="finished", y="cv_score", color="family",
                         title=f"Trials ({run['metric']})", height=380,
                         labels={"cv_score": run["metric"], "finished": ""})
        fig.update_layout(legend={"orientation": "h", "y": -0.15})
        fig.add_scatter(x=frame["finished"], y=frame["best so far"], mode="lines",
                        name="best so far", line={"shape": "hv"})
        st.plotly_chart(fig, key="runs_chart")
    if trials:
        table = pd.DataFrame(trials)
        table["params"] = table["params"].map(fmt_params)
        st.dataframe(
            table[["model", "family", "state", "cv_score", "cv_std",
                                  "fit_seconds", "params"]],
            hide_index=True, key="runs_trials", column_config=TRIAL_COLUMNS)
    with st.expander("Worker log"):
        st.code(RunFolder(ws.home.run_dir(run_id)).log_tail() or "(empty)", language="text")
    if status not in ACTIVE and st.session_state.get("runs_was_active") == run_id:
        st.session_state["runs_was_active"] = None
        st.rerun(scope="app")  # stop polling: the run is over
    if status in ACTIVE:
        st.session_state["runs_was_active"] = run_id


try:
    active = by_id[run_id]["status"] in ACTIVE
    st.fragment(live_view, run_every=1.5 if active else None)(run_id)
except Exception as exc:
    show_error(exc, "Could not show this run")

if by_id[run_id]["status"] == "succeeded":
    st.page_link(nav.page("leaderboard"), label="See the leaderboard")
