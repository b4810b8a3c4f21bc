"""Leaderboard: every trial of every Run, filtered and sorted; whether each Run's leader
is reliably better than its runner-up; charts of the search; two Runs side by side.

All aggregation happens in SQL (storage/runs.py) and only the chart that is shown is
queried, so the page stays quick with 100,000 stored trials."""

import pandas as pd
import streamlit as st

from modelyard.app import nav
from modelyard.app.ui import TRIAL_COLUMNS, fmt_params, show_error, workspace
from modelyard.engine.results import compare, figures, tuning

PAGE_ROWS = 200
SORTS = {"rank": "Rank within its run", "cv_score": "CV score", "train_score": "Train score",
         "fit_seconds": "Fit time",
         "predict_seconds": "Predict time", "finished_at": "Finished", "family": "Family"}
STATES = {"complete": "complete", "pruned": "stopped early", "failed": "failed",
          "not chosen": "blend not chosen"}
CHARTS = ["Best so far", "Search history", "Settings that mattered", "Parallel coordinates",
          "Score vs time", "Per family", "Compare two runs"]
COLUMNS = TRIAL_COLUMNS | {
    "predict_seconds": st.column_config.NumberColumn("Predict time (s)", format="%.3f"),
    "complete_trials": st.column_config.NumberColumn("Trials", format="%d"),
    "versus": st.column_config.TextColumn("Leader vs runner-up", width="medium"),
    "stopped_early": st.column_config.NumberColumn("Stopped early", format="%d"),
    "best_score": st.column_config.NumberColumn("Best CV score", format="%.4f"),
    "mean_fit_seconds": st.column_config.NumberColumn("Mean fit (s)", format="%.2f"),
}

ws = workspace()
st.title("Leaderboard")

datasets = ws.datasets()
options = [None] + [d["id"] for d in datasets]
names = {d["id"]: d["name"] for d in datasets}
dataset_id = st.selectbox("Data set", options, key="leaderboard_dataset",
                          format_func=lambda i: "All data sets" if i is None else names[i])
facets = ws.trial_facets(dataset_id)
if not facets["states"].get("complete"):
    st.info("No finished trials yet. Launch a run from the **Plan** page.")
    st.stop()

run_names = {r["run_id"]: r["run_name"] or r["run_id"] for r in facets["runs"]}
with st.expander(f"Filter and sort · {facets['trials']:,} trials in {len(run_names)} runs"):
    c1, c2, c3 = st.columns(3)
    run_filter = c1.multiselect("Runs", list(run_names), key="leaderboard_runs",
                                format_func=run_names.get, placeholder="all runs")
    family_filter = c2.multiselect("Model families", facets["families"],
                                   key="leaderboard_families", placeholder="all families")
    state_filter = c3.multiselect("Trial states", list(facets["states"]), default=["complete"],
                                  key="leaderboard_states", placeholder="every state",
                                  format_func=lambda s: f"{STATES.get(s, s)} "
                                                        f"({facets['states'][s]:,})")
    c4, c5, c6 = st.columns(3)
    sort = c4.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="leaderboard_sort")
    descending = c5.toggle("Largest first", key="leaderboard_desc")
    grouped = c6.toggle("Group by family", key="leaderboard_group")

try:
    board = ws.leaderboard(dataset_id=dataset_id, run_ids=run_filter or None,
                           families=family_filter or None, states=state_filter or None,
                           sort=sort, descending=descending, limit=PAGE_ROWS,
                           offset=PAGE_ROWS * (st.session_state.get("leaderboard_page", 1) - 1))
except Exception as exc:
    show_error(exc, "Could not read the leaderboard")
    st.stop()

leaders = board.leaders
verdicts = compare.leader_verdicts(leaders)
# Runs scored on one validation split (a holdout, as image runs are): a spread across
# folds of 0 would read as "perfectly stable"; leave it blank.
splits: dict[str, set[int]] = {}
for r in leaders:
    if r.get("fold_scores"):
        splits.setdefault(r["run_id"], set()).add(len(r["fold_scores"]))
one_split = {run for run, counts in splits.items() if counts == {1}}


def _blank_spread(frame: pd.DataFrame) -> pd.DataFrame:
    if one_split and "cv_std" in frame:
        frame["cv_std"] = frame["cv_std"].where(~frame["run_id"].isin(one_split))
    return frame


best = _blank_spread(pd.DataFrame([r for r in leaders if r["rank"] == 1]))
st.subheader("Best model of each run")
if best.empty:
    st.info("No complete trial matches the filters.")
