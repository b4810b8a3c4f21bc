"""Data: add data (upload, a path on disk, or a sample), then read what is in it: the
profile, its warnings with one-click fixes, charts, roles and target, a preview; images
per class for an image set, text lengths and examples per class for free-text columns.

A chosen file is taken in at once (no second button), once per file; while it is read,
the previous data set's profile is replaced by a note, so the two never mix. The page is
a few sections, each a function, drawn in order at the end."""

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from modelyard.app import charts, nav
from modelyard.app.literal import code, literal
from modelyard.app.ui import pick_dataset, show_error, workspace
from modelyard.engine.intake.formats import excel_sheets, table_sheet
from modelyard.engine.intake.images import examples
from modelyard.engine.intake.ingest import preview, table_path
from modelyard.engine.intake.roles import ROLE_WORDS
from modelyard.engine.intake.samples import SAMPLES
from modelyard.engine.intake.sizes import size_words
from modelyard.engine.intake.texts import class_target, look_at_text, text_columns
from modelyard.engine.planning.labels import TASK_SHORT, task_label
from modelyard.engine.planning.quoting import cut
from modelyard.engine.planning.time_order import time_order
from modelyard.schemas import ColumnKind, ColumnRole, Profile, Task

ws = workspace()
st.title("Data")
tabs_row = st.tabs(["Upload a file", "Open a file on this computer", "Sample data"])
notices = st.container()  # what adding data said: added, already here, failed
# The profile of the data set shown. Adding a file first writes a note here, which
# replaces the previous data set's profile on the screen while the new one is read.
below = st.empty()
UPLOAD_TYPES = ["csv", "tsv", "txt", "gz", "zip", "parquet", "pq", "json", "ndjson", "jsonl",
                "xlsx"]
SEVERITY = {"error": (st.error, ":material/error:"),
            "warning": (st.warning, ":material/warning:"),
            "info": (st.info, ":material/info:")}


