"""Data: add data (upload, a path on disk, or a sample), then read what is in it: the
profile, its warnings with one-click fixes, charts, roles and target, a preview; images
per class for an image set, text lengths and examples per class for free-text columns."""

from pathlib import Path

import pandas as pd
import streamlit as st

from modelyard.app import charts, nav
from modelyard.app.ui import pick_dataset, show_error, workspace
from modelyard.engine.intake.formats import excel_sheets, table_sheet
from modelyard.engine.intake.images import examples
from modelyard.engine.intake.ingest import preview, table_path
from modelyard.engine.intake.roles import ROLE_WORDS
from modelyard.engine.intake.samples import SAMPLES
from modelyard.engine.intake.sizes import size_words
from modelyard.engine.intake.texts import class_target, look_at_text, text_columns
from modelyard.schemas import ColumnKind, ColumnRole, Task

ws = workspace()
st.title("Data")
UPLOAD_TYPES = ["csv", "tsv", "txt", "gz", "zip", "parquet", "pq", "json", "ndjson", "jsonl",
                "xlsx"]
SEVERITY = {"error": (st.error, ":material/error:"),
            "warning": (st.warning, ":material/warning:"),
            "info": (st.info, ":material/info:")}


def _show(dataset_id: str) -> None:
    """Make `dataset_id` the one shown below (the picker keeps its own choice otherwise)."""
    st.session_state["dataset_id"] = dataset_id
    st.session_state["data_pick"] = dataset_id


def _ingest(path: Path, *, name: str | None = None, test: str | None = None,
            sheet: str | None = None, force: bool = False) -> None:
    """Take `path` in with a progress bar, unless the same content is already here."""
    if not force:
        existing = ws.find_existing(path, sheet=sheet, test_path=test)
        if existing:
            st.session_state["data_pending"] = {"path": str(path), "name": name, "test": test,
                                                "sheet": sheet, "existing": existing}
            return
    bar = st.progress(0.0, text=f"Reading {path.name}…")
    meta = ws.ingest(path, name=name, test_path=test, sheet=sheet,
                     progress=lambda f, message: bar.progress(min(1.0, f), text=message))
    bar.empty()
    st.session_state.pop("data_pending", None)
    _show(meta["id"])
    st.session_state["data_added"] = meta


def _words_choice(dataset_id: str, finding) -> None:
    """Cells such as “None” in text columns: kept as values unless the person treats them
    as missing here (the whole data set is read again; the other button undoes it)."""
    c1, c2 = st.columns([5, 1])
    with c1:
        st.info(f"{finding.message} {finding.action}", icon=":material/info:")
    treat = finding.code == "words_kept"
    label = "Treat as missing" if treat else "Keep as values"
    if c2.button(label, key="data_words_missing" if treat else "data_words_keep"):
        try:
            with st.spinner("Reading the data set again…"):
                ws.treat_words_as_missing(dataset_id, treat)
        except Exception as exc:
            show_error(exc, "Could not read the data set again")
        else:
            st.rerun()


@st.cache_data(max_entries=16, show_spinner=False)
def _text_look(table: str, column: str, target: str | None, stamp: float):  # noqa: ARG001
    return look_at_text(Path(table), column, target)


def _saved_upload(uploaded) -> Path:
    folder = ws.home.root / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / Path(uploaded.name).name
    if not path.exists() or path.stat().st_size != uploaded.size:
        path.write_bytes(uploaded.getbuffer())
    return path


upload_tab, path_tab, sample_tab = st.tabs(["Upload a file", "Open a file on this computer",
                                            "Sample data"])
with upload_tab:
    uploaded = st.file_uploader("A table (CSV, TSV, Parquet, JSON, Excel, .gz) or a zip of "
                                "a folder (images per class, or train/test files)",
                                type=UPLOAD_TYPES, key="data_upload")
    sheet = None
    if uploaded is not None and uploaded.name.lower().endswith((".xlsx", ".xlsm")):
        try:
            sheets = excel_sheets(_saved_upload(uploaded))
            sheet = st.selectbox("Sheet", sheets, key="data_sheet",  # the table, not a cover
                                 index=sheets.index(table_sheet(_saved_upload(uploaded)))) \
                if len(sheets) > 1 else None
        except Exception as exc:
            show_error(exc, f"Could not open {uploaded.name}")
    if uploaded is not None and st.button("Add this file", type="primary",
                                          key="data_add_upload"):
        try:
            _ingest(_saved_upload(uploaded), name=Path(uploaded.name).name.split(".")[0],
                    sheet=sheet)
        except Exception as exc:
            show_error(exc, f"Could not read {uploaded.name}")
