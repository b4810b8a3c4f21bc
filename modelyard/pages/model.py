"""Model: how good a Run's best model is and why (diagnostics on out-of-fold predictions,
feature importance, one row explained, the trials behind it; for an image model, the
validation images it got wrong), its report and its bundle."""

import pandas as pd
import streamlit as st

from modelyard.app import nav
from modelyard.app.literal import literal
from modelyard.app.results_ui import open_finished_run, safe_name, single_split
from modelyard.app.serve_ui import serve_server
from modelyard.app.ui import TRIAL_COLUMNS, fmt_params, show_error, workspace
from modelyard.engine.results import diagnostics, explain, figures, report
from modelyard.engine.results import words as say
from modelyard.engine.vision.predict import image_mistakes
from modelyard.schemas import Metric

MISTAKES_SHOWN = 32
EXPORT_FORMATS = {"bundle": "Model bundle", "onnx": "Bundle + ONNX", "mlflow": "MLflow model"}
DOWNLOADS = {"bundle": "Download the bundle (zip)",
             "onnx": "Download the bundle with ONNX (zip)",
             "mlflow": "Download the MLflow model (zip)"}
ws = workspace()
st.title("Model")
result = open_finished_run(ws, "model_run")
run_id, meta = result.run_id, result.meta
if (forecast_views := ws.forecast_views(run_id)) is not None:  # a forecasting Run
    from modelyard.app.forecast_ui import forecast_model

    forecast_model(ws, result, forecast_views)
    st.stop()

classes, target, oof = result.classes, meta["target"], result.oof
leader = ws.run_leader(run_id)
counts = ws.trial_counts(run_id)
one_split = single_split(result.record.get("plan"))
unit = "recording" if result.is_audio else "image"  # what a file-based model validates
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Best model", meta.get("model", "—"),
          help=f"{say.family_name(meta.get('family'))}: the model this run delivers")
c2.metric(f"{'Validation' if one_split else 'CV'} {say.metric_name(meta['metric'])}",
          f"{meta['cv_score']:.4f}",
          help=say.direction(Metric(meta["metric"]).greater_is_better).capitalize())
c3.metric("± across folds", "—" if one_split or not leader or leader.get("cv_std") is None
          else f"{leader['cv_std']:.4f}",
          help="Scored on one validation split: there is no spread across folds."
          if one_split else None)
# The count every page shows (engine/results/counts.py); what it holds, on hover.
c4.metric("Trials", f"{counts.trials:,}", help=counts.words()[:1].upper()
          + counts.words()[1:] + ".")
c5.metric("Recordings validated" if result.is_audio else "Images validated"
          if result.is_image else "Pairs held out" if result.is_text_to_text
          else "Rows validated",
          f"{len(oof):,}" if oof is not None else "—")

# A multi-label model: its labels' table and its trials; the diagnostics below read one
# target (a confusion matrix, one row's answer), so they are not offered for it.
if meta.get("kind") == "multilabel":
    from modelyard.app import multilabel_ui

    quality_tab, trials_tab = st.tabs(["Quality", "Trials"])
    with quality_tab:
        multilabel_ui.quality(meta)
    with trials_tab:
        st.dataframe(pd.DataFrame(ws.trials(run_id)).reindex(
            columns=["model", "state", "cv_score", "cv_std", "fit_seconds", "params"]).assign(
            params=lambda f: f["params"].map(fmt_params)), hide_index=True,
            key="model_trials", placeholder="—", column_config=TRIAL_COLUMNS)
        st.page_link(nav.page("leaderboard"), label="Every trial on the Leaderboard")
    st.caption(f"The bundle is in {literal(result.model_dir)}; predict new rows on the "
               "Predict page or with `modelyard predict`.")
    st.stop()

