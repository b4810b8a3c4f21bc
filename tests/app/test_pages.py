"""Every page through Streamlit's AppTest: rendering, the main clicks, the error paths.

AppTest runs the real `app/main.py` (st.navigation included) in this process; each
`at.run()` is one rerun, and `run_every` fragments never fire on their own.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PAGES = "../pages"


def customers_csv(n: int = 200, seed: int = 0) -> bytes:
    """A small binary table with a categorical column that has gaps."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n)
    charges = rng.normal(70, 20, size=n).round(2)
    contract = rng.choice(["monthly", "yearly", "two-year"], size=n).astype(object)
    contract[rng.random(n) < 0.15] = None
    logit = 1.5 - 0.06 * tenure + np.where(contract == "monthly", 1, 0)
    target = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame({"tenure": tenure, "charges": charges, "contract": contract,
                          "target": target})
    return frame.to_csv(index=False).encode()


def shown(body: str) -> str:
    """What Markdown shows of `body`: the backslash escapes that keep data literal
    (app/literal.py) undone, and the invisible joiners that break bare links dropped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", body).replace("\u2060", "")


def texts(elements) -> str:
    """The elements' bodies as a person reads them (our own Markdown, such as **bold**,
    stays as written)."""
    return "\n".join(shown(str(e.value)) for e in elements)


def metric(at, label: str) -> str:
    found = [shown(m.value) for m in at.metric if shown(m.label) == label]
    assert found, f"no metric {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def table_with(at, *columns: str) -> pd.DataFrame:
    """The first st.dataframe holding all `columns` (read-only tables carry no key here)."""
    for frame in at.dataframe:
        value = frame.value
        if all(c in value.columns for c in columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def add_dataset(at, folder: Path) -> None:
    """Add a data set through the Data page's path tab (no upload needed)."""
    path = folder / "customers.csv"
    path.write_bytes(customers_csv())
    at.switch_page(f"{PAGES}/data.py").run()
    at.text_input(key="data_path").input(str(path)).run()  # enables Open
    at.button(key="data_open").click().run()
    assert not at.exception
    assert not at.error, texts(at.error)
    assert "Added **customers**" in texts(at.success)


def open_plan_page_with_proposal(at, folder: Path) -> None:
    add_dataset(at, folder)
    at.switch_page(f"{PAGES}/plan.py").run()
    assert not at.exception
    at.selectbox(key="plan_target").select("target")
    at.number_input(key="plan_budget").set_value(10)
    at.button(key="plan_propose").click().run()
    assert not at.exception
    assert not at.error, texts(at.error)
    assert metric(at, "Target") == "target"
    assert metric(at, "Budget") == "10 s"


def wait_for_run(home: Path, timeout: float = 60.0) -> dict:
    """Poll the only run folder's run.json until its status is terminal."""
    deadline = time.monotonic() + timeout
    record: dict = {}
    while time.monotonic() < deadline:
        found = list(home.glob("runs/*/run.json"))
        if found:
            try:
                record = json.loads(found[0].read_text())
            except ValueError:  # caught mid-write
                record = {}
            if record.get("status") in ("succeeded", "failed", "cancelled"):
                return record
        time.sleep(0.5)
    raise AssertionError(f"the run did not finish within {timeout} s: {record}")


# -- Home -------------------------------------------------------------------------------


def test_home_renders(app):
    assert not app.exception
    assert app.title[0].value.endswith("Modelyard")
    assert app.button(key="home_train").label == "Train a model on this sample"
    assert app.select_slider(key="home_budget").value == 30


@pytest.mark.slow
def test_home_trains_a_sample_and_shows_the_finished_run(app, app_home):
    app.select_slider(key="home_budget").set_value(15)
    app.button(key="home_train").click().run()
    assert not app.exception
    assert not app.error, texts(app.error)
    assert app.title[0].value.endswith("Runs")  # st.switch_page landed on Runs
    assert app.session_state["run_id"].startswith("run_")

    record = wait_for_run(app_home)
    assert record["status"] == "succeeded", record
    assert record["budget_seconds"] == 15

    app.run()
    assert not app.exception
    assert "succeeded" in metric(app, "Status")
    assert metric(app, "Best model") not in ("", "—")
    assert metric(app, "Best score") != "—"
    assert table_with(app, "model", "state")["state"].eq("complete").any()

    app.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not app.exception
    best = table_with(app, "run_name", "cv_score")
    assert len(best) == 1
    assert best["run_name"].iloc[0] == "Breast cancer diagnosis demo"


# -- Data -------------------------------------------------------------------------------


def test_data_page_empty(app):
    app.switch_page(f"{PAGES}/data.py").run()
    assert not app.exception
    assert [t.label for t in app.tabs] == ["Upload a file", "Open a file on this computer",
                                           "Sample data"]
    assert "No data yet" in texts(app.info)


