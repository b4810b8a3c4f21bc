"""Predict: new rows from a file (checked against the training columns first), one row by
hand (what if?), or a competition submission in its sample's exact format; for an image
model, a zip of images, image files or a folder on this computer."""

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from modelyard.app.literal import code, literal
from modelyard.app.results_ui import open_finished_run, safe_name
from modelyard.app.ui import show_error, workspace
from modelyard.engine.multilabel.views import on_labels, say_labels
from modelyard.engine.results import predict, submission
from modelyard.engine.results.words import plural

ws = workspace()
st.title("Predict")
result = open_finished_run(ws, "predict_run")
# This page loads only the models of this Modelyard's own runs; a bundle from elsewhere
# loads with `modelyard predict`, which checks its manifest.
st.caption("Uses the models trained here. A Model bundle from elsewhere runs its own code "
           "when it is loaded: load one only if you trust where it came from.")
run_id, meta = result.run_id, result.meta
target, classes = meta["target"], result.classes
labels = meta.get("labels") if meta.get("kind") == "multilabel" else None
inputs_dir = result.results_dir / "inputs"
outputs_dir = result.results_dir / "predictions"


IMAGE_TYPES = ["zip", "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"]
SOUND_TYPES = ["zip", "wav", "flac", "ogg", "mp3"]


def _show_saved(what: str) -> None:
    """The latest predictions of this run: where they are, a preview, a download."""
    saved = st.session_state.get("predict_output")
    if not (saved and Path(saved).exists() and Path(saved).is_relative_to(outputs_dir)):
        return
    out = pd.read_csv(saved, nrows=200)
    st.success(f"Predictions saved to {literal(saved)}")
    note = st.session_state.get("predict_note")
    if note and note.get("path") == saved:
        st.caption(literal(note["text"]))
    # A missing value shows as the empty cell it is in the file, not as "None".
    st.dataframe(out, hide_index=True, key="predict_preview", placeholder="")
    if len(out) == 200:
        st.caption(f"The first 200 {what}; the download has them all.")
    st.download_button("Download predictions (CSV)", Path(saved).read_bytes(),
                       Path(saved).name, "text/csv", key="predict_download", type="primary")


def _image_page(word: str = "image") -> None:
    """Predict a zip, files or a folder of images (or of recordings: `word`)."""
    from modelyard.app.results_ui import image_model
    from modelyard.engine.vision import predict as vision

    types = SOUND_TYPES if word == "recording" else IMAGE_TYPES
    how = st.radio(f"{word.capitalize()}s to predict", [f"Upload {word}s",
                                                         "A folder on this computer"],
                   horizontal=True, key="predict_image_how")
    uploads, folder = [], ""
    if how == f"Upload {word}s":
        uploads = st.file_uploader(
            f"A zip of {word}s (folders inside are fine), or {word} files", type=types,
            accept_multiple_files=True, key="predict_image_upload") or []
    else:
        folder = st.text_input(f"Folder of {word}s (or a zip) on this computer",
                               key="predict_image_folder",
                               help="For many images: nothing is copied, they are read in "
                                    "place.").strip()
    if not st.button(f"Predict these {word}s", type="primary", key="predict_image_run",
                     disabled=not (uploads or folder)):
        return
    bar = st.progress(0.0, text="loading the model…")
    try:
        model = image_model(result)
        show = lambda f, m: bar.progress(min(1.0, f), text=literal(m))  # noqa: E731
        if uploads:
            made = vision.predict_uploads(model, [(u.name, u.getvalue()) for u in uploads],
                                          inputs_dir, on_progress=show)
            stem = Path(uploads[0].name).stem if len(uploads) == 1 else f"{word}s"
        else:
            made = vision.predict_images(model, [Path(folder)], inputs_dir, on_progress=show)
            stem = Path(folder).expanduser().stem or f"{word}s"
        name = f"{safe_name(stem)}-predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        path = predict.write_table(made.frame, outputs_dir / name)
        text = f"{made.count:,} {word}s predicted in {made.seconds:.1f} s."
        if made.skipped:
            text += (f" {plural(len(made.skipped), 'file')} left out: "
                     + "; ".join(made.skipped[:5]) + (" …" if len(made.skipped) > 5 else ""))
        st.session_state["predict_output"] = str(path)
        st.session_state["predict_note"] = {"path": str(path), "text": text}
    except Exception as exc:
        show_error(exc, f"Could not predict these {word}s")
    finally:
        bar.empty()


