"""Manage: disk use per data set and Run; rename and delete them (what depends on a data
set is named before it goes); clear old checkpoints."""

import pandas as pd
import streamlit as st

from modelyard.app.literal import literal
from modelyard.app.ui import clock, show_error, workspace
from modelyard.engine.results import housekeeping as hk
from modelyard.engine.results.words import plural

ws = workspace()
st.title("Manage")

use = hk.disk_usage(ws.home)
datasets = {d["id"]: d for d in use["datasets"]}
runs = {r["id"]: r for r in use["runs"]}
c1, c2, c3 = st.columns(3)
c1.metric("Disk used", hk.human_bytes(use["total_bytes"]))
c2.metric("Checkpoints", hk.human_bytes(sum(r["checkpoint_bytes"] for r in runs.values())))
c3.metric("Catalog", hk.human_bytes(use["catalog_bytes"]))

st.subheader("Data sets")
if datasets:
    per_dataset = {i: sum(r["bytes"] for r in runs.values() if r["dataset_id"] == i)
                   for i in datasets}
    st.dataframe(pd.DataFrame([{
        "data set": d["name"], "id": d["id"], "size": hk.human_bytes(d["bytes"]),
        "runs": sum(r["dataset_id"] == i for r in runs.values()),
        "runs' size": hk.human_bytes(per_dataset[i])} for i, d in datasets.items()]),
        hide_index=True, key="manage_datasets")
else:
    st.info("No data sets.")

st.subheader("Runs")
if runs:
    st.dataframe(pd.DataFrame([{
        "run": r["name"], "id": r["id"], "status": r["status"],
        "data set": datasets.get(r["dataset_id"], {}).get("name", r["dataset_id"]),
        "size": hk.human_bytes(r["bytes"]), "model": hk.human_bytes(r["model_bytes"]),
        "checkpoints": hk.human_bytes(r["checkpoint_bytes"]),
        "finished": clock(r["finished_at"])} for r in runs.values()]),
        hide_index=True, key="manage_runs")
else:
    st.info("No runs.")

choices = [("dataset", i) for i in datasets] + [("run", i) for i in runs]
if not choices:
    st.stop()


def label(choice) -> str:
    kind, ident = choice
    item = datasets[ident] if kind == "dataset" else runs[ident]
    return f"{'Data set' if kind == 'dataset' else 'Run'}: {item['name']} ({ident})"


st.subheader("Rename or delete")
chosen = st.selectbox("Data set or run", choices, format_func=label, key="manage_pick")
kind, ident = chosen
rename_col, delete_col = st.columns(2)
with rename_col:
    current = (datasets[ident] if kind == "dataset" else runs[ident])["name"] or ""
    new_name = st.text_input("New name", current, key=f"manage_name_{ident}")
    if st.button("Rename", key="manage_rename", disabled=new_name.strip() == current):
        try:
            if kind == "dataset":
                hk.rename_dataset(ws.home, ws.catalog, ident, new_name)
            else:
                hk.rename_run(ws.home, ws.catalog, ident, new_name)
            st.toast(f"Renamed to “{literal(new_name.strip())}”.")
            st.rerun()
        except Exception as exc:
            show_error(exc, "Could not rename")
with delete_col:
    if kind == "dataset":
        deps = hk.dependents(ws.home, ident)
        if deps["runs"]:
            st.warning(f"{plural(len(deps['runs']), 'run')} "
                       f"{'uses' if len(deps['runs']) == 1 else 'use'} this data set and go"
                       " with it, with "
                       "their models and predictions: "
                       + ", ".join(f"**{literal(r['name'])}** ({r['status']})"
                                   for r in deps["runs"]))
        st.caption(f"Also its {plural(len(deps['plans']), 'plan version')}.")
    else:
        st.caption("Its model, predictions, reports and journal go with it.")
    sure = st.checkbox("I understand this cannot be undone", key=f"manage_sure_{ident}")
    if st.button("Delete", key="manage_delete", disabled=not sure, type="primary"):
        try:
            if kind == "dataset":
                done = hk.delete_dataset(ws.home, ws.catalog, ident, with_runs=True)
            else:
                done = hk.delete_run(ws.home, ws.catalog, ident)
            st.toast(f"Deleted {literal(done.what)}: {hk.human_bytes(done.freed_bytes)} "
                     "freed.")
            if st.session_state.get("run_id") == ident:
                st.session_state["run_id"] = None
            st.rerun()
        except Exception as exc:
            show_error(exc, "Could not delete")

st.subheader("Old checkpoints")
st.markdown("A finished run keeps checkpoints (the search's best out-of-fold predictions, "
            "half-trained networks) so that it can be given more time. Removing them frees "
            "space; the models stay usable, and more time starts that pool afresh.")
days = st.number_input("Runs that ended more than this many days ago", 0, 3650, 7,
                       key="manage_days")
candidates = hk.clean_checkpoints(ws.home, older_than_days=days, dry_run=True)
freeable = sum(c["freed_bytes"] for c in candidates)
if st.button(f"Remove checkpoints of {plural(len(candidates), 'run')} "
             f"({hk.human_bytes(freeable)})",
             key="manage_clean", disabled=not candidates):
    cleaned = hk.clean_checkpoints(ws.home, older_than_days=days)
    st.toast(f"Freed {hk.human_bytes(sum(c['freed_bytes'] for c in cleaned))}.")
    st.rerun()