def test_data_upload_shows_profile(app, app_home):
    app.switch_page(f"{PAGES}/data.py").run()
    app.file_uploader(key="data_upload").upload("customers.csv", customers_csv(), "text/csv")
    app.run()  # choosing the file is enough: it is taken in at once
    assert not app.exception
    assert not app.error, texts(app.error)
    assert "Added **customers**: 200 rows × 4 columns" in texts(app.success)
    assert metric(app, "Rows") == "200"
    assert metric(app, "Columns") == "4"
    columns = table_with(app, "column", "missing")
    assert list(columns["column"]) == ["tenure", "charges", "contract", "target"]
    assert columns.set_index("column").loc["contract", "missing"] != "0%"
    assert "`target`" in texts(app.markdown)  # the likely target is named
    assert len(table_with(app, "tenure", "contract")) == 100
    assert (app_home / "uploads" / "customers.csv").exists()


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.csv", b"", "empty"),
        ("header_only.csv", b"a,b,c\n", "no rows"),
        ("junk.parquet", b"\x00\x01 this is not parquet \xff" * 20, "junk.parquet"),
    ],
)
def test_data_upload_of_a_bad_file_says_why(app, name, content, says):
    app.switch_page(f"{PAGES}/data.py").run()
    app.file_uploader(key="data_upload").upload(name, content, "application/octet-stream")
    app.run()  # choosing the file is enough: it is taken in at once
    assert not app.exception
    assert app.error, "no error shown"
    assert says in texts(app.error)
    assert not app.success
    assert "No data yet" in texts(app.info)


def test_data_path_that_does_not_exist(app, tmp_path):
    app.switch_page(f"{PAGES}/data.py").run()
    assert app.button(key="data_open").disabled  # nothing typed yet
    missing = tmp_path / "nowhere" / "missing.csv"
    app.text_input(key="data_path").input(str(missing)).run()
    app.button(key="data_open").click().run()
    assert not app.exception
    assert "no such file" in texts(app.error)
    assert not app.success


def test_data_sample_button(app):
    app.switch_page(f"{PAGES}/data.py").run()
    app.button(key="data_sample_wine").click().run()
    assert not app.exception
    assert "Wine cultivar" in texts(app.success)
    assert metric(app, "Rows") == "178"


# -- Plan -------------------------------------------------------------------------------


def test_plan_page_without_data(app):
    app.switch_page(f"{PAGES}/plan.py").run()
    assert not app.exception
    assert "No data yet" in texts(app.info)


def test_plan_propose_approve_and_launch(app, app_home, tmp_path):
    open_plan_page_with_proposal(app, tmp_path)
    assert app.button(key="plan_approve").label == "Approve and launch"
    assert not [b for b in app.button if b.key == "plan_launch"]  # not approved yet

    # One click: the proposed plan is approved as version 2 and its run starts.
    app.button(key="plan_approve").click().run()
    assert not app.exception
    assert not app.error, texts(app.error)
    assert app.title[0].value.endswith("Runs")
    assert len(list(app_home.glob("runs/*/run.json"))) == 1
    assert app.session_state["plan_id"]

    # Back on the Plan page the approved version is shown; launching it again is one click.
    app.switch_page(f"{PAGES}/plan.py").run()
    assert app.selectbox(key="plan_version").value == app.session_state["plan_id"]
    assert app.button(key="plan_launch").label == "Launch"
    app.button(key="plan_launch").click().run()
    assert not app.exception
    assert not app.error, texts(app.error)
    assert app.title[0].value.endswith("Runs")
    assert len(list(app_home.glob("runs/*/run.json"))) == 2


def test_plan_json_invalid_is_refused(app, tmp_path):
    open_plan_page_with_proposal(app, tmp_path)
    versions_before = len(app.selectbox(key="plan_version").options)
    plan = json.loads(app.text_area[0].value)  # the proposed plan, as the JSON tab shows it
    assert plan["target"] == "target"

    app.text_area[0].input("{this is not json").run()
    assert app.button(key="plan_approve_json").disabled
    assert not app.exception
    assert app.error, "invalid JSON was accepted"
    assert "Approved as version" not in texts(app.success)

    plan["metric"] = "definitely_not_a_metric"
    app.text_area[0].input(json.dumps(plan)).run()
    assert app.button(key="plan_approve_json").disabled
    assert not app.exception
    assert any(shown(e.value).startswith("metric:") for e in app.error), texts(app.error)
    assert "Approved as version" not in texts(app.success)

    plan["metric"] = "rmse"  # a real metric, but not one for a binary task
    app.text_area[0].input(json.dumps(plan)).run()
    assert app.button(key="plan_approve_json").disabled
    assert not app.exception
    assert app.error, "a regression metric was accepted for a binary task"
    assert "Approved as version" not in texts(app.success)

    assert len(app.selectbox(key="plan_version").options) == versions_before
    assert not [b for b in app.button if b.key == "plan_launch"]


# -- Runs and Leaderboard ---------------------------------------------------------------


def test_runs_page_empty(app):
    app.switch_page(f"{PAGES}/runs.py").run()
    assert not app.exception
    assert not app.error
    assert "No runs yet" in texts(app.info)


def test_leaderboard_page_empty(app):
    app.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not app.exception
    assert not app.error
    assert "No finished trials yet" in texts(app.info)


def test_leaderboard_with_data_but_no_runs(app, tmp_path):
    add_dataset(app, tmp_path)
    app.switch_page(f"{PAGES}/leaderboard.py").run()
    assert not app.exception
    # A leaderboard ranks one data set's models: none is offered before one has any,
    # and never "All data sets" in one ranking.
    assert not [s for s in app.selectbox if s.key == "leaderboard_dataset"]
    assert "No finished trials yet" in texts(app.info)
