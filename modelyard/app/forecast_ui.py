"""The Model page of a forecasting Run: per series, the history, the backtests and the
forecast with its intervals; the backtest score of each window; the trials; the forecast
to download. Display only: the frames come from `Workspace.forecast_views`."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from modelyard.app.literal import code, literal
from modelyard.app.ui import TRIAL_COLUMNS, fmt_params
from modelyard.engine.forecast.series import frequency_words
from modelyard.engine.forecast.views import series_figure
from modelyard.engine.results import words as say
from modelyard.engine.results.escape import for_spreadsheets


def forecast_model(ws, result, views: dict[str, Any]) -> None:
    """Render a forecasting Run's model."""
    meta, setup = result.meta, views["setup"]
    metric = say.metric_name(meta["metric"])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Best model", meta.get("model", "—"),
              help=say.family_name(meta.get("family")))
    c2.metric(f"Backtest {metric}", f"{meta['cv_score']:.4f}",
              help="Averaged over the backtest windows and series; lower is better."
                   + (" Below 1 beats repeating the last season." if meta["metric"] == "mase"
                      else ""))
    c3.metric("Horizon", f"{setup['horizon']} steps",
              help=f"{frequency_words(setup['frequency']).capitalize()} "
                   f"({setup['frequency']}), a season of {setup['season']} steps")
    c4.metric("Series", f"{len(views['series']):,}")
    chart, windows, trials = st.tabs(["Forecast", "Backtests", "Trials"])
    with chart:
        chosen = st.selectbox("Series", views["series"], key="model_forecast_series") \
            if len(views["series"]) > 1 else views["series"][0]
        st.plotly_chart(series_figure(views, chosen), key="model_forecast_chart")
        st.caption("Grey: the history. Dotted orange: what the model forecast in each "
                   "backtest, trained only on the time before it. Blue: the forecast, with "
                   "the 80% and 95% intervals (how far off the backtests were at each step "
                   "ahead).")
        forecast = views["forecast"]
        if len(forecast):
            shown = forecast[forecast["unique_id"] == chosen].drop(columns="unique_id")
            if (shown["ds"] == shown["ds"].dt.normalize()).all():  # dates: no 00:00:00
                shown = shown.assign(ds=shown["ds"].dt.strftime("%Y-%m-%d"))
            st.dataframe(shown.rename(columns={"ds": setup["time_column"],
                                               "yhat": views["target"]}),
                         hide_index=True, key="model_forecast_table")
            st.download_button("Download the forecast (CSV)",
                               _csv(forecast, setup, views["target"]),
                               file_name="forecast.csv", key="model_forecast_download")
    with windows:
        scores = views["window_scores"]
        st.markdown(f"Each of the {len(scores)} backtest windows trained on the history "
                    f"before it and forecast the next {setup['horizon']} steps; never "
                    "shuffled rows.")
        st.dataframe(pd.DataFrame({"window": range(1, len(scores) + 1),
                                   metric: scores}), hide_index=True,
                     key="model_forecast_windows")
    with trials:
        frame = pd.DataFrame(ws.trials(result.run_id))
        if frame.empty:
            st.info("No trials are indexed for this run.")
        else:
            frame = frame.assign(params=frame["params"].map(fmt_params),
                                 state=frame["state"].map(say.state_name))
            st.dataframe(frame[["model", "state", "cv_score", "fit_seconds", "params"]],
                         hide_index=True, key="model_forecast_trials",
                         column_config=TRIAL_COLUMNS)


def _csv(forecast: pd.DataFrame, setup: dict[str, Any], target: str) -> bytes:
    names = {"ds": setup["time_column"], "yhat": target}
    if setup.get("series_column"):
        names["unique_id"] = setup["series_column"]
    else:
        forecast = forecast.drop(columns="unique_id")
    # Series names come from the file: formula-like cells are neutralised.
    safe = for_spreadsheets(forecast.rename(columns=names))[0]
    return safe.to_csv(index=False).encode("utf-8")


NO_SERIES = "(one series)"
AUTO = "(read from the time stamps)"
FREQUENCIES = ["D", "B", "W", "MS", "QS", "YS", "h"]


