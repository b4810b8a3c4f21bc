"""The Model page's Serve tab: start and stop a prediction server for the Run's model. Its
state is in the run folder (`modelyard/serve/process.py`), so a rerun or a restart of the
app finds a server that is still running."""

from __future__ import annotations

import time

import streamlit as st

from modelyard.app.literal import literal
from modelyard.app.ui import show_error
from modelyard.app.workspace import Workspace


def serve_server(ws: Workspace, run_id: str) -> None:
    """The server's address and an example request, with a start or stop button."""
    st.markdown("A **prediction server** lets other programs on this computer (a script, a "
                "spreadsheet, a web page) ask this model for predictions: they send rows, "
                "it answers with the prediction for each. It listens on this computer only "
                "and keeps running when you close the app, until you stop it here.")
    try:
        now = ws.server_state(run_id)
    except Exception as exc:
        show_error(exc, "Could not read the server's state")
        return
    if now is not None and not now.alive:
        st.warning(f"The server started {_ago(now.started_at)} is no longer running: "
                   f"{literal(now.reason)}.")
        if now.log_tail:
            with st.expander("Its last output"):
                st.code(now.log_tail, language="text")
    if now is not None and now.alive:
        st.success(f"Serving at {now.url} (started {_ago(now.started_at)}).")
        st.markdown(f"Columns and types: [{now.url}/docs]({now.url}/docs). "
                    "An example request, with the first row of the training data:")
        try:
            st.code(ws.server_example(run_id, now.url), language="bash", wrap_lines=True)
        except Exception as exc:
            show_error(exc, "Could not build the example request")
        if ws.settings().serve_token:
            st.caption("A token is set (MODELYARD_SERVE_TOKEN or the settings file): "
                       "every request but /health must send it.")
        if st.button("Stop the server", key="model_serve_stop"):
            try:
                ws.stop_server(run_id)
            except Exception as exc:
                show_error(exc, "Could not stop the server")
            st.rerun()
        return
    if st.button("Start a prediction server", key="model_serve_start", type="primary"):
        try:
            with st.spinner("Starting the server (it checks and loads the model)…"):
                ws.start_server(run_id)
        except Exception as exc:
            show_error(exc, "Could not start the server")
            return
        st.rerun()
    st.caption(f"From a terminal: `modelyard serve {run_id}` (see `modelyard serve --help`).")


def _ago(when: float) -> str:
    seconds = max(0, int(time.time() - when))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