with path_tab:
    st.caption("For big files and folders: nothing is copied through the browser.")
    raw_path = st.text_input("Path to a file, a folder or a zip", key="data_path")
    test_path = st.text_input("Optional: a test file to predict after training",
                              key="data_test_path")
    path_sheet = st.text_input("Optional: the Excel sheet to read", key="data_path_sheet")
    if st.button("Open", key="data_open", disabled=not raw_path):
        try:
            _ingest(Path(raw_path.strip()).expanduser(), test=test_path.strip() or None,
                    sheet=path_sheet.strip() or None)
        except Exception as exc:
            show_error(exc, "Could not open the file")
with sample_tab:
    for key, sample in SAMPLES.items():
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"**{sample.title}** ({sample.task}) — {sample.blurb}")
        if c2.button("Use", key=f"data_sample_{key}"):
            try:
                st.session_state["data_added"] = ws.ingest_sample(key)
                _show(st.session_state["data_added"]["id"])
            except Exception as exc:
                show_error(exc, "Could not load the sample")

if pending := st.session_state.get("data_pending"):
    old = pending["existing"]
    st.info(f"You already have this data as **{old['name']}** ({size_words(old)}, "
            f"id {old['id']}).", icon=":material/content_copy:")
    c1, c2 = st.columns(2)
    if c1.button(f"Open {old['name']}", type="primary", key="data_use_existing"):
        _show(old["id"])
        st.session_state.pop("data_pending")
        st.rerun()
    if c2.button("Add it again anyway", key="data_add_again"):
        try:
            _ingest(Path(pending["path"]), name=pending["name"], test=pending["test"],
                    sheet=pending["sheet"], force=True)
            st.rerun()
        except Exception as exc:
            show_error(exc, "Could not add the data")
if added := st.session_state.pop("data_added", None):
    st.success(f"Added **{added['name']}**: {size_words(added, columns=True)}.")

st.divider()
dataset = pick_dataset(ws, key="data_pick")
if dataset is None:
    st.stop()
try:
    profile = ws.dataset(dataset["id"]).profile
except Exception as exc:
    show_error(exc, "Could not read this data set's profile")
    st.stop()

images = profile.images
texts = text_columns(profile)
# The last metric is the widest: "tabular+text" must not be cut off.
c1, c2, c3, c4, c5 = st.columns([1, 1, 1.2, 1.2, 1.6])
c1.metric("Images" if images else "Rows", f"{profile.n_rows:,}")
c2.metric("Classes" if images else "Columns", images.n_classes if images else profile.n_cols)
if images:
    w, h = images.width.get("median"), images.height.get("median")
    c3.metric("Typical size", f"{w:.0f}×{h:.0f} px" if w and h else "—",
              help="The median width × height; the network sees every image at one size.")
else:
    c3.metric("Duplicate rows", f"{profile.duplicate_rows:,}")
c4.metric("Test file", f"yes ({profile.test_rows:,} rows)" if profile.test_rows
          else ("yes" if dataset.get("has_test") else "no"))
c5.metric("Kind of data", profile.modality)
source = profile.source
if source:
    said = [f"read as {source.get('format', '?')}"]
    if source.get("compression"):
        said.append(f"{source['compression']}-compressed")
    if source.get("encoding_name"):
        said.append(f"encoding {source['encoding_name']}"
                    + (" (detected)" if source.get("encoding") != "utf-8" else ""))
    if source.get("delimiter"):
        said.append(f"delimiter {source['delimiter']!r}")
    if "header" in source:
        said.append("first row is the header" if source["header"] else "no header row")
    if source.get("sheet"):
        said.append(f"sheet “{source['sheet']}” of {len(source.get('sheets', []))}")
    st.caption(f"{source.get('file', '')}: " + ", ".join(said) + ".")
if profile.sampled_rows:
    st.caption(f"Shapes (quantiles, charts, associations) come from a sample of "
               f"{profile.sampled_rows:,} rows; counts are exact.")
if profile.time_column:
    ordered = "the rows are in time order by" if profile.findings.get("time_sorted") \
        else "a time column:"
    st.caption(f"Time: {ordered} “{profile.time_column}”; a model should be validated on "
               "later rows than it learns from.")