if result.is_image:
    word = "recording" if result.is_audio else "image"
    st.caption(f"{'A sound' if result.is_audio else 'An image'} model predicting "
               f"**{literal(target)}** ({literal(', '.join(map(str, classes)))}). The "
               f"predictions file has one row per {word}: its path, the predicted "
               f"{literal(target)} and the probability of each class.")
    _image_page(word)
    _show_saved(f"{word}s")
    st.stop()

try:
    predictor = result.predictor  # checked against its manifest before it is unpickled
except Exception as exc:
    show_error(exc, "Could not load this run's model")
    st.stop()
if predictor.is_forecast:  # a forecaster extends each series of a history file
    from modelyard.app.forecast_ui import forecast_predict

    forecast_predict(predictor, inputs_dir, outputs_dir)
    _show_saved("forecast rows")
    st.stop()
st.caption(f"Predicts **{literal(say_labels(meta) if labels else target)}** from "
           f"{len(predictor.features)} columns: "
           + ", ".join(code(c) for c in predictor.features[:12])
           + (" …" if len(predictor.features) > 12 else ""))
file_tab, row_tab, submission_tab = st.tabs(["A file", "One row (what if?)", "Submission"])


def _save_upload(upload) -> Path:
    inputs_dir.mkdir(parents=True, exist_ok=True)
    path = inputs_dir / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path


def _source(prefix: str) -> Path | None:
    """The file the person chose: an upload (saved beside the run) or a path on disk."""
    how = st.radio("Rows to predict", ["Upload a file", "A file on this computer"],
                   horizontal=True, key=f"{prefix}_how")
    if how == "Upload a file":
        upload = st.file_uploader("CSV, TSV, Parquet, JSON or Excel", key=f"{prefix}_upload")
        return _save_upload(upload) if upload is not None else None
    typed = st.text_input("Path", key=f"{prefix}_path",
                          help="For big files: nothing is copied, the file is read in place.")
    return Path(typed).expanduser() if typed else None


with file_tab:
    source = _source("predict")
    table = None
    if source is not None:
        try:
            if getattr(predictor, "networks", None) is not None:  # a table with images
                from modelyard.engine.mixed.predict import open_input

                table, predictor.base = open_input(source, inputs_dir)
            else:
                table = predict.read_input(source)
            check = predict.check_input(predictor, table)
        except Exception as exc:
            show_error(exc, f"Could not read {source.name}")
            table = None
    if table is not None:
        if check.ok:
            st.success(f"{literal(source.name)}: {check.rows:,} rows; every column the model "
                       "uses is there with the right type.")
        else:
            st.warning(f"{literal(source.name)}: {check.rows:,} rows. Some columns differ from the "
                       "training data; here is what will happen:")
        shown = check.rows_for_display()
        if shown:
            st.dataframe(pd.DataFrame(shown), hide_index=True, key="predict_check",
                         placeholder="—")
        if st.button(f"Predict {check.rows:,} rows", type="primary", key="predict_go"):
            bar = st.progress(0.0, text="predicting…")
            try:
                mixed = getattr(predictor, "networks", None) is not None
                if mixed:
                    predictor.without_image = 0  # counted for this file
                frame = predict.predict(predictor, table,
                                        on_progress=lambda f, m: bar.progress(
                                            f, text=literal(m)))
                name = f"{Path(source.name).stem}-predictions-{time.strftime('%Y%m%d-%H%M%S')}"
                path = predict.write_table(frame, outputs_dir / f"{name}.csv")
                st.session_state["predict_output"] = str(path)
                if mixed:  # rows whose image was not found are said, not hidden
                    from modelyard.engine.mixed.predict import missing_note

                    st.session_state["predict_note"] = {"path": str(path),
                                                        "text": missing_note(predictor)}
            except Exception as exc:
                show_error(exc, "Could not predict")
    _show_saved("rows")