# A text-to-text model is judged by the texts it writes: the held-out inputs, with the
# right output next to the model's.
if result.is_text_to_text:
    from modelyard.app.text_to_text_ui import show_held_out, show_limit
    from modelyard.engine.text_to_text.limits import no_export, no_report

    outputs_tab, trials_tab, report_tab, export_tab = st.tabs(
        ["Outputs", "Trials", "Report", "Export"])
    with outputs_tab:
        show_held_out(result, oof)
    with trials_tab:
        st.dataframe(pd.DataFrame(ws.trials(run_id)).reindex(
            columns=["model", "state", "cv_score", "fit_seconds", "params"]).assign(
            params=lambda f: f["params"].map(fmt_params)), hide_index=True,
            key="model_trials", placeholder="—", column_config=TRIAL_COLUMNS)
        st.page_link(nav.page("leaderboard"), label="Every trial on the Leaderboard")
    with report_tab:
        show_limit(no_report(run_id))
    with export_tab:
        show_limit(no_export(run_id, str(result.model_dir)))
    st.stop()

# An image model has no columns to weigh and no row of values to explain; what helps
# instead is seeing the validation images it got wrong.
if result.is_image:
    quality, mistakes, trials, report_tab, export_tab, serve_tab = st.tabs(
        ["Quality", "Mistakes", "Trials", "Report", "Export", "Serve"])
    features = one_row = None
else:
    quality, features, one_row, trials, report_tab, export_tab, serve_tab = st.tabs(
        ["Quality", "Features", "One row", "Trials", "Report", "Export", "Serve"])
    mistakes = None

with quality:
    if oof is None:
        st.info("This run kept no out-of-fold predictions, so there is nothing to diagnose.")
    elif classes:
        each = unit if result.is_image else "row"  # image, recording or row
        st.caption(f"Each {each} was predicted by a model that had not seen it: these are "
                   f"honest estimates for new {each}s like these.")
        threshold = None
        if len(classes) == 2:
            tuned = (meta.get("threshold") or {}).get("threshold")
            threshold = st.slider(f"Predict “{literal(classes[1])}” when its probability is "
                                  "at least", 0.01, 0.99, 0.5, 0.01, key="model_threshold",
                                  help=f"0.5 picks the more likely class. A cut-off of "
                                       f"{tuned:.2f} gave the best F1." if tuned else None)
        share = st.toggle("Show shares instead of counts", key="model_share")
        cm = diagnostics.confusion(oof, classes, threshold)
        st.plotly_chart(figures.confusion_figure(cm, share), key="model_confusion")
        st.caption(f"Accuracy at this setting: {cm['accuracy']:.1%}")
        left, right = st.columns(2)
        left.plotly_chart(figures.roc_figure(diagnostics.roc(oof, classes)), key="model_roc")
        right.plotly_chart(figures.pr_figure(diagnostics.precision_recall(oof, classes)),
                           key="model_pr")
        st.plotly_chart(figures.calibration_figure(diagnostics.calibration(oof, classes)),
                        key="model_calibration")
    else:
        reg = diagnostics.regression(oof)
        st.markdown(f"RMSE **{reg['rmse']:.4g}** · MAE **{reg['mae']:.4g}** · R² "
                    f"**{reg['r2']:.3f}** · average error {reg['bias']:+.3g} (actual − "
                    "predicted)")
        left, right = st.columns(2)
        left.plotly_chart(figures.predicted_vs_actual_figure(reg, target), key="model_pva")
        right.plotly_chart(figures.residuals_figure(reg, target), key="model_residuals")