if comp := profile.competition:
    st.caption(f"Competition folder: train {comp.get('train_file')}, test "
               f"{comp.get('test_file') or '—'}, id column {comp.get('id_column') or '—'}, "
               f"a submission gives {', '.join(comp.get('output_columns') or []) or '—'}.")

# -- target and task ---------------------------------------------------------------------
st.subheader("What to predict")
if profile.target:
    t = profile.target
    if t.confidence >= 1.0:
        st.markdown(f"**Target:** `{t.column}` — a **{t.task.value}** problem ({t.reason}).")
    else:
        st.markdown(f"**Likely target:** `{t.column}` — a **{t.task.value}** problem "
                    f"(confidence {t.confidence:.0%}: {t.reason}).")
elif images:
    st.warning("These images carry no labels to learn from. Sort them into one folder per "
               "class, or add a table of file names and labels.")
else:
    st.warning("No column looks like a target; choose one below.")
if not images:  # an image set's target is its label: nothing to choose
    with st.expander("Change the target or the task"):
        guess_label = "(let Modelyard guess)"
        options = [guess_label] + [c.name for c in profile.columns if c.role is None]
        current = profile.target.column if profile.target and dataset.get("target") and \
            profile.target.confidence >= 1.0 else guess_label
        chosen = st.selectbox("Target column", options,
                              index=options.index(current) if current in options else 0,
                              key="data_target")
        tasks = ["(from the target)"] + [t.value for t in Task]
        task = st.selectbox("Task", tasks, key="data_task")
        if st.button("Apply", key="data_apply_target"):
            try:
                ws.set_roles(dataset["id"], target="" if chosen == guess_label else chosen,
                             task=None if task == tasks[0] else task)
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not change the target")

# -- warnings ------------------------------------------------------------------------------
st.subheader("What to look at")
if not profile.warnings:
    st.success("Nothing looks wrong with this data.", icon=":material/check_circle:")
for i, w in enumerate(profile.warnings):
    if w.code in ("words_kept", "words_missing"):
        _words_choice(dataset["id"], w)
        continue
    say, icon = SEVERITY.get(w.severity, (st.info, ":material/info:"))
    if w.suggested_role and w.column:
        c1, c2 = st.columns([5, 1])
        with c1:
            say(f"{w.message} {w.action}", icon=icon)
        label = {"ignore": "Ignore this column", "id": "Mark as id"}.get(
            w.suggested_role.value, f"Mark as {w.suggested_role.value}")
        if c2.button(label, key=f"data_fix_{i}_{w.column}"):
            try:
                ws.set_roles(dataset["id"], roles={w.column: w.suggested_role.value})
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not change the column's role")
    else:
        say(f"{w.message} {w.action}", icon=icon)

# -- columns, charts, roles, preview ---------------------------------------------------------
st.subheader("Columns, charts and preview")
# An image set's table is its file list: its classes chart is under Images, and its
# columns (path, label, size) have no roles to give.
tab_names = ["Images", "Columns", "Preview"] if images else ["Columns", "Charts", "Roles",
                                                             "Preview"]
if texts and not images:
    tab_names.insert(0, "Text")
if any(c.drift is not None for c in profile.columns):
    tab_names.append("Train vs test")
tabs = dict(zip(tab_names, st.tabs(tab_names), strict=True))

if images:
    with tabs["Images"]:
        st.caption(f"{images.n_images:,} images in {images.n_classes} classes; width "
                   f"{images.width.get('min', 0):.0f}–{images.width.get('max', 0):.0f} px, "
                   f"height {images.height.get('min', 0):.0f}–"
                   f"{images.height.get('max', 0):.0f} px"
                   + (f"; {images.n_test_images:,} test images" if images.n_test_images
                      else "") + ".")
        if fig := charts.image_classes(profile):
            st.plotly_chart(fig, key="data_chart_images")
        for label, paths in examples(ws.home.dataset_dir(dataset["id"])).items():
            st.markdown(f"**{label}**")
            st.image([str(p) for p in paths], width=96, caption=[p.name for p in paths])