else:
    best["versus"] = best["run_id"].map(lambda r: verdicts[r].verdict if r in verdicts else "—")
    st.dataframe(best[["dataset", "run_name", "model", "family", "metric", "cv_score", "cv_std",
                       "train_score", "versus", "complete_trials", "fit_seconds"]],
                 hide_index=True, key="leaderboard_best", column_config=COLUMNS)
    for row in leaders[:2 * 3]:  # the three newest runs, in words
        if row["rank"] == 1 and row["run_id"] in verdicts:
            st.caption(f"**{row['run_name']}** · {verdicts[row['run_id']].text}")

st.subheader("Trials")
if grouped:
    st.dataframe(pd.DataFrame(board.families).drop(columns=["run_id"]), hide_index=True,
                 key="leaderboard_families_table", column_config=COLUMNS)
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
        shown = ["rank", "run_name", "model", "family", "state", "cv_score", "cv_std",
                 "train_score", "fit_seconds", "predict_seconds", "params"]
        st.dataframe(page[shown], hide_index=True, key="leaderboard_trials",
                     column_config=COLUMNS)
        if pages > 1:
            st.number_input(f"Page (of {pages}; {board.total:,} trials, {PAGE_ROWS} a page)",
                            1, pages, key="leaderboard_page")

# -- charts: only the one shown is queried -----------------------------------------------------
st.subheader("Charts")
chart = st.segmented_control("Chart", CHARTS, default=CHARTS[0], key="leaderboard_view",
                             label_visibility="collapsed") or CHARTS[0]
ranked = [r for r in leaders if r["rank"] == 1]
metric = ranked[0]["metric"] if ranked else "score"
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
                                                      metric), key="leaderboard_chart")
        if len(run_ids) > 10:
            st.caption(f"The 10 newest of {len(run_ids)} runs; filter to choose others.")
    elif chart in ("Search history", "Score vs time", "Per family"):
        run_id = pick_run("leaderboard_run")
        if run_id:
            m = by_run[run_id]["metric"]
            if chart == "Search history":
                fig = figures.history_figure(ws.search_history(run_id), m)
            elif chart == "Score vs time":
                axis = st.radio("Time", ["fit_seconds", "predict_seconds"], horizontal=True,
                                key="leaderboard_speed_axis",
                                format_func=lambda a: a.split("_")[0] + " time")
                fig = figures.speed_figure(ws.speed_points(run_id), m, axis)
            else:
                fig = figures.family_bars_figure([f for f in board.families
                                                  if f["run_id"] == run_id], m)
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
                family = st.selectbox("Model family", tuned, key="leaderboard_family")
                sample = ws.param_sample(run_id, family)
                m = by_run[run_id]["metric"]
                if chart == "Settings that mattered":
                    importance = tuning.param_importance(sample,
                                                         by_run[run_id]["greater_is_better"])
                    if importance:
                        st.plotly_chart(figures.param_importance_figure(importance, family),
                                        key="leaderboard_chart")
                        st.caption(f"From {len(sample)} trials of {family}.")
                    else:
                        st.info("The settings of these trials did not vary enough to tell.")
                else:
                    st.plotly_chart(figures.parallel_figure(tuning.param_table(sample), m),
                                    key="leaderboard_chart")
    elif chart == "Compare two runs":
        if len(run_ids) < 2:
            st.info("Train a second run to compare it with this one.")
        else:
            c1, c2 = st.columns(2)
            a = c1.selectbox("Run A", run_ids, key="leaderboard_cmp_a",
                             format_func=lambda i: by_run[i]["run_name"] or i)
            b = c2.selectbox("Run B", run_ids, index=1, key="leaderboard_cmp_b",
                             format_func=lambda i: by_run[i]["run_name"] or i)
            rec_a, rec_b = ws.run_record(a), ws.run_record(b)
            found = compare.compare_runs(
                {**rec_a, "dataset": by_run[a]["dataset"]}, {**rec_b, "dataset":
                by_run[b]["dataset"]}, rec_a["plan"], rec_b["plan"], by_run[a], by_run[b])
            st.dataframe(pd.DataFrame(found["rows"]), hide_index=True, key="leaderboard_cmp")
            st.markdown("**What the plans do differently**")
            if found["plan"]:
                st.markdown("\n".join(f"- {line}" for line in found["plan"]))
            else:
                st.markdown("The two plans make the same decisions.")
            if found["test"]:
                st.markdown(f"**Winners fold by fold:** {found['test'].text}")
            else:
                st.caption("Their winners were scored on different folds (different data, "
                           "validation or seed), so they are compared by mean score only.")
except Exception as exc:
    show_error(exc, "Could not draw this chart")

if run_ids:
    st.page_link(nav.page("model"), label="Diagnostics of a run's best model",
                 icon=":material/analytics:")