if features is not None:
    with features:
        own = None if result.is_image else explain.model_importance(result.predictor)
        if own is not None:
            st.plotly_chart(figures.importance_figure(own), key="model_importance")
        else:
            st.info("This kind of model has no importance of its own; compute the permutation "
                    "importance below.")
        key = f"model_permutation_{run_id}"
        if not result.is_image and st.button("Compute permutation importance (shuffles one "
                                             "column at a time)", key="model_permute"):
            try:
                with st.spinner("Shuffling each column and re-scoring…"):
                    st.session_state[key] = explain.permutation_importance(
                        result.predictor, result.training_rows())
            except Exception as exc:
                show_error(exc, "Could not compute the permutation importance")
        if key in st.session_state:
            st.plotly_chart(figures.importance_figure(st.session_state[key]),
                            key="model_permutation")
            st.caption("Measured on the training rows, which the final model has seen: it shows "
                       "what the model relies on, not how well it generalises.")

    with one_row:
        try:
            rows = None if result.is_image else result.training_rows()
        except Exception as exc:
            rows = None
            show_error(exc, "Could not read the training rows")
        if rows is not None and len(rows):
            index = st.number_input(f"Row of the training data (0 to {len(rows) - 1})", 0,
                                    len(rows) - 1, 0, key="model_row")
            row = rows.iloc[[int(index)]]
            label = None
            if len(classes) > 2:
                label = st.selectbox("Explain the probability of", classes, key="model_row_class")
            left, right = st.columns([1, 2])
            # Text for every kind of value; a missing one blank, not "None" or "nan".
            left.dataframe(row.T.rename(columns={row.index[0]: "value"}).map(
                lambda v: "" if pd.isna(v) else str(v)), key="model_row_values")
            predicted = result.predictor.predict_frame(row)
            left.markdown(f"Actual **{literal(row[target].iloc[0])}** · predicted "
                          f"**{literal(predicted[target].iloc[0])}**")
            if oof is not None and not classes:
                left.caption(f"Out-of-fold prediction: {oof['prediction'].iloc[int(index)]:.4g}")
            try:
                found = explain.contributions(result.predictor, row, label)
                right.plotly_chart(figures.contributions_figure(found), key="model_contrib")
                right.caption(literal(
                    f"Explained through {found.explained_by}. Bars push the {found.output} "
                    "up or down from the baseline (the model's output for a typical row). "
                    f"{found.scale_words()}"))
            except Exception as exc:
                right.info(literal(exc))

if mistakes is not None:
    with mistakes:
        try:
            wrong, checked = image_mistakes(oof, classes, result.dataset_dir)
        except Exception as exc:
            wrong, checked = None, 0
            show_error(exc, f"Could not read the validation {unit}s")
        if wrong is not None and not checked:
            st.info("This run kept no validation predictions to look at.")
        elif wrong is not None and wrong.empty:
            st.success(f"The model got all {checked:,} validation {unit}s right.")
        elif wrong is not None:
            st.caption(f"{len(wrong):,} of {checked:,} validation {unit}s predicted wrong"
                       + (f"; the {MISTAKES_SHOWN} most confident mistakes" if len(wrong)
                          > MISTAKES_SHOWN else "") + ". Caption: actual → predicted "
                       "(the model's confidence).")
            shown = wrong.head(MISTAKES_SHOWN)
            if result.is_audio:  # recordings: listen to each mistake
                from modelyard.app.audio_view import sound_mistakes

                sound_mistakes(shown)
            else:
                st.image([str(p) for p in shown["file"]], width=96,
                         caption=[literal(f"{a} → {b} ({c:.0%})") for a, b, c in
                                  zip(shown["actual"], shown["predicted"], shown["confidence"],
                                      strict=True)])

with trials:
    found = ws.trials(run_id)
    frame = pd.DataFrame(found)
    if frame.empty:
        st.info("No trials are indexed for this run.")
    else:
        if meta.get("family") == "stack":
            members = meta["params"]["members"]
            st.markdown(f"The best model is a **stack**: a {meta['params'].get('stacker')} "
                        "over the predictions of " + ", ".join(m["model"] for m in members)
                        + f". Below, its members, the blend and the stack; the run tried "
                        f"{counts.words()}.")
            behind = frame[frame["model"].isin([m["model"] for m in members]
                                               + ["ensemble", "stack"])]
        elif meta.get("family") == "ensemble":
            members = meta["params"]["members"]
            st.markdown("The best model is a **blend** of: " + ", ".join(
                f"{m['model']} (weight {m['weight']:.2f})" for m in members)
                + f". Below, its members and the blend; the run tried {counts.words()}.")
            behind = frame[frame["model"].isin([m["model"] for m in members] + ["ensemble"])]
        else:
            family = say.family_name(meta.get("family"))
            behind = frame[frame["family"] == meta.get("family")]
            st.markdown(f"The best model is **{meta['model']}**; below, every {family} trial "
                        f"of the run: {say.plural(len(behind), 'trial')} of the "
                        f"{counts.trials:,} it tried.")
        if meta.get("delivered"):
            st.caption(f"How it predicts: {literal(meta['delivered'])}.")
        behind = behind.assign(params=behind["params"].map(fmt_params),
                               state=behind["state"].map(say.state_name))
        st.dataframe(behind[["model", "state", "cv_score", "cv_std", "fit_seconds", "params"]],
                     hide_index=True, key="model_trials", placeholder="—",
                     column_config=TRIAL_COLUMNS)
    st.page_link(nav.page("leaderboard"), label="Every trial on the Leaderboard")