def forecast_section(ws, dataset: dict[str, Any], profile) -> dict[str, Any] | None:
    """The Plan page's "forecast future values" choice: the set-up, then a plan from the
    rules; returns the stored plan document when one was made."""
    from modelyard.app.ui import show_error
    from modelyard.engine.forecast.plan import time_column_of

    names = profile.column_names
    guess_time = time_column_of(profile)
    numeric = [c.name for c in profile.columns if c.kind.value == "numeric"]
    guess_target = profile.target.column if profile.target else None
    c1, c2, c3 = st.columns(3)
    target = c1.selectbox("Value to forecast", numeric or names, key="plan_fc_target",
                          index=(numeric or names).index(guess_target)
                          if guess_target in (numeric or names) else 0)
    time_col = c2.selectbox("Time column", names, key="plan_fc_time",
                            index=names.index(guess_time) if guess_time in names else 0)
    series = c3.selectbox("Series column", [NO_SERIES, *names], key="plan_fc_series",
                          help="The column naming each series, when the table holds "
                               "several (stores, products, sensors).")
    c4, c5, c6 = st.columns(3)
    horizon = c4.number_input("Steps ahead (0: one season)", 0, 10_000, 0,
                              key="plan_fc_horizon")
    windows = c5.number_input("Backtest windows (0: up to 3)", 0, 20, 0,
                              key="plan_fc_windows")
    frequency = c6.selectbox("Frequency", [AUTO, *FREQUENCIES], key="plan_fc_frequency")
    budget = st.number_input("Forecast time budget (seconds)", 10, 86_400, 120, step=10,
                             key="plan_fc_budget")
    if not st.button("Propose a forecast plan", type="primary", key="plan_fc_propose"):
        return None
    try:
        return ws.propose_forecast_plan(
            dataset["id"], target=target, time_column=time_col,
            series_column=None if series == NO_SERIES else series,
            horizon=int(horizon) or None, windows=int(windows) or None,
            frequency=None if frequency == AUTO else frequency, budget_seconds=int(budget))
    except Exception as exc:
        show_error(exc, "Could not make a forecast plan")
        return None


def forecast_form(plan, key: str):
    """Edit a forecast plan's horizon, frequency and windows; the edited Plan when the
    person saves, else None."""
    setup = plan.forecast
    with st.form(f"plan_fc_form_{key}"):
        c1, c2, c3 = st.columns(3)
        horizon = c1.number_input("Steps ahead", 1, 10_000, setup.horizon,
                                  key=f"plan_fc_edit_horizon_{key}")
        choices = list(dict.fromkeys([setup.frequency or AUTO, *FREQUENCIES]))
        frequency = c2.selectbox("Frequency", choices, key=f"plan_fc_edit_freq_{key}",
                                 help="Read from the time stamps; change it only when the "
                                      "data has another step.")
        windows = c3.number_input("Backtest windows", 1, 20, setup.windows,
                                  key=f"plan_fc_edit_windows_{key}")
        budget = st.number_input("Time budget (seconds)", 5, 7 * 24 * 3600,
                                 plan.budget_seconds, key=f"plan_fc_edit_budget_{key}")
        if not st.form_submit_button("Save as a new version"):
            return None
    return plan.model_copy(update={
        "budget_seconds": int(budget),
        "forecast": setup.model_copy(update={
            "horizon": int(horizon), "windows": int(windows),
            "frequency": None if frequency == AUTO else frequency})})


def forecast_summary(plan) -> None:
    """The set-up of a forecast plan in one line, under the plan's tiles."""
    setup = plan.forecast
    series = f"series told apart by “{literal(setup.series_column)}”" if setup.series_column \
        else "one series"
    st.markdown(f"**Forecast** {setup.horizon} steps ahead · {series} · time in "
                f"“{literal(setup.time_column)}” · frequency {setup.frequency} "
                f"({frequency_words(setup.frequency)}) · {setup.windows} backtest "
                f"window{'s' if setup.windows != 1 else ''}"
                + (f" · covariates: {literal(', '.join(setup.covariates))}"
                   if setup.covariates
                   else ""))


def forecast_predict(predictor, inputs_dir, outputs_dir) -> None:
    """The Predict page of a forecaster: a history file in, its next steps out (saved
    beside the run; the page shows the saved file)."""
    import time
    from pathlib import Path

    from modelyard.app.ui import show_error
    from modelyard.engine.results import predict

    setup = predictor.meta["forecast"]
    needs = [setup["time_column"], predictor.meta["target"]] + (
        [setup["series_column"]] if setup.get("series_column") else []) + list(
        setup.get("covariates") or [])
    st.caption(f"Forecasts **{literal(predictor.meta['target'])}** {setup['horizon']} steps "
               "past the end of each series in a history file with the columns "
               + ", ".join(code(c) for c in needs) + ".")
    upload = st.file_uploader("A history (CSV, TSV, Parquet, JSON or Excel)",
                              key="predict_fc_upload")
    if upload is None or not st.button("Forecast", type="primary", key="predict_fc_go"):
        return
    try:
        inputs_dir.mkdir(parents=True, exist_ok=True)
        source = inputs_dir / Path(upload.name).name
        source.write_bytes(upload.getvalue())
        with st.spinner("Forecasting…"):
            frame = predict.predict(predictor, predict.read_input(source))
        name = f"{source.stem}-forecast-{time.strftime('%Y%m%d-%H%M%S')}"
        st.session_state["predict_output"] = str(
            predict.write_table(frame, outputs_dir / f"{name}.csv"))
    except Exception as exc:
        show_error(exc, "Could not forecast")
