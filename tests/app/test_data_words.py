"""The Data page's choice about cells such as “None” (engine/intake/missing_words.py): said
in plain words, a button that reads them as missing, and one that undoes it; and a workbook
whose first sheet is a cover page offers its table sheet first. Through AppTest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.app.test_pages import PAGES, customers_csv, table_with, texts


def _internet_csv(path, n=500):
    rng = np.random.default_rng(5)
    pd.DataFrame({"internet_service": np.where(np.arange(n) % 5 == 0, "None",
                                               rng.choice(["DSL", "Fiber optic"], size=n)),
                  "tenure": rng.integers(0, 70, size=n),
                  "churn": rng.choice(["yes", "no"], size=n)}).to_csv(path, index=False)
    return path


def _open(at, path) -> None:
    at.switch_page(f"{PAGES}/data.py").run()
    at.text_input(key="data_path").input(str(path)).run()
    at.button(key="data_open").click().run()
    assert not at.exception, at.exception


def _missing(at) -> str:
    return table_with(at, "column", "missing").set_index("column").loc["internet_service",
                                                                        "missing"]


def test_words_are_kept_and_can_be_treated_as_missing_and_back(app, app_home, tmp_path):
    _open(app, _internet_csv(tmp_path / "churn.csv"))
    assert ("“internet_service” has 100 cells reading “None”: kept as a category. If they "
            "mean “no value”, they can be treated as missing instead.") in texts(app.info)
    assert _missing(app) == "0%"
    app.button(key="data_words_missing").click().run()
    assert not app.exception and not app.error, texts(app.error)
    assert "Treated as missing, as you chose: “internet_service”: 100 cells reading “None”." \
        in texts(app.info)
    assert _missing(app) == "20%"
    meta = json.loads(next(app_home.glob("datasets/*/dataset.json")).read_text())
    assert meta["missing_words"] == {"internet_service": ["None"]}
    app.button(key="data_words_keep").click().run()
    assert not app.exception
    assert _missing(app) == "0%"
    assert "kept as a category" in texts(app.info)


def test_a_cover_page_is_not_the_sheet_offered_first(app, tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"Customer report": []}).to_excel(writer, sheet_name="Cover", index=False)
        pd.read_csv(__import__("io").BytesIO(customers_csv())).to_excel(
            writer, sheet_name="Data", index=False)
    app.switch_page(f"{PAGES}/data.py").run()
    app.file_uploader(key="data_upload").upload("book.xlsx", path.read_bytes(),
                                                "application/vnd.ms-excel")
    app.run()
    # Left at "the one that holds the table", the upload was read from "Data", not "Cover".
    assert app.selectbox(key="data_sheet").value is None
    assert app.selectbox(key="data_sheet").placeholder == "The one that holds the table"
    assert "Added **book**: 200 rows × 4 columns" in "\n".join(s.value for s in app.success)
    assert "sheet “Data” of 2" in "\n".join(c.value for c in app.caption)