with report_tab:
    html_path = result.results_dir / "report.html"
    md_path = result.results_dir / "report.md"
    if st.button("Build the report" if not html_path.exists() else "Build the report again",
                 key="model_report_build"):
        try:
            with st.spinner("Writing the report…"):
                built = report.build(result, ws.catalog)
                result.results_dir.mkdir(exist_ok=True)
                html_path.write_text(built.html(), encoding="utf-8")
                md_path.write_text(built.markdown(), encoding="utf-8")
        except Exception as exc:
            show_error(exc, "Could not write the report")
    if html_path.exists():
        name = safe_name(result.name)
        d1, d2 = st.columns(2)
        d1.download_button("Download the report (HTML)", html_path.read_bytes(),
                           f"{name}-report.html", "text/html", key="model_report_html")
        d2.download_button("Download the report (Markdown)", md_path.read_bytes(),
                           f"{name}-report.md", "text/markdown", key="model_report_md")
        # Our own HTML, every value from the data escaped (engine/results/report.py).
        st.iframe(html_path, height=900)
    else:
        st.caption("A report for someone who does not train models: the data and its "
                   "warnings, the plan and its reasons, the leaderboard, the charts above, "
                   "and what the model is (and is not) for.")

with export_tab:
    if result.is_audio:
        st.markdown("The **Model bundle**: the model's weights (or fitted pipeline) and "
                    "settings, metadata, a usage note, the model card and the requirements. "
                    "It loads and predicts a folder of recordings with `modelyard predict "
                    "FOLDER recordings/`, without this app.")
    elif result.is_image:
        st.markdown("The **Model bundle**: the network's weights and settings, metadata, a "
                    "usage note, the model card and the requirements. It loads and predicts "
                    "in plain Python (`ImagePredictor(folder).predict_folder(images)`), "
                    "without this app.")
    else:
        st.markdown("The **Model bundle**: the fitted pipeline, native booster files, "
                    "metadata, a usage note, the model card and the requirements. It loads "
                    "and predicts in plain Python (`Predictor.load(folder)`), without this "
                    "app.")
    fmt = "bundle" if result.is_image else st.radio(
        "Format", list(EXPORT_FORMATS), horizontal=True, key="model_export_format",
        format_func=EXPORT_FORMATS.get,
        help="ONNX: the bundle plus the same model as an ONNX graph, for programs in other "
             "languages; checked against the bundle on the training rows. MLflow: the bundle "
             "wrapped as an MLflow model, for `mlflow models predict` and `mlflow models "
             "serve`.")
    folder = result.results_dir / fmt / safe_name(result.name)
    if st.button("Prepare the export", key="model_export"):
        try:
            with st.spinner("Writing the export…"):
                done = ws.export_model(run_id, folder, fmt, overwrite=True)
            if done.problem:
                st.warning(f"{literal(done.problem)} The bundle was written without it.")
            elif done.onnx:
                check = done.onnx["check"]
                st.success(f"ONNX checked on {check['rows']:,} training rows: it agrees "
                           f"with the bundle within {check['tolerance']:f}".rstrip("0")
                           + f" on every row (largest difference "
                           f"{check['max_difference']:.10f}".rstrip("0") + ").")
        except Exception as exc:
            show_error(exc, "Could not write the export")
    zip_path = folder.with_name(f"{folder.name}.zip")
    if zip_path.exists():
        st.download_button(DOWNLOADS[fmt], zip_path.read_bytes(),
                           zip_path.name, "application/zip", key="model_export_download")
        st.caption(f"Also on disk: {literal(folder)}")

with serve_tab:
    if result.is_image:
        st.info("The prediction server answers for table models only, for now. Predict "
                f"{unit}s on the Predict page.")
    else:
        serve_server(ws, run_id)