if "Text" in tabs:
    with tabs["Text"]:
        column = st.selectbox("Text column", texts, key="data_text_column") \
            if len(texts) > 1 else texts[0]
        length = profile.column(column).text_length
        if length:
            st.markdown(f"**“{column}”** is free text: {length['min']:,.0f} to "
                        f"{length['max']:,.0f} characters, {length['mean']:,.0f} on average. "
                        "Models read it as words (TF-IDF).")
        target = class_target(profile)
        table = table_path(ws.home, dataset["id"])
        try:
            look = _text_look(str(table), column, target, table.stat().st_mtime)
        except Exception as exc:
            show_error(exc, f"Could not read the texts of {column}")
            look = None
        if look is not None and look.lengths:
            by = f"per class of “{target}”" if look.target else "over all rows"
            st.caption(f"Length {by}"
                       + (f" (the first {look.rows_read:,} rows)"
                          if look.rows_read < profile.n_rows else "") + ".")
            st.dataframe(pd.DataFrame(look.lengths), hide_index=True,
                         key="data_text_lengths")
            st.markdown("**Examples of each class**" if look.target else "**Examples**")
            st.table(pd.DataFrame([{"class": label, "text": text}
                                   for label, found in look.samples.items()
                                   for text in found]).set_index("class"))
        elif look is not None:
            st.info(f"“{column}” holds no text in the rows read.")

with tabs["Columns"]:
    st.dataframe(
        pd.DataFrame([{
            "column": c.name, "kind": c.kind.value,
            "role": c.role.value if c.role else "", "type": c.dtype,
            "missing": f"{c.missing_share:.0%}", "distinct": c.n_distinct,
            "min": c.min, "mean": c.mean, "max": c.max,
            "median": c.quantiles.get("50%"),
            "top values": ", ".join(f"{v} ({n})" for v, n in c.top_values[:3]),
            "with target": c.association,
        } for c in profile.columns]),
        hide_index=True, key="data_columns",
    )

if not images:
    with tabs["Charts"]:
        left, right = st.columns(2)
        with left:
            if fig := charts.target_distribution(profile):
                st.plotly_chart(fig, key="data_chart_target")
        with right:
            if fig := charts.associations(profile):
                st.plotly_chart(fig, key="data_chart_assoc")
        names = profile.column_names
        shown = st.selectbox("Column", names, key="data_chart_column")
        if fig := charts.column_chart(profile.column(shown)):
            st.plotly_chart(fig, key="data_chart_col")
        else:
            st.caption("Free text: its lengths and examples are under Text."
                       if profile.column(shown).kind is ColumnKind.text
                       else "No chart for this column (identifiers, dates).")
        left, right = st.columns(2)
        with left:
            if fig := charts.missingness(profile):
                st.plotly_chart(fig, key="data_chart_missing")
            else:
                st.caption("No column has missing values.")
        with right:
            if fig := charts.correlation_heatmap(profile):
                st.plotly_chart(fig, key="data_chart_corr")

    with tabs["Roles"]:
        st.caption("Say what a column is when the profile got it wrong. Roles are saved with "
                   "the data set and used by every plan made after.")
        roles = {c.name: c.role.value for c in profile.columns if c.role}
        if roles:
            st.dataframe(pd.DataFrame([{"column": k, "role": v,
                                        "means": ROLE_WORDS[ColumnRole(v)]}
                                       for k, v in roles.items()]),
                         hide_index=True, key="data_roles_table")
        c1, c2, c3 = st.columns([3, 2, 1])
        role_column = c1.selectbox("Column", profile.column_names, key="data_role_column")
        none_label = "(none: as detected)"
        role = c2.selectbox("Role", [none_label] + [r.value for r in ColumnRole],
                            key="data_role_value")
        if c3.button("Set role", key="data_set_role"):
            try:
                ws.set_roles(dataset["id"],
                             roles={role_column: None if role == none_label else role})
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not set the role")

with tabs["Preview"]:
    pages = max(1, (profile.n_rows + 99) // 100)
    page = st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="data_page") \
        if pages > 1 else 1
    st.dataframe(preview(ws.home, dataset["id"], offset=(page - 1) * 100, limit=100),
                 key="data_preview")

if "Train vs test" in tabs:
    with tabs["Train vs test"]:
        if profile.train_test_overlap:
            st.warning(f"{profile.train_test_overlap:,} test rows also appear in training.")
        if fig := charts.drift_bars(profile):
            st.plotly_chart(fig, key="data_chart_drift")

st.page_link(nav.page("plan"), label="Next: review the training plan")
