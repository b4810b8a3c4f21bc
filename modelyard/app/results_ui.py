"""Pieces shared by the result pages (Model, Predict, Manage): picking a finished Run and
keeping its loaded model between reruns."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from modelyard.app import nav
from modelyard.app.ui import clock, fmt_score, workspace_at
from modelyard.app.workspace import Workspace
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.words import metric_name
from modelyard.engine.training.bundle import METADATA_FILE


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _result(root: str, run_id: str, stamp: float, status: str) -> RunResult:  # noqa: ARG001
    return workspace_at(root).open_result(run_id)  # `stamp`, `status`: the cache key


def load_result(ws: Workspace, run_id: str) -> RunResult:
    """The Run's results, loaded once per model file and status (a retrained model
    reloads; a later session that fails relabels the model)."""
    status = str(ws.run_folder(run_id).read().get("status"))
    return _result(str(ws.home.root), run_id, ws.model_stamp(run_id), status)


@st.cache_resource(max_entries=2, show_spinner="Loading the image model…")
def _image_model(model_dir: str, stamp: float):  # noqa: ARG001 - cache key
    from modelyard.engine.results.artifacts import load_model

    # A run's own model: one made before manifests loads too (engine/training/manifest.py).
    # load_model picks the image or the sound predictor from the bundle's kind.
    return load_model(Path(model_dir), trust_unsigned=True)


def image_model(result: RunResult):
    """The Run's image predictor (torch and the weights), loaded once per model file."""
    meta = result.model_dir / METADATA_FILE
    return _image_model(str(result.model_dir), meta.stat().st_mtime if meta.exists() else 0.0)


def pick_finished_run(ws: Workspace, key: str) -> str | None:
    """A chooser over Runs that have a model, remembering the choice across pages
    (`run_id`); None (and a pointer to the next step) when there is none."""
    # A Run that failed or was cancelled after its model was finished keeps that model
    # (shown with its label, `RunResult.note`).
    runs = [r for r in ws.runs(statuses=("succeeded", "failed", "cancelled"))
            if r["status"] == "succeeded" or ws.model_stamp(r["id"])]
    if not runs:
        st.info("No finished run yet. Train one from the **Plan** page, or try a sample on "
                "the **Home** page.")
        st.page_link(nav.page("home"), label="Go to Home")
        return None
    ids = [r["id"] for r in runs]
    by_id = {r["id"]: r for r in runs}
    current = st.session_state.get("run_id")
    chosen = st.selectbox(
        "Run", ids, index=ids.index(current) if current in ids else 0, key=key,
        format_func=lambda i: f"{by_id[i]['name']} · {by_id[i]['dataset'] or ''} · "
                              f"{metric_name(by_id[i]['metric'])} "
                              f"{fmt_score(by_id[i]['best_score'])} · "
                              f"{clock(by_id[i]['finished_at'])}")
    st.session_state["run_id"] = chosen
    return chosen


def open_finished_run(ws: Workspace, key: str) -> RunResult:
    """The page's run picker and the chosen run's results; stops the page, with the
    reason shown, when there is none or it cannot be opened."""
    from modelyard.app.ui import show_error

    run_id = pick_finished_run(ws, key)
    if run_id is None:
        st.stop()
    try:
        result = load_result(ws, run_id)
    except Exception as exc:
        show_error(exc, "Could not open this run's model")
        st.stop()
    if result.note:
        st.warning(result.note)
    return result


def single_split(plan: dict | None) -> bool:
    """Whether a Plan scores on one validation split (a holdout), so that its trials'
    spread across folds (always 0) means nothing and is better left blank."""
    validation = (plan or {}).get("validation") or {}
    return validation.get("kind") == "holdout"


def safe_name(text: str) -> str:
    """A file-name-safe version of a Run's name."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return cleaned or "modelyard"
