"""Leaderboard: the models of ONE data set scored by ONE metric, ranked; whether each Run's
leader is reliably better than its runner-up; charts of the search; two Runs side by side.
Other data sets are listed apart, each with its best model, never ranked against these.

All aggregation happens in SQL (storage/runs.py) and only the chart that is shown is
queried, so the page stays quick with 100,000 stored trials."""

import pandas as pd
import streamlit as st

from modelyard.app import nav
from modelyard.app.literal import literal
from modelyard.app.ui import TRIAL_COLUMNS, fmt_params, show_error, workspace
from modelyard.app.views import with_inputs
from modelyard.engine.results import compare, figures, tuning
from modelyard.engine.results import words as say

PAGE_ROWS = 200
SORTS = {"rank": "Rank within its run", "cv_score": "CV score", "train_score": "Train score",
         "fit_seconds": "Fit time",
         "predict_seconds": "Predict time", "finished_at": "Finished", "family": "Family"}
CHARTS = ["Best so far", "Search history", "Settings that mattered", "Parallel coordinates",
          "Score vs time", "Per family", "Compare two runs"]

ws = workspace()
st.title("Leaderboard")

# -- the scope: one data set, one metric --------------------------------------------------------
scopes = ws.leaderboard_scopes()
if not scopes:
    st.info("No finished trials yet. Launch a run from the **Plan** page.")
    st.stop()
datasets = list(dict.fromkeys(s["dataset_id"] for s in scopes))
names = {s["dataset_id"]: s["dataset"] or s["dataset_id"] for s in scopes}
runs_in = {d: sum(s["runs"] for s in scopes if s["dataset_id"] == d) for d in datasets}
# The data set of the run the person came from (Runs, Model), else of the newest run.
came_from = ws.run(st.session_state["run_id"]) if st.session_state.get("run_id") else None
start = came_from["dataset_id"] if came_from and came_from["dataset_id"] in datasets \
    else datasets[0]
dataset_id = st.selectbox("Data set", datasets, index=datasets.index(start),
                          key="leaderboard_dataset",
                          format_func=lambda d: f"{names[d]} · {say.plural(runs_in[d], 'run')}")
metrics = [s for s in scopes if s["dataset_id"] == dataset_id]
scope = metrics[0]
if len(metrics) > 1:
    # Scores of different metrics cannot be ranked together: one ranking per metric.
    options = [s["metric"] for s in metrics]
    first = came_from["metric"] if came_from and came_from["metric"] in options else options[0]
    chosen = st.radio("Ranked by", options, index=options.index(first), horizontal=True,
                      key="leaderboard_metric", format_func=say.metric_name,
                      help="The runs of this data set use different metrics; each ranking "
                           "holds the runs scored by one of them.")
    scope = metrics[options.index(chosen)]
metric, greater = scope["metric"], bool(scope["greater_is_better"])

facets = ws.trial_facets(dataset_id, metric)
run_names = {r["run_id"]: r["run_name"] or r["run_id"] for r in facets["runs"]}
counts = ws.trial_counts_of(list(run_names))
tried = sum(c.trials for c in counts.values())
blends = sum(1 for c in counts.values() if c.blend)
st.caption(f"**{literal(names[dataset_id])}**, ranked by {say.metric_name(metric)} "
           f"({say.direction(greater)}): {say.plural(len(run_names), 'run')}, "
           f"{say.plural(tried, 'trial')}"
           + (f" and {say.plural(blends, 'blend')} of the best" if blends else "") + ".")

with st.expander(f"Filter and sort · {say.plural(tried, 'trial')} in "
                 f"{say.plural(len(run_names), 'run')}"):
    c1, c2, c3 = st.columns(3)
    run_filter = c1.multiselect("Runs", list(run_names), key="leaderboard_runs",
                                format_func=run_names.get, placeholder="all runs")
    family_filter = c2.multiselect("Model families", facets["families"],
                                   key="leaderboard_families", format_func=say.family_name,
                                   placeholder="all families")
    state_filter = c3.multiselect("Trial states", list(facets["states"]), default=["complete"],
                                  key="leaderboard_states", placeholder="every state",
                                  format_func=lambda s: f"{say.state_name(s)} "
                                                        f"({facets['states'][s]:,})",
                                  help="How many models ended each way (a blend of the best "
                                       "counts as one).")
    c4, c5, c6 = st.columns(3)
    sort = c4.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="leaderboard_sort")
    descending = c5.toggle("Largest first", key="leaderboard_desc")
    grouped = c6.toggle("Group by family", key="leaderboard_group")

