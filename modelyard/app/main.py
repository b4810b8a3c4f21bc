"""Streamlit entry point: routes to the pages and brings the catalog up to date once per
rerun (dead workers found, new journal lines indexed)."""

from __future__ import annotations

import streamlit as st

from modelyard.app.literal import literal
from modelyard.app.nav import all_pages
from modelyard.app.ui import show_error, workspace

st.set_page_config(page_title="Modelyard", page_icon="🧪", layout="wide")
page = st.navigation(all_pages())

try:
    ws = workspace()
    failed = ws.refresh()
    if notice := ws.catalog_notice():  # a damaged catalog was set aside and rebuilt
        st.toast(literal(notice), icon=":material/build:")
    for run_id in failed:
        st.toast(f"Run {literal(run_id)} stopped unexpectedly and was marked failed.",
                 icon=":material/cancel:")
except Exception as exc:  # the catalog could not be read: say so, keep the page usable
    show_error(exc, "Could not bring the catalog up to date")

page.run()
