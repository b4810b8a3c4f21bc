"""Leaderboard: every trial of every Run, ranked by its cross-validated score."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app.ui import TRIAL_COLUMNS, fmt_params, workspace
from storage import datasets as dataset_store
from storage import runs as run_store

ws = workspace()
st.title("Leaderboard")

datasets = dataset_store.list_datasets(ws.catalog)
options = [None] + [d["id"] for d in datasets]
names = {d["id"]: d["name"] for d in datasets}
dataset_id = st.selectbox("Data set", options, key="leaderboard_dataset",
                          format_func=lambda i: "All data sets" if i is None else names[i])
rows = run_store.leaderboard(ws.catalog, dataset_id=dataset_id)
if not rows:
    st.info("No finished trials yet. Launch a run from the **Plan** page.")
    st.stop()

frame = pd.DataFrame(rows)
frame["params"] = frame["params"].map(fmt_params)
best = frame[frame["rank"] == 1]
st.subheader("Best model of each run")
st.dataframe(best[["dataset", "run_name", "model", "family", "metric", "cv_score", "cv_std",
                   "fit_seconds"]], hide_index=True, key="leaderboard_best",
             column_config=TRIAL_COLUMNS)

run_ids = list(dict.fromkeys(frame["run_id"]))
run_id = st.selectbox("Run", run_ids, key="leaderboard_run",
                      format_func=lambda i: frame.loc[frame["run_id"] == i, "run_name"].iloc[0])
one = frame[frame["run_id"] == run_id]
metric = one["metric"].iloc[0]
st.subheader(f"All models of this run, by {metric}")
st.dataframe(one[["rank", "model", "family", "cv_score", "cv_std", "fit_seconds", "params"]],
             hide_index=True, key="leaderboard_trials", column_config=TRIAL_COLUMNS)
per_family = one.sort_values("rank").groupby("family", as_index=False).first()
fig = px.bar(per_family, x="family", y="cv_score", error_y="cv_std",
             title=f"Best {metric} per model family", height=320)
st.plotly_chart(fig, key="leaderboard_chart")