with row_tab:
    fields = predict.form_fields(predictor, result.profile)
    with st.form("predict_what_if"):
        values = {}
        columns = st.columns(3)
        for i, field in enumerate(fields):
            box = columns[i % 3]
            key = f"predict_field_{i}"
            label = literal(field["name"])  # a widget's label is Markdown too
            if field["kind"] == "choice" and field["options"]:
                values[field["name"]] = box.selectbox(label, field["options"], key=key,
                                                      accept_new_options=True)
            elif field["kind"] == "date":
                values[field["name"]] = box.date_input(label, key=key)
            elif field["kind"] == "choice":
                values[field["name"]] = box.text_input(label, key=key)
            elif field["kind"] == "text":
                values[field["name"]] = box.text_area(label, key=key,
                                                      placeholder="Free text")
            else:
                values[field["name"]] = box.number_input(label,
                                                         value=field["default"], key=key)
        asked = st.form_submit_button("Predict this row")
    if asked:
        try:
            one = predict.predict_one(predictor, values)
            if labels:  # several yes/no answers: the labels on, and each one's probability
                st.metric("Predicted labels", literal(on_labels(meta, one) or "none"))
                st.bar_chart(pd.Series(one[[f"proba_{c}" for c in labels]].iloc[0].to_numpy(),
                                       index=[str(c) for c in labels], name="probability"))
            else:
                st.metric(f"Predicted {literal(target)}", literal(one[target].iloc[0]) if classes
                          else f"{one[target].iloc[0]:.4g}")
            if classes:
                proba = one[[f"proba_{c}" for c in classes]].iloc[0]
                st.bar_chart(pd.Series(proba.to_numpy(), index=[str(c) for c in classes],
                                       name="probability"))
        except Exception as exc:
            show_error(exc, "Could not predict this row")

with submission_tab:
    st.markdown("A competition's **sample submission** decides the format: the id column, "
                "the columns and their order, labels or probabilities. Modelyard predicts "
                "the test table, writes `submission.csv` exactly like it and checks it.")
    sample_path = result.sample_submission
    upload = st.file_uploader("Sample submission (CSV)", type=["csv"],
                              key="predict_sample_upload",
                              help="Not needed when the data set came with one.")
    if upload is not None:
        sample_path = _save_upload(upload)
    test = result.test_rows()
    if test is None:
        st.info("This run's data set has no test table. Add the test file with the data set "
                "on the **Data** page.")
    elif sample_path is None:
        st.info("Upload the competition's sample_submission.csv.")
    elif st.button("Make submission.csv", key="predict_submission_go", type="primary"):
        try:
            with st.spinner("Predicting the test rows and checking the file…"):
                made = submission.make_submission(
                    predictor, sample_path, test,
                    outputs_dir / f"submission-{safe_name(result.name)}.csv")
            st.session_state["predict_submission"] = (str(made.path),
                                                      made.format.describe() + made.notes)
        except Exception as exc:
            show_error(exc, "Could not make the submission")
    made = st.session_state.get("predict_submission")
    if made and Path(made[0]).exists() and Path(made[0]).is_relative_to(outputs_dir):
        path, described = Path(made[0]), made[1]
        st.success("Checked: the same columns and rows as the sample, the ids of the test "
                   "file, no missing values. " + "; ".join(described) + ".")
        st.dataframe(pd.read_csv(path, nrows=50, dtype=str), hide_index=True, placeholder="",
                     key="predict_submission_preview")
        st.download_button("Download submission.csv", path.read_bytes(), "submission.csv",
                           "text/csv", key="predict_submission_download")