try:
    board = ws.leaderboard(dataset_id=dataset_id, metric=metric, run_ids=run_filter or None,
                           families=family_filter or None, states=state_filter or None,
                           sort=sort, descending=descending, limit=PAGE_ROWS,
                           offset=PAGE_ROWS * (st.session_state.get("leaderboard_page", 1) - 1))
except Exception as exc:
    show_error(exc, "Could not read the leaderboard")
    st.stop()

score = f"CV {say.metric_name(metric)}"
COLUMNS = TRIAL_COLUMNS | {
    # Narrow text columns, so that the numbers to their right fit without scrolling.
    "model": st.column_config.TextColumn("Model"),
    "family": st.column_config.TextColumn("Family"),
    "cv_score": st.column_config.NumberColumn(score, format="%.4f",
                                              help=f"Cross-validated; {say.direction(greater)}"),
    "predict_seconds": st.column_config.NumberColumn("Predict time (s)", format="%.4f"),
    "trials": st.column_config.NumberColumn(
        "Trials", format="%d", help="Every configuration the run tried: complete, "
        "stopped early or failed (a blend of the best is not counted)"),
    "place": st.column_config.NumberColumn("Place", format="%d"),
    "inputs": st.column_config.TextColumn("Inputs", help="What the model learnt from: the "
                                          "table's columns, the images, or both"),
    "versus": st.column_config.TextColumn("Leader vs runner-up", width="medium"),
    "stopped_early": st.column_config.NumberColumn("Stopped early", format="%d"),
    "complete": st.column_config.NumberColumn("Complete", format="%d"),
    "best_score": st.column_config.NumberColumn(f"Best {score}", format="%.4f"),
    "mean_fit_seconds": st.column_config.NumberColumn("Mean fit (s)", format="%.2f"),
    "layer": st.column_config.TextColumn(
        "Layer", help="1: a model fitted on the data. 2: a model fitted on the first "
        "layer's out-of-fold predictions: the blend of the best, or a stack"),
}
leaders = board.leaders
verdicts = compare.leader_verdicts(leaders)
# Runs scored on one validation split (a holdout, as image runs are): a spread across
# folds of 0 would read as "perfectly stable"; leave it blank.
splits: dict[str, set[int]] = {}
for r in leaders:
    if r.get("fold_scores"):
        splits.setdefault(r["run_id"], set()).add(len(r["fold_scores"]))
one_split = {run for run, n in splits.items() if n == {1}}


def _blank_spread(frame: pd.DataFrame) -> pd.DataFrame:
    if one_split and "cv_std" in frame:
        frame["cv_std"] = frame["cv_std"].where(~frame["run_id"].isin(one_split))
    return frame


best = _blank_spread(pd.DataFrame([r for r in leaders if r["rank"] == 1]))
st.subheader("Best model of each run")
if best.empty:
    st.info("No complete trial matches the filters.")
else:
    # The runs' winners, ranked: all of one data set, scored by one metric.
    best = best.sort_values("cv_score", ascending=not greater, kind="stable")
    best.insert(0, "place", range(1, len(best) + 1))
    best["versus"] = best["run_id"].map(lambda r: verdicts[r].verdict if r in verdicts
                                        else "no runner-up")
    best["trials"] = best["run_id"].map(lambda r: board.counts[r].trials
                                        if r in board.counts else 0)
    best["family"] = best["family"].map(say.family_name)
    st.dataframe(best[with_inputs(best, ["place", "run_name", "model", "family", "cv_score",
                                         "cv_std", "train_score", "versus", "trials",
                                         "fit_seconds"])],
                 hide_index=True, key="leaderboard_best", column_config=COLUMNS,
                 placeholder="—")
    for row in leaders[:2 * 3]:  # the three newest runs, in words
        if row["rank"] == 1 and row["run_id"] in verdicts:
            counted = board.counts.get(row["run_id"])
            st.caption(f"**{literal(row['run_name'])}** · "
                       f"{literal(verdicts[row['run_id']].text)}"
                       + (f" ({counted.words()})" if counted else ""))

