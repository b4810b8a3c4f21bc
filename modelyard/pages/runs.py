"""Runs: watch a Run live (trials, best so far, families, resources, log), cancel it, or
give a finished one more time."""

import time

import pandas as pd
import plotly.express as px
import streamlit as st

from modelyard.app import nav
from modelyard.app.literal import literal
from modelyard.app.results_ui import single_split
from modelyard.app.ui import TRIAL_COLUMNS, clock, fmt_params, fmt_score, show_error, workspace
from modelyard.app.views import ACTIVE
from modelyard.engine.results import figures
from modelyard.engine.results import words as say
from modelyard.schemas import Event, RunStatus, TrialStatus

ws = workspace()
st.title("Runs")

runs = ws.runs()
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
    view = ws.run_view(run_id)
    if view is None:
        st.warning("This run no longer exists.")
        return
    run, status, progress, epoch = view.run, view.status, view.progress, view.epoch
    live = progress.data if progress else {}
    text = progress.message if progress else "starting the worker…"
    # A network reports every epoch, long before its first trial ends: show that.
    if status in ACTIVE and epoch and (not progress or epoch.seq > progress.seq):
        e = epoch.data
        text = (f"{e['model']}: epoch {e['epoch']}, validation {run['metric']} "
                f"{e['val_score']:.4f}")
        if run["started_at"] and run["budget_seconds"]:
            elapsed = time.time() - run["started_at"]
            live = {**live, "elapsed": elapsed,
                    "fraction": max(live.get("fraction", 0.0),
                                    elapsed / run["budget_seconds"])}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", status)
    c2.metric("Metric", say.metric_name(run["metric"]) if run["metric"] else "—",
              help=say.direction(run["greater_is_better"]).capitalize()
              if run["metric"] else None)
    c3.metric("Best model" if run["best_model"] else "Best so far",
              run["best_model"] or live.get("best_model") or "—")
    c4.metric("Best score", fmt_score(run["best_score"] if run["best_model"]
                                      else live.get("best_score")))

    if view.study_storage:
        _shared(view)
    if status is RunStatus.queued:
        st.info(f"Waiting in the queue: at most {say.plural(view.max_parallel_runs, 'run')} "
                "train at once on this machine. It starts by itself when one finishes.")
    if status in ACTIVE:
        fraction = live.get("fraction", 0.0)
        elapsed = live.get("elapsed")
        if elapsed is not None and run["budget_seconds"]:
            left = max(0.0, run["budget_seconds"] - elapsed)
            text += f" · about {left:.0f} s left" if left else " · finishing"
        st.progress(min(1.0, fraction), text=literal(text))
        _resources(view.resource)
        if st.button("Cancel this run", key="runs_cancel"):
            ws.cancel(run_id)
            st.rerun(scope="app")
    elif run["message"]:
        show = {RunStatus.succeeded: st.success, RunStatus.failed: st.error}.get(status, st.info)
        show(literal(run["message"]))
        if status is RunStatus.failed:
            trace = view.failure.data.get("traceback") if view.failure else None
            if trace:
                with st.expander("Technical detail"):
                    st.code(trace, language="text")

    # The page's tables and charts take rows; the typed Trials become rows here, once.
    trials = [t.model_dump(mode="json") for t in view.trials]
    baseline = [t.cv_score for t in view.trials if t.family == "dummy" and t.cv_score]
    done = [row for t, row in zip(view.trials, trials, strict=True)
            if t.state is TrialStatus.complete and t.family != "dummy"]
    if len(done) >= 2:
        st.plotly_chart(figures.trials_figure(done, run, baseline[0] if baseline else None),
                        key="runs_chart")
    _epoch_curves(view.epochs, run["metric"])
    if trials:
        # The count every page shows (engine/results/counts.py), in words; once the run
        # has ended its message above says it already.
        words = view.counts.words()
        if status in ACTIVE or words not in (run["message"] or ""):
            st.caption(("So far: " if status in ACTIVE else "") + literal(words) + ".")
        _families(trials, run["greater_is_better"])
        table = pd.DataFrame(trials)
        table["params"] = table["params"].map(fmt_params)
        table["family"] = table["family"].map(say.family_name)
        table["state"] = table["state"].map(say.state_name)
        if single_split(view.plan):
            table["cv_std"] = None  # one validation split: no spread to show
        shown = ["model", "family", "state", "cv_score", "cv_std", "fit_seconds", "params"]
        if table.get("worker") is not None and table["worker"].notna().any():
            shown.insert(3, "worker")  # a shared search: which machine fitted each
        st.dataframe(
            table[shown], hide_index=True, key="runs_trials", placeholder="—",
            column_config=TRIAL_COLUMNS | {"cv_score": st.column_config.NumberColumn(
                f"CV {say.metric_name(run['metric'])}", format="%.4f"),
                "worker": st.column_config.TextColumn(
                    "Fitted by", help="The machine (and its process) that fitted it")})
    with st.expander("Worker log"):
        st.code(view.log_tail or "(empty)", language="text")
    if status not in ACTIVE and st.session_state.get("runs_was_active") == run_id:
        st.session_state["runs_was_active"] = None
        st.rerun(scope="app")  # stop polling: the run is over
    if status in ACTIVE:
        st.session_state["runs_was_active"] = run_id


