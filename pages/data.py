"""Data: add a table (upload, path on disk, or sample), preview it, read its profile."""

from pathlib import Path

import pandas as pd
import streamlit as st

from app import nav
from app.ui import pick_dataset, show_error, workspace
from engine.intake.ingest import load_profile, preview
from engine.intake.samples import SAMPLES

ws = workspace()
st.title("Data")


def _ingested(meta: dict) -> None:
    st.session_state["dataset_id"] = meta["id"]
    st.success(f"Added **{meta['name']}**: {meta['n_rows']} rows × {meta['n_cols']} columns.")


upload_tab, path_tab, sample_tab = st.tabs(["Upload a file", "Open a file on this computer",
                                            "Sample data"])
with upload_tab:
    uploaded = st.file_uploader("CSV or Parquet", type=["csv", "tsv", "parquet"],
                                key="data_upload")
    if uploaded is not None and st.button("Add this file", type="primary",
                                          key="data_add_upload"):
        try:
            with st.spinner(f"Reading {uploaded.name}…"):
                folder = ws.home.root / "uploads"
                folder.mkdir(exist_ok=True)
                path = folder / Path(uploaded.name).name
                path.write_bytes(uploaded.getbuffer())
                _ingested(ws.ingest(path, name=Path(uploaded.name).stem))
        except Exception as exc:
            show_error(exc, f"Could not read {uploaded.name}")
with path_tab:
    st.caption("For big files: nothing is copied through the browser.")
    raw_path = st.text_input("Path to a CSV or Parquet file", key="data_path")
    test_path = st.text_input("Optional: a test file to predict after training",
                              key="data_test_path")
    if st.button("Open", key="data_open", disabled=not raw_path):
        try:
            with st.spinner("Reading…"):
                _ingested(ws.ingest(raw_path.strip(), test_path=test_path.strip() or None))
        except Exception as exc:
            show_error(exc, "Could not open the file")
with sample_tab:
    for key, sample in SAMPLES.items():
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"**{sample.title}** ({sample.task}) — {sample.blurb}")
        if c2.button("Use", key=f"data_sample_{key}"):
            try:
                _ingested(ws.ingest_sample(key))
            except Exception as exc:
                show_error(exc, "Could not load the sample")

st.divider()
dataset = pick_dataset(ws, key="data_pick")
if dataset is not None:
    try:
        profile = load_profile(ws.home, dataset["id"])
    except Exception as exc:
        show_error(exc, "Could not read this data set's profile")
        st.stop()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows", f"{profile.n_rows:,}")
    c2.metric("Columns", profile.n_cols)
    c3.metric("Duplicate rows", profile.duplicate_rows)
    c4.metric("Test file", "yes" if dataset.get("has_test") else "no")
    if profile.target:
        t = profile.target
        if t.confidence >= 1.0:
            st.markdown(f"**Target:** `{t.column}` — a **{t.task.value}** problem ({t.reason}).")
        else:
            st.markdown(f"**Likely target:** `{t.column}` — a **{t.task.value}** problem "
                        f"(confidence {t.confidence:.0%}: {t.reason}).")
    else:
        st.warning("No column looks like a target; choose one on the Plan page.")
    for w in profile.warnings:
        say = st.warning if w.severity in ("warning", "error") else st.info
        say(f"{w.message} {w.action}")

    st.subheader("Columns")
    st.dataframe(
        pd.DataFrame([{
            "column": c.name, "kind": c.kind.value, "type": c.dtype,
            "missing": f"{c.missing_share:.0%}", "distinct": c.n_distinct,
            "min": c.min, "mean": c.mean, "max": c.max,
            "top values": ", ".join(f"{v} ({n})" for v, n in c.top_values[:3]),
        } for c in profile.columns]),
        hide_index=True, key="data_columns",
    )
    st.subheader("Preview")
    pages = max(1, (profile.n_rows + 99) // 100)
    page = st.number_input("Page", 1, pages, 1, key="data_page") if pages > 1 else 1
    st.dataframe(preview(ws.home, dataset["id"], offset=(page - 1) * 100, limit=100),
                 key="data_preview")
    st.page_link(nav.page("plan"), label="Next: review the training plan")
