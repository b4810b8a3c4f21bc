"""The Data page in depth through AppTest: formats and folders, the profile's charts and
warnings, one-click fixes, target and role overrides, and the "already have this" offer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.app.test_pages import PAGES, customers_csv, metric, shown, table_with, texts
from tests.engine.test_competition import competition_folder
from tests.engine.test_images import class_folders


def open_path(at, path, **fields) -> None:
    at.switch_page(f"{PAGES}/data.py").run()
    at.text_input(key="data_path").input(str(path)).run()
    for key, value in fields.items():
        at.text_input(key=key).input(value).run()
    at.button(key="data_open").click().run()
    assert not at.exception, at.exception
    assert "Added **" in texts(at.success), texts(at.error)


def leaky_csv(path, n=300):
    rng = np.random.default_rng(1)
    y = rng.choice(["no", "yes"], size=n)
    pd.DataFrame({"visits": rng.integers(0, 20, size=n),
                  "refund_flag": np.where(y == "yes", "R", "N"),
                  "region": rng.choice(["n", "s"], size=n),
                  "target": y}).to_csv(path, index=False)
    return path


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def test_competition_folder_with_charts_and_drift(app, tmp_path):
    root, _, test = competition_folder(tmp_path / "comp")
    open_path(app, root)
    assert "Added **comp**" in texts(app.success)
    assert metric(app, "Test file") == f"yes ({len(test)} rows)"
    assert metric(app, "Kind of data") == "Table"
    assert "Competition folder: train train.csv, test test.csv, id column Ref" in \
        texts(app.caption)
    assert "`Outcome`" in texts(app.markdown)
    assert [t.label for t in app.tabs][-5:] == ["Columns", "Charts", "Roles", "Preview",
                                                "Train vs test"]
    # target classes, associations, one column, missingness or not, correlations, drift
    assert charts(app) >= 5
    columns = table_with(app, "column", "kind", "role", "with target")
    assert columns.set_index("column").loc["Ref", "role"] == "id"


def test_one_click_fix_ignores_a_leaking_column(app, app_home, tmp_path):
    open_path(app, leaky_csv(tmp_path / "leaky.csv"))
    assert "refund_flag" in texts(app.error)  # a copy of the target, said as an error
    fix = [b for b in app.button if b.key and b.key.startswith("data_fix_")
           and b.key.endswith("_refund_flag")]
    assert fix and fix[0].label == "Ignore this column"
    fix[0].click().run()
    assert not app.exception
    assert "refund_flag" not in texts(app.error)
    columns = table_with(app, "column", "role")
    assert columns.set_index("column").loc["refund_flag", "role"] == "ignore"
    meta = json.loads(next(app_home.glob("datasets/*/dataset.json")).read_text())
    assert meta["roles"] == {"refund_flag": "ignore"}


def test_the_next_two_likely_targets_are_one_click_away(app, app_home, tmp_path):
    open_path(app, leaky_csv(tmp_path / "t.csv"))
    assert "**Likely target:** `target`" in texts(app.markdown)
    offered = [b for b in app.button if b.key and b.key.startswith("data_other_target_")]
    # The first column, then a yes/no column: the next likeliest after "target".
    assert [shown(b.label) for b in offered] == ["Predict visits", "Predict refund_flag"]
    # Each comes with its reason, in words.
    assert "`refund_flag` — yes or no (two classes); it has two values." in \
        texts(app.markdown)
    offered[0].click().run()
    assert not app.exception and not app.error
    chosen = [m for m in texts(app.markdown).splitlines() if m.startswith("**Target:**")]
    assert chosen and chosen[0].startswith("**Target:** `visits` — ")
    assert chosen[0].endswith("; chosen by you.")
    meta = json.loads(next(app_home.glob("datasets/*/dataset.json")).read_text())
    assert meta["target"] == "visits"


def test_target_override_and_role_tab(app, tmp_path):
    open_path(app, leaky_csv(tmp_path / "t.csv"))
    app.selectbox(key="data_target").select("region").run()
    app.button(key="data_apply_target").click().run()
    assert not app.exception and not app.error
    assert "**Target:** `region` — yes or no (two classes); chosen by you." in \
        texts(app.markdown)
    app.selectbox(key="data_role_column").select("visits").run()
    app.selectbox(key="data_role_value").select("group").run()
    app.button(key="data_set_role").click().run()
    assert not app.exception
    roles = table_with(app, "column", "role", "means")
    assert roles.to_dict("records")[0]["role"] == "group"
    # Still chosen after a fresh run of the page (it lives in the folder, not the session).
    app.switch_page(f"{PAGES}/home.py").run()
    app.switch_page(f"{PAGES}/data.py").run()
    assert "**Target:** `region`" in texts(app.markdown)


def upload(app, name: str, content: bytes, mime: str = "text/csv") -> None:
    """Choose a file in the uploader, as a person does: nothing else to click."""
    app.file_uploader(key="data_upload").upload(name, content, mime)
    app.run()
    assert not app.exception


def test_choosing_a_file_adds_it_once(app, app_home):
    app.switch_page(f"{PAGES}/data.py").run()
    upload(app, "customers.csv", customers_csv())
    assert "Added **customers**: 200 rows × 4 columns" in texts(app.success)
    assert not [b for b in app.button if b.key == "data_add_upload"]  # no second step
    assert metric(app, "Rows") == "200"
    # Any later rerun (a click elsewhere) leaves the chosen file alone.
    app.run()
    app.selectbox(key="data_chart_column").select("charges").run()
    assert "You already have this data" not in texts(app.info)
    assert len(list(app_home.glob("datasets/*/dataset.json"))) == 1


def test_same_upload_twice_is_offered_back(app, app_home):
    app.switch_page(f"{PAGES}/data.py").run()
    upload(app, "customers.csv", customers_csv())
    assert "Added **customers**" in texts(app.success)
    upload(app, "customers.csv", customers_csv())  # chosen again
    assert "You already have this data as **customers**" in texts(app.info)
    app.button(key="data_use_existing").click().run()
    assert len(list(app_home.glob("datasets/*/dataset.json"))) == 1
    upload(app, "customers.csv", customers_csv())
    app.button(key="data_add_again").click().run()
    assert not app.exception
    assert len(list(app_home.glob("datasets/*/dataset.json"))) == 2


def test_excel_upload_asks_for_the_sheet(app, tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="Cover", index=False)
        pd.read_csv(__import__("io").BytesIO(customers_csv())).to_excel(
            writer, sheet_name="Data", index=False)
    app.switch_page(f"{PAGES}/data.py").run()
    upload(app, "book.xlsx", path.read_bytes(), "application/vnd.ms-excel")
    # Read at once from the sheet that holds the table, not the cover; the others offered.
    assert not app.exception and not app.error, texts(app.error)
    assert "Added **book**: 200 rows × 4 columns" in texts(app.success)
    assert "sheet “Data” of 2" in texts(app.caption)
    assert app.selectbox(key="data_sheet").options == ["Cover", "Data"]
    # Choosing the sheet already read adds nothing and asks nothing.
    app.selectbox(key="data_sheet").select("Data").run()
    assert not app.exception and not app.error, texts(app.error)
    assert "already have this data" not in texts(app.info)


def test_image_folder_shows_a_grid_per_class(app, tmp_path):
    root = class_folders(tmp_path / "pets", {"cat": 4, "dog": 3})
    open_path(app, root)
    assert "Added **pets**: 7 images." in texts(app.success)
    assert "  ·  7 images  ·  " in app.selectbox(key="data_pick").options[0]  # not "7 rows"
    assert metric(app, "Images") == "7"
    assert metric(app, "Classes") == "2"
    assert metric(app, "Kind of data") == "Images"
    assert app.tabs[3].label == "Images"
    assert "**cat**" in texts(app.markdown) and "**dog**" in texts(app.markdown)
    grids = app.image  # one row of thumbnails per class
    assert len(grids) == 2
    assert sorted(map(shown, grids[0].captions)) == [
        f"cat_{i}{'.png' if i % 2 else '.jpg'}" for i in range(4)]


def test_bad_path_inputs_say_why(app, tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b,c\n1,2,3\n4,5\n")
    app.switch_page(f"{PAGES}/data.py").run()
    app.text_input(key="data_path").input(str(tmp_path / "ragged.csv")).run()
    app.button(key="data_open").click().run()
    assert not app.exception
    assert "line 3 has 2" in texts(app.error)
    assert "No data yet" in texts(app.info)


def test_the_empty_data_page_points_at_its_own_tabs(app):
    app.switch_page(f"{PAGES}/data.py").run()
    said = texts(app.info)
    assert "No data yet: upload a file, open one on this computer, or use a sample" in said
    # Not "Go to Data" on the Data page itself.
    assert not [link for link in app.get("page_link") if "Go to Data" in str(link.proto)]


def test_the_columns_table_has_no_none_and_explains_the_target_measure(app, tmp_path):
    frame = pd.read_csv(__import__("io").BytesIO(customers_csv()))
    frame["charges"] = frame["charges"] * 123_457.891  # long numbers, read whole
    open_path(app, table_to(frame, tmp_path / "wide.csv"))
    columns = table_with(app, "column", "mean", "with target").set_index("column")
    assert not columns.isna().any().any()
    assert "None" not in columns.astype(str).to_numpy().ravel().tolist()
    assert columns.loc["contract", "mean"] == "—"  # a category has no mean
    assert columns.loc["target", "with target"] == "(the target)"
    assert len(columns.loc["charges", "mean"]) <= 12  # thousands separated, no long tail
    config = json.loads(next(f for f in app.dataframe if "with target" in f.value.columns)
                        .proto.columns)["with target"]
    assert config["label"] == "Tells about the target" and "Cramér's V" in config["help"]


def table_to(frame, path):
    frame.to_csv(path, index=False)
    return path


def test_a_date_column_says_what_plans_do_with_it(app, tmp_path):
    rng = np.random.default_rng(2)
    n = 120
    frame = pd.DataFrame({"signup_date": pd.date_range("2023-01-01", periods=n, freq="D")
                          .strftime("%Y-%m-%d"), "spend": rng.normal(size=n),
                          "churn": rng.choice(["yes", "no"], size=n)})
    open_path(app, table_to(frame.sample(frac=1.0, random_state=3), tmp_path / "c.csv"))
    said = texts(app.caption)
    assert "Time: “signup_date” holds dates, but the rows are not in date order, so they " \
           "are shuffled into folds." in said
    open_path(app, table_to(frame, tmp_path / "log.csv"))
    assert "Time: The rows are in time order by “signup_date”, so every score comes from " \
           "later rows" in texts(app.caption)


def test_a_samples_target_is_named_by_the_sample_not_by_you(app):
    app.switch_page(f"{PAGES}/data.py").run()
    app.button(key="data_sample_breast_cancer").click().run()
    assert not app.exception
    said = texts(app.markdown)
    assert "**Target:** `diagnosis` — yes or no (two classes); named by the sample data " \
           "set." in said
    assert "chosen by you" not in said
    assert "**Breast cancer diagnosis** (yes or no)" in said
    # Choosing it yourself makes it yours.
    app.selectbox(key="data_target").select("diagnosis").run()
    app.button(key="data_apply_target").click().run()
    assert "`diagnosis` — yes or no (two classes); chosen by you." in texts(app.markdown)
