"""Shared pieces of the pages: the workspace, error display, pickers, formatting."""

from __future__ import annotations

import time
import traceback
from typing import Any

import streamlit as st

from modelyard.app import nav
from modelyard.app.literal import literal
from modelyard.app.workspace import Workspace
from modelyard.engine.errors import ModelyardError
from modelyard.engine.intake.sizes import size_words


@st.cache_resource
def workspace_at(root: str) -> Workspace:
    """The Workspace of `root`, one per server (its catalog and locks are shared)."""
    return Workspace.at(root)


# How trial tables read: words for headers, scores to 4 decimals, params as text.
TRIAL_COLUMNS = {
    "model": st.column_config.TextColumn("Model", width="medium"),
    "family": st.column_config.TextColumn("Family"),
    "state": st.column_config.TextColumn("State"),
    "cv_score": st.column_config.NumberColumn("CV score", format="%.4f"),
    "cv_std": st.column_config.NumberColumn("± (folds)", format="%.4f"),
    "train_score": st.column_config.NumberColumn(
        "Train score", format="%.4f", help="The metric on rows the model was fitted on; far "
        "better than the CV score means it memorises rather than learns"),
    "fit_seconds": st.column_config.NumberColumn("Fit time (s)", format="%.2f"),
    "params": st.column_config.TextColumn("Settings", width="large"),
    "rank": st.column_config.NumberColumn("Rank", format="%d"),
    "run_name": st.column_config.TextColumn("Run"),
    "dataset": st.column_config.TextColumn("Data set"),
    "metric": st.column_config.TextColumn("Metric"),
}


def workspace() -> Workspace:
    """The Workspace of `$MODELYARD_HOME`, shared by every session of this server."""
    return workspace_at(Workspace.default_root())


def show_error(exc: BaseException, what: str = "That did not work") -> None:
    """A plain sentence for the person; the traceback one click away. The sentence is
    shown literally: it names files and columns, and `what` may too."""
    if isinstance(exc, ModelyardError):
        st.error(literal(exc), icon=":material/error:")
    else:
        st.error(literal(f"{what}: {type(exc).__name__}: {exc}"), icon=":material/error:")
    with st.expander("Technical detail"):
        st.code("".join(traceback.format_exception(exc)), language="text")


def pick_dataset(ws: Workspace, key: str) -> dict[str, Any] | None:
    """A data set chooser remembering the choice across pages (`dataset_id`)."""
    rows = ws.datasets()
    if not rows:
        st.info("No data yet. Add a file or a sample on the **Data** page.")
        st.page_link(nav.page("data"), label="Go to Data")
        return None
    ids = [r["id"] for r in rows]
    current = st.session_state.get("dataset_id")
    index = ids.index(current) if current in ids else 0
    by_id = {r["id"]: r for r in rows}
    chosen = st.selectbox("Data set", ids, index=index, key=key,
                          format_func=lambda i: f"{by_id[i]['name']}  ·  "
                                                f"{size_words(by_id[i])}  ·  {i}")
    st.session_state["dataset_id"] = chosen
    return by_id[chosen]


def ago(ts: float | None) -> str:
    if not ts:
        return ""
    seconds = time.time() - ts
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.0f} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def fmt_params(params: dict[str, Any]) -> str:
    """Settings as a person reads them: `learning_rate=0.05, num_leaves=31`."""
    if "stacker" in params:  # a stack: its second layer over the members' predictions
        return (f"{params['stacker']} over "
                + ", ".join(m["model"] for m in params.get("members", [])))
    if "members" in params:
        return " + ".join(f"{m['model']} ×{m['weight']:.2f}" for m in params["members"])
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def clock(ts: float | None) -> str:
    return time.strftime("%d %b %H:%M:%S", time.localtime(ts)) if ts else ""


def fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def offer_extra(ws: Workspace, extra: str, why: str) -> bool:
    """True when the optional part `extra` is installed; otherwise say why it is needed,
    offer to download it (the person's click is the only thing that sends a request), and
    follow the install's progress."""
    from modelyard.engine.extras import SIZE_WORDS

    if ws.extra_state(extra).status == "succeeded":
        return True

    def follow() -> None:
        state = ws.extra_state(extra)
        if state.status == "succeeded":
            st.success("Installed. Reload the page (or press the button again) to use it.",
                       icon=":material/check_circle:")
            return
        if state.status == "running":
            st.info(literal(state.message) + " This takes a few minutes; you can use the other "
                    "pages meanwhile.", icon=":material/downloading:")
        elif state.status == "failed":
            st.error(literal(state.message), icon=":material/error:")
        if state.log_tail:
            st.code(state.log_tail, language="text")
        if state.status in ("none", "failed") and st.button(
                f"Download and install ({SIZE_WORDS[extra]}) from the package index",
                key=f"install_{extra}", icon=":material/download:"):
            ws.install_extra(extra)
            st.rerun()

    st.warning(f"{why} They need {SIZE_WORDS[extra]}, not installed yet: downloaded only if "
               "you press the button.", icon=":material/extension:")
    running = ws.extra_state(extra).running
    st.fragment(follow, run_every=2.0 if running else None)()
    return False