st.subheader("Trials")
if grouped:
    families_table = pd.DataFrame(board.families).drop(columns=["run_id"])
    families_table["family"] = families_table["family"].map(say.family_name)
    st.dataframe(families_table, hide_index=True, key="leaderboard_families_table",
                 column_config=COLUMNS, placeholder="—")
else:
    page = _blank_spread(pd.DataFrame(board.page))
    pages = -(-board.total // PAGE_ROWS)
    if st.session_state.get("leaderboard_page", 1) > max(pages, 1):
        st.session_state["leaderboard_page"] = 1  # the filters left fewer pages
        st.rerun()
    if page.empty:
        st.info("No trial matches the filters.")
    else:
        page["params"] = page["params"].map(fmt_params)
        page["family"] = page["family"].map(say.family_name)
        page["state"] = page["state"].map(say.state_name)
        page["layer"] = page["layer"].map(say.layer_name)
        shown = ["rank", "run_name", "model", "family", "layer", "state", "cv_score",
                 "cv_std", "train_score", "fit_seconds", "predict_seconds", "params"]
        if len(run_names) == 1:  # one run: its name in every row would crowd the numbers
            shown.remove("run_name")
        shown = with_inputs(page, shown)
        st.dataframe(page[shown], hide_index=True, key="leaderboard_trials",
                     column_config=COLUMNS | {"model": TRIAL_COLUMNS["model"]},
                     placeholder="—")
        if pages > 1:
            st.number_input(f"Page (of {pages}; {say.plural(board.total, 'model')}, "
                            f"{PAGE_ROWS} a page)", 1, pages, key="leaderboard_page")

# -- charts: only the one shown is queried -----------------------------------------------------
st.subheader("Charts")
chart = st.segmented_control("Chart", CHARTS, default=CHARTS[0], key="leaderboard_view",
                             label_visibility="collapsed") or CHARTS[0]
ranked = [r for r in leaders if r["rank"] == 1]
run_ids = [r["run_id"] for r in ranked]
by_run = {r["run_id"]: r for r in ranked}


def pick_run(key: str, label: str = "Run") -> str | None:
    if not run_ids:
        st.info("No run to show.")
        return None
    current = st.session_state.get("run_id")
    return st.selectbox(label, run_ids, index=run_ids.index(current) if current in run_ids
                        else 0, key=key, format_func=lambda i: by_run[i]["run_name"] or i)


try:
    if chart == "Best so far":
        shown_runs = run_ids[:10]
        st.plotly_chart(figures.best_over_time_figure(ws.best_over_time(shown_runs),
                                                      metric, greater),
                        key="leaderboard_chart")
        if len(run_ids) > 10:
            st.caption(f"The 10 newest of {len(run_ids)} runs; filter to choose others.")
    elif chart in ("Search history", "Score vs time", "Per family"):
        run_id = pick_run("leaderboard_run")
        if run_id:
            if chart == "Search history":
                fig = figures.history_figure(ws.search_history(run_id), metric, greater)
            elif chart == "Score vs time":
                axis = st.radio("Time", ["fit_seconds", "predict_seconds"], horizontal=True,
                                key="leaderboard_speed_axis",
                                format_func=lambda a: a.split("_")[0] + " time")
                fig = figures.speed_figure(ws.speed_points(run_id), metric, axis, greater)
            else:
                fig = figures.family_bars_figure([f for f in board.families
                                                  if f["run_id"] == run_id], metric, greater)
            st.plotly_chart(fig, key="leaderboard_chart")
    elif chart in ("Settings that mattered", "Parallel coordinates"):
        run_id = pick_run("leaderboard_run")
        if run_id:
            tuned = [f["family"] for f in board.families
                     if f["run_id"] == run_id and f["complete"] >= tuning.MIN_TRIALS]
            if not tuned:
                st.info(f"No family of this run has {tuning.MIN_TRIALS} or more complete "
                        "trials to learn from. Give the run more time.")
            else:
                family = st.selectbox("Model family", tuned, key="leaderboard_family",
                                      format_func=say.family_name)
                sample = ws.param_sample(run_id, family)
                if chart == "Settings that mattered":
                    importance = tuning.param_importance(sample, greater)
                    if importance:
                        st.plotly_chart(figures.param_importance_figure(
                            importance, say.family_name(family)), key="leaderboard_chart")
                        st.caption(f"From {say.plural(len(sample), 'trial')} of "
                                   f"{say.family_name(family)}.")
                    else:
                        st.info("The settings of these trials did not vary enough to tell.")
                else:
                    st.plotly_chart(figures.parallel_figure(tuning.param_table(sample),
                                                            say.metric_name(metric)),
                                    key="leaderboard_chart")
    elif chart == "Compare two runs":
        if len(run_ids) < 2:
            st.info("Train a second run on this data set to compare it with this one.")
        else:
            c1, c2 = st.columns(2)
            a = c1.selectbox("Run A", run_ids, key="leaderboard_cmp_a",
                             format_func=lambda i: by_run[i]["run_name"] or i)
            b = c2.selectbox("Run B", run_ids, index=1, key="leaderboard_cmp_b",
                             format_func=lambda i: by_run[i]["run_name"] or i)
            rec_a, rec_b = ws.run_record(a), ws.run_record(b)
            found = compare.compare_runs(
                {**rec_a, "dataset": by_run[a]["dataset"],
                 "trials": board.counts[a].words() if a in board.counts else None},
                {**rec_b, "dataset": by_run[b]["dataset"],
                 "trials": board.counts[b].words() if b in board.counts else None},
                rec_a["plan"], rec_b["plan"], by_run[a], by_run[b])
            st.dataframe(pd.DataFrame(found["rows"]), hide_index=True, key="leaderboard_cmp",
                         placeholder="—")
            st.markdown("**What the plans do differently**")
            if found["plan"]:
                st.markdown("\n".join(f"- {literal(line)}" for line in found["plan"]))
            else:
                st.markdown("The two plans make the same decisions.")
            if found["test"]:
                st.markdown(f"**Winners fold by fold:** {literal(found['test'].text)}")
            else:
                st.caption("Their winners were scored on different folds (different data, "
                           "validation or seed), so they are compared by mean score only.")
except Exception as exc:
    show_error(exc, "Could not draw this chart")

if run_ids:
    st.page_link(nav.page("model"), label="Diagnostics of a run's best model",
                 icon=":material/analytics:")
    with st.expander("Open a run's search in Optuna Dashboard"):
        dash_run = pick_run("leaderboard_dashboard_run")
        command = ws.optuna_dashboard_command(dash_run) if dash_run else None
        if command:
            st.caption("Optuna Dashboard is a separate program that shows every trial of a "
                       "search, its settings and what mattered. It opens this run's Optuna "
                       "journal as it is: run this in a terminal (it comes with "
                       "`pip install 'modelyard[export]'`), then open "
                       "http://127.0.0.1:8080 in your browser.")
            st.code(command, language="bash")
        elif dash_run:
            st.caption("This run has no Optuna journal (it searched nothing).")

# -- other data sets: each one's best, side by side but not ranked --------------------------------
others = [s for s in scopes if (s["dataset_id"], s["metric"]) != (dataset_id, metric)]
if others:
    with st.expander(f"Other data sets and metrics · {say.plural(len(others), 'best model')}"):
        st.caption("Each data set's best model so far. They are not ranked against each "
                   "other: different data and metrics give scores that do not compare.")
        st.dataframe(pd.DataFrame([{
            "Data set": s["dataset"] or s["dataset_id"], "Metric": say.metric_name(s["metric"]),
            "How to read": say.direction(s["greater_is_better"]), "Runs": s["runs"],
            "Best model": s["best_model"], "Best run": s["best_run"],
            "Best CV score": s["best_score"]} for s in others]),
            hide_index=True, key="leaderboard_others", placeholder="—",
            column_config={"Best CV score": st.column_config.NumberColumn(format="%.4f")})