def _shared(view) -> None:
    """A Run whose search other machines share: who is in, and how another joins."""
    workers = view.workers
    if view.status in ACTIVE:
        st.info(f"This run shares its search through {literal(view.study_storage)}: "
                f"{say.plural(len(workers) or 1, 'worker')} in"
                + (f" ({literal(', '.join(workers))})" if workers else "") + ". Another machine "
                "joins with the command below (it needs the data set's train.parquet: the "
                "same path, or a copy given with --data).")
        st.code(_join_command(view), language="bash")
    else:
        fitted = {t.worker for t in view.trials if t.worker}
        st.caption(f"Its search was shared through {literal(view.study_storage)}: "
                   f"{say.plural(len(fitted), 'worker')} fitted its trials.")


def _join_command(view) -> str:
    return ws.join_command(view.id, view.study_storage)


def _resources(sample: Event | None) -> None:
    """The worker's latest resource sample: CPU, memory, and the GPU when there is one."""
    if not sample:
        return
    data = sample.data
    cols = st.columns(4)
    cols[0].metric("CPU (machine)", f"{data.get('cpu_percent', 0):.0f}%")
    cols[1].metric("RAM used (machine)", f"{data.get('ram_used_percent', 0):.0f}%")
    cols[2].metric("Worker memory", f"{data.get('process_rss_mb', 0):.0f} MB")
    if data.get("gpu_util_percent") is not None:
        cols[3].metric("GPU", f"{data['gpu_util_percent']:.0f}% · "
                              f"{data.get('gpu_memory_used_mb', 0):.0f} MB")


def _epoch_curves(epochs: list[Event], metric: str | None) -> None:
    """Networks report every epoch: their learning curves, live. Image and sound networks
    report losses too; the text-to-text networks only their held-out score."""
    if not epochs:
        return
    named = say.metric_name(metric) if metric else "score"
    score_col = f"validation {named}"
    frame = pd.DataFrame([{"model": e.data["model"], "epoch": e.data["epoch"],
                           "train loss": e.data.get("train_loss"),
                           "validation loss": e.data.get("val_loss"),
                           score_col: e.data.get("val_score", e.data.get("score"))}
                          for e in epochs])
    losses = frame[["train loss", "validation loss"]].notna().any().any()
    left, right = st.columns(2) if losses else (st.container(), None)
    left.plotly_chart(px.line(frame, x="epoch", y=score_col, color="model", markers=True,
                              title=f"Validation {named} by epoch", height=320),
                      key="runs_epoch_score")
    if right is None:
        return
    long = frame.melt(id_vars=["model", "epoch"], value_vars=["train loss", "validation loss"],
                      var_name="curve", value_name="loss")
    right.plotly_chart(px.line(long, x="epoch", y="loss", color="model", line_dash="curve",
                               title="Loss by epoch", height=320), key="runs_epoch_loss")


def _families(trials: list[dict], greater_is_better: bool) -> None:
    """Per family: trials done, stopped early, failed, and its best score."""
    frame = pd.DataFrame(trials)
    rows = []
    for family, group in frame.groupby("family", sort=False):
        done = group[group["state"] == "complete"]["cv_score"]
        best = (done.max() if greater_is_better else done.min()) if len(done) else float("nan")
        if family in ("ensemble", "stack"):
            continue  # the blend is no trial (engine/results/counts.py); the caption says it
        rows.append({"family": say.family_name(family), "trials": len(group),
                     "stopped early": int((group["state"] == "pruned").sum()),
                     "failed": int((group["state"] == "failed").sum()),
                     "cv_score": best})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="runs_families", placeholder="—",
                 column_config=TRIAL_COLUMNS | {
                     "trials": st.column_config.NumberColumn("Trials", format="%d"),
                     "stopped early": st.column_config.NumberColumn("Stopped early",
                                                                    format="%d"),
                     "failed": st.column_config.NumberColumn("Failed", format="%d"),
                     "cv_score": st.column_config.NumberColumn("Best CV score", format="%.4f")})


def _add_time(run_id: str) -> None:
    with st.form("runs_add_time"):
        st.markdown("**Give this run more time.** The search continues where it stopped "
                    "and keeps the better model.")
        seconds = st.number_input("Extra seconds", 10, 86_400, 60, step=10)
        if st.form_submit_button("Add time"):
            try:
                ws.add_time(run_id, int(seconds))
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not add time")


try:
    active = by_id[run_id]["status"] in ACTIVE
    st.fragment(live_view, run_every=1.5 if active else None)(run_id)
except Exception as exc:
    show_error(exc, "Could not show this run")

if not active:
    _add_time(run_id)
if by_id[run_id]["status"] == RunStatus.succeeded:
    c1, c2 = st.columns(2)
    c1.page_link(nav.page("model"), label="How good is it? See the model")
    c2.page_link(nav.page("predict"), label="Use it: predict on new data")
    st.page_link(nav.page("leaderboard"), label="See the leaderboard")