def count(n: int, word: str, plural: str | None = None) -> str:
    """“1 row”, “2,000 rows”: a number and its noun, in the right number."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


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
    below.info(f"Adding {literal(name or path.name)}: its profile appears here once it is read.",
               icon=":material/hourglass_top:")
    bar = st.progress(0.0, text=f"Reading {literal(path.name)}…")
    meta = ws.ingest(path, name=name, test_path=test, sheet=sheet,
                     progress=lambda f, message: bar.progress(min(1.0, f),
                                                              text=literal(message)))
    bar.empty()
    st.session_state.pop("data_pending", None)
    _show(meta["id"])
    st.session_state["data_added"] = meta


def _words_choice(dataset_id: str, finding) -> None:
    """Cells such as “None” in text columns: kept as values unless the person treats them
    as missing here (the whole data set is read again; the other button undoes it)."""
    c1, c2 = st.columns([5, 1])
    with c1:
        st.info(literal(f"{finding.message} {finding.action}"), icon=":material/info:")
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


def _upload_tab() -> None:
    """Choosing a file is enough: it is taken in at once, once per chosen file."""
    uploaded = st.file_uploader("A table (CSV, TSV, Parquet, JSON, Excel, .gz) or a zip of "
                                "a folder (images or recordings per class, or train/test files)",
                                type=UPLOAD_TYPES, key="data_upload")
    if uploaded is None:
        return
    sheet = None
    if uploaded.name.lower().endswith((".xlsx", ".xlsm")):
        try:
            sheets = excel_sheets(_saved_upload(uploaded))
        except Exception as exc:
            show_error(exc, f"Could not open {uploaded.name}")
            return
        if len(sheets) > 1:
            sheet = st.selectbox("Sheet", sheets, index=None, key="data_sheet",
                                 placeholder="The one that holds the table",
                                 help="Left empty, Modelyard reads the sheet that holds a "
                                      "table; choose one to read another.")
            if sheet is not None and sheet == table_sheet(_saved_upload(uploaded)):
                sheet = None  # the sheet already read: choosing it is not a new file
    # A rerun of the page (any click) must not take the same file in again; choosing it
    # again (a new upload, a new id) or another sheet does.
    ident = [getattr(uploaded, "file_id", ""), uploaded.name, uploaded.size, sheet]
    if st.session_state.get("data_taken") == ident:
        return
    st.session_state["data_taken"] = ident
    try:
        _ingest(_saved_upload(uploaded), name=Path(uploaded.name).name.split(".")[0],
                sheet=sheet)
    except Exception as exc:
        show_error(exc, f"Could not read {uploaded.name}")


def _path_tab() -> None:
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


def _sample_tab() -> None:
    for key, sample in SAMPLES.items():
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"**{sample.title}** ({TASK_SHORT[Task(sample.task)].lower()}) — "
                    f"{sample.blurb}")
        if c2.button("Use", key=f"data_sample_{key}"):
            try:
                st.session_state["data_added"] = ws.ingest_sample(key)
                _show(st.session_state["data_added"]["id"])
            except Exception as exc:
                show_error(exc, "Could not load the sample")


def _notices() -> None:
    """The offer to reuse data already here, and what was added."""
    if pending := st.session_state.get("data_pending"):
        old = pending["existing"]
        st.info(f"You already have this data as **{literal(old['name'])}** "
                f"({size_words(old)}, id {literal(old['id'])}).",
                icon=":material/content_copy:")
        c1, c2 = st.columns(2)
        if c1.button(f"Open {literal(old['name'])}", type="primary", key="data_use_existing"):
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
        st.success(f"Added **{literal(added['name'])}**: "
                   f"{size_words(added, columns=True)}.")


def _summary(dataset: dict, profile: Profile) -> None:
    """Counts, how the file was read, sampling, time order, competition folder."""
    images, sound = profile.images, profile.audio
    # The last metric is the widest: "tabular+text" must not be cut off.
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1.2, 1.2, 1.6])
    c1.metric("Images" if images else "Recordings" if sound else "Rows", f"{profile.n_rows:,}")
    c2.metric("Classes" if images or sound else "Columns",
              images.n_classes if images else sound.n_classes if sound else profile.n_cols)
    if sound:
        c3.metric("Typical length", f"{sound.seconds.get('median', 0):.2f} s",
                  help="The median duration; every recording is cut or padded to about "
                       "this length for the models.")
    elif images:
        w, h = images.width.get("median"), images.height.get("median")
        c3.metric("Typical size", f"{w:.0f}×{h:.0f} px" if w and h else "—",
                  help="The median width × height; the network sees every image at one "
                       "size.")
    else:
        c3.metric("Duplicate rows", f"{profile.duplicate_rows:,}")
    c4.metric("Test file", f"yes ({count(profile.test_rows, 'row')})" if profile.test_rows
              else ("yes" if dataset.get("has_test") else "no"))
    c5.metric("Kind of data", MODALITY_WORDS.get(profile.modality, profile.modality))
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
        st.caption(literal(f"{source.get('file', '')}: " + ", ".join(said) + "."))
    if profile.sampled_rows:
        st.caption(f"Shapes (quantiles, charts, associations) come from a sample of "
                   f"{profile.sampled_rows:,} rows; counts are exact.")
    if (timing := time_order(profile)) is not None:
        # The plan's own words (engine/planning/time_order.py): page and plan agree.
        st.caption(f"Time: {literal(timing.why)}")
    if comp := profile.competition:
        st.caption(literal(
            f"Competition folder: train {comp.get('train_file')}, test "
            f"{comp.get('test_file') or '—'}, id column {comp.get('id_column') or '—'}, "
            f"a submission gives {', '.join(comp.get('output_columns') or []) or '—'}."))


def _target_section(dataset: dict, profile: Profile) -> None:
    st.subheader("What to predict")
    images = profile.images
    if profile.target:
        t = profile.target
        kind = task_label(t.task).lower()
        if t.confidence >= 1.0:
            st.markdown(f"**Target:** {code(t.column)} — {kind}; {literal(t.reason)}.")
        else:
            st.markdown(f"**Likely target:** {code(t.column)} — {kind}; "
                        f"{t.confidence:.0%} sure: {literal(t.reason)}.")
            _other_targets(dataset, profile)
    elif images:
        st.warning("These images carry no labels to learn from. Sort them into one folder "
                   "per class, or add a table of file names and labels.")
    else:
        st.warning("No column looks like a target; choose one below.")
    if images or profile.audio:  # an image or sound set's target is its label
        return
    with st.expander("Change the target or the task"):
        guess_label = "(let Modelyard guess)"
        options = [guess_label] + [c.name for c in profile.columns if c.role is None]
        current = profile.target.column if profile.target and dataset.get("target") and \
            profile.target.confidence >= 1.0 else guess_label
        chosen = st.selectbox("Target column", options,
                              index=options.index(current) if current in options else 0,
                              key="data_target")
        from_target = "(from the target)"
        tasks = [from_target] + [t.value for t in Task]
        task = st.selectbox("Kind of problem", tasks, key="data_task",
                            format_func=lambda v: v if v == from_target else task_label(v))
        if st.button("Apply", key="data_apply_target"):
            try:
                ws.set_roles(dataset["id"], target="" if chosen == guess_label else chosen,
                             task=None if task == from_target else task)
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not change the target")


def _other_targets(dataset: dict, profile: Profile) -> None:
    """The next two likely targets, each with its reason and one button to choose it."""
    others = [c for c in profile.target_candidates if c.column != profile.target.column][:2]
    if not others:
        return
    st.caption("Or predict one of these instead:")
    for i, other in enumerate(others):
        words, button = st.columns([4, 1.3], vertical_alignment="center")
        words.markdown(f"{code(other.column)} — {task_label(other.task).lower()}; "
                       f"{literal(other.reason)}.")
        if button.button(f"Predict {literal(other.column)}", key=f"data_other_target_{i}"):
            try:
                ws.set_roles(dataset["id"], target=other.column)
                st.rerun()
            except Exception as exc:
                show_error(exc, "Could not change the target")


def _warnings_section(dataset: dict, profile: Profile) -> None:
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
                say(literal(f"{w.message} {w.action}"), icon=icon)
            label = {"ignore": "Ignore this column", "id": "Mark as id"}.get(
                w.suggested_role.value, f"Mark as {w.suggested_role.value}")
            if c2.button(label, key=f"data_fix_{i}_{w.column}"):
                try:
                    ws.set_roles(dataset["id"], roles={w.column: w.suggested_role.value})
                    st.rerun()
                except Exception as exc:
                    show_error(exc, "Could not change the column's role")
        else:
            say(literal(f"{w.message} {w.action}"), icon=icon)


# What the data set holds, in words (the profile's modality names are identifiers).
MODALITY_WORDS = {"tabular": "Table", "tabular+text": "Table with text", "image": "Images",
                  "audio": "Sound", "mixed": "Table + images",
                  "text_to_text": "Text pairs"}

# Column kinds in words; the others read as they are (numeric, categorical, text, ...).
KIND_WORDS = {ColumnKind.datetime: "date", ColumnKind.id: "identifier",
              ColumnKind.boolean: "yes/no", ColumnKind.image: "image path"}
_TEXT = st.column_config.TextColumn
COLUMN_TABLE = {
    "column": _TEXT("Column", width="medium", pinned=True),  # names read whole
    "kind": _TEXT("Kind", help="What the values are, as the profile read them"),
    "role": _TEXT("Role", help="What you said the column is (under Roles); blank: as read"),
    "type": _TEXT("Stored as"),
    "missing": _TEXT("Missing", help="The share of rows without a value"),
    "distinct": st.column_config.NumberColumn("Distinct", format="%d",
                                              help="How many different values"),
    "min": _TEXT("Min"), "mean": _TEXT("Mean"), "median": _TEXT("Median"),
    "max": _TEXT("Max"),
    "top values": _TEXT("Most common values (rows)", width="medium"),
    "with target": _TEXT(
        "Tells about the target",
        help="How much this column alone tells about the target, from 0 (nothing) to 1 "
             "(everything): the correlation ratio (η) or Cramér's V. Near 1, check that "
             "the column is known before the answer is; otherwise it gives the answer "
             "away."),
}


def _number(value: float | None) -> str:
    """A statistic short enough to read whole: 4 significant digits, thousands
    separated; "—" when there is none (a text column has no mean)."""
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    if size >= 1e12:
        return f"{value:.3g}"
    if size >= 1e6:  # 2.54 million reads whole in a narrow column; 2,539,537 does not
        return f"{value / 1e9:.3g} bn" if size >= 1e9 else f"{value / 1e6:.3g} M"
    if size >= 1_000 or float(value).is_integer():  # 1,939 beside 1,939, not 1939
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _columns_table(profile: Profile) -> None:
    target = profile.target.column if profile.target else None

    def told(c) -> str:
        if c.name == target:
            return "(the target)"
        return "—" if c.association is None else f"{c.association:.2f}"

    # What matters most first (how much a column tells about the target), so it shows
    # without scrolling sideways; how it is stored last.
    st.dataframe(pd.DataFrame([{
        "column": c.name, "kind": KIND_WORDS.get(c.kind, c.kind.value),
        "role": c.role.value if c.role else "",
        "missing": f"{c.missing_share:.0%}", "distinct": c.n_distinct,
        "with target": told(c),
        "min": _number(c.min), "mean": _number(c.mean),
        "median": _number(c.quantiles.get("50%")), "max": _number(c.max),
        "top values": ", ".join(f"{cut(str(v), 24)} ({n:,})" for v, n in c.top_values[:3])
        or "—",
        "type": c.dtype,
    } for c in profile.columns]), hide_index=True, column_config=COLUMN_TABLE,
        key="data_columns")


def _tabs_section(dataset: dict, profile: Profile) -> None:
    """Columns, charts, roles and a preview; images and texts where they are."""
    images = profile.images
    texts = text_columns(profile)
    st.subheader("Columns, charts and preview")
    # An image set's table is its file list: its classes chart is under Images, and its
    # columns (path, label, size) have no roles to give.
    tab_names = ["Images", "Columns", "Preview"] if images else ["Columns", "Charts", "Roles",
                                                                 "Preview"]
    if profile.audio:  # a sound set's table is its file list, like an image set's
        tab_names = ["Recordings", "Columns", "Preview"]
    if texts and not images and not profile.audio:
        tab_names.insert(0, "Text")
    if profile.mixed is not None:  # a table whose rows point at images
        tab_names.insert(0, "Images")
    if any(c.drift is not None for c in profile.columns):
        tab_names.append("Train vs test")
    tabs = dict(zip(tab_names, st.tabs(tab_names), strict=True))

    if images:
        with tabs["Images"]:
            st.caption(f"{count(images.n_images, 'image')} in "
                       f"{count(images.n_classes, 'class', 'classes')}; width "
                       f"{images.width.get('min', 0):.0f}–{images.width.get('max', 0):.0f} px, "
                       f"height {images.height.get('min', 0):.0f}–"
                       f"{images.height.get('max', 0):.0f} px"
                       + (f"; {count(images.n_test_images, 'test image')}"
                          if images.n_test_images
                          else "") + ".")
            if fig := charts.image_classes(profile):
                st.plotly_chart(fig, key="data_chart_images")
            for label, paths in examples(ws.home.dataset_dir(dataset["id"])).items():
                st.markdown(f"**{literal(label)}**")
                # Captions are Markdown too, and file names are the person's.
                st.image([str(p) for p in paths], width=96,
                         caption=[literal(p.name) for p in paths])

    if profile.mixed is not None:
        with tabs["Images"]:
            from modelyard.app.mixed_view import images_tab

            images_tab(ws, dataset["id"], profile.mixed)

    if "Recordings" in tabs:
        with tabs["Recordings"]:
            from modelyard.app.audio_view import sound_tab

            sound_tab(ws, dataset["id"], profile.audio)

    if "Text" in tabs:
        with tabs["Text"]:
            column = st.selectbox("Text column", texts, key="data_text_column") \
                if len(texts) > 1 else texts[0]
            length = profile.column(column).text_length
            if length:
                st.markdown(f"**“{literal(column)}”** is free text: {length['min']:,.0f} to "
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
                by = f"per class of “{literal(target)}”" if look.target else "over all rows"
                st.caption(f"Length {by}"
                           + (f" (the first {look.rows_read:,} rows)"
                              if look.rows_read < profile.n_rows else "") + ".")
                st.dataframe(pd.DataFrame(look.lengths), hide_index=True,
                             key="data_text_lengths")
                st.markdown("**Examples of each class**" if look.target else "**Examples**")
                # st.table renders its cells as Markdown: the texts are the person's.
                st.table(pd.DataFrame([{"class": literal(label), "text": literal(text)}
                                       for label, found in look.samples.items()
                                       for text in found]).set_index("class"))
            elif look is not None:
                st.info(f"“{literal(column)}” holds no text in the rows read.")

    with tabs["Columns"]:
        _columns_table(profile)

    if "Charts" in tabs:  # tables only: an image or sound set has its own tab
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
                                key="data_role_value",
                                format_func=lambda v: v if v == none_label
                                else f"{v}: {ROLE_WORDS[ColumnRole(v)]}")
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
                st.warning(f"{count(profile.train_test_overlap, 'test row')} also "
                           f"{'appears' if profile.train_test_overlap == 1 else 'appear'} in "
                           "training.")
            if fig := charts.drift_bars(profile):
                st.plotly_chart(fig, key="data_chart_drift")


def _profile_section() -> None:
    """The data set shown: its summary, target, warnings and tables."""
    st.divider()
    if not ws.datasets():
        st.info("No data yet: upload a file, open one on this computer, or use a sample "
                "(the tabs above).", icon=":material/info:")
        return
    dataset = pick_dataset(ws, key="data_pick")
    try:
        profile = ws.dataset(dataset["id"]).profile
    except Exception as exc:
        show_error(exc, "Could not read this data set's profile")
        return
    _summary(dataset, profile)
    _target_section(dataset, profile)
    _warnings_section(dataset, profile)
    _tabs_section(dataset, profile)
    st.page_link(nav.page("plan"), label="Next: review the training plan")


upload_tab, path_tab, sample_tab = tabs_row
with upload_tab:
    _upload_tab()
with path_tab:
    _path_tab()
with sample_tab:
    _sample_tab()
with notices:
    _notices()
with below.container():
    _profile_section()
