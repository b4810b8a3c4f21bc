"""End to end in a real browser, for text to text: upload pairs spelled out by num2words
(bench/text_pairs.py: dates, years, amounts, ordinals, numbers, plain words), approve the
text plan with a short budget, watch the run finish, find its models on the leaderboard,
read the held-out outputs (wrong next to right) on the Model page, see why there is no
report or export yet, then write the outputs of a CSV of new inputs on Predict and
download them.

Screenshots of each step land in test-artifacts/ (e2e_text_to_text_*.png).
"""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from tests.browser.test_e2e import (
    alert,
    metric_value,
    nav_to,
    propose_with_budget,
    wait_run_succeeded,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("num2words")
pytest.importorskip("torch")
BUDGET = 20  # the baselines take a second; the transformer gets what is left
EXCEPTION = '[data-testid="stException"]'


def no_exception(page) -> None:
    """A page that raised shows Streamlit's exception box; none may be there."""
    boxes = page.locator(EXCEPTION)
    assert boxes.count() == 0, boxes.first.inner_text()


@pytest.mark.timeout(300)
def test_text_pairs_from_upload_to_downloaded_outputs(browser_page, app_url, artifacts,
                                                      tmp_path):
    from bench.text_pairs import split

    page = browser_page
    train, test = split(300, 12, seed=5)
    train.to_csv(tmp_path / "pairs.csv", index=False)
    test[["written"]].to_csv(tmp_path / "new.csv", index=False)
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"e2e_text_to_text_{name}.png"), full_page=True)
    started = time.monotonic()
    try:
        # -- Data: the pairs are read as text to text -------------------------------------
        page.goto(f"{app_url}/data")
        page.get_by_text("No data yet").wait_for()
        page.set_input_files('input[type="file"]', str(tmp_path / "pairs.csv"))
        alert(page, "300 rows × 2 columns").wait_for(timeout=60_000)
        assert metric_value(page, "Kind of data").inner_text() == "Text pairs"
        page.get_by_text("a text written from another text").first.wait_for()
        shot("1_data")

        # -- Plan: the text rules' plan, approved and launched ----------------------------
        nav_to(page, "Plan")
        page.get_by_role("button", name="Propose a plan").wait_for()
        page.get_by_text("Text-to-text plans come from the text rules").wait_for()
        propose_with_budget(page, BUDGET)
        assert metric_value(page, "Target").inner_text() == "spoken"
        assert metric_value(page, "Kind of problem").inner_text() == "Text to text"
        page.get_by_text("Written from:").wait_for()
        shot("2_plan")
        page.get_by_role("button", name="Approve and launch").click()

        # -- Runs: it ends, and the page draws without an error ---------------------------
        wait_run_succeeded(page)
        alert(page, "on held-out inputs").wait_for()
        best = metric_value(page, "Best model").inner_text()
        assert best in ("copy_input", "frequent_output", "char_transformer"), best
        no_exception(page)  # the transformer's epochs carry a score and no losses
        shot("3_run_finished")

        # -- Leaderboard: the run's models ------------------------------------------------
        nav_to(page, "Leaderboard")
        page.get_by_role("heading", name="Best model of each run").wait_for()
        cells = page.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
        cells.filter(has_text=re.compile(rf"^\s*{best}\s*$")).first.wait_for(state="attached")
        no_exception(page)

        # -- Model: the held-out outputs, wrong ones next to right ones -------------------
        nav_to(page, "Model")
        page.get_by_text("On inputs it never saw in training").wait_for(timeout=60_000)
        held = int(metric_value(page, "Pairs held out").inner_text().replace(",", ""))
        wrong = page.get_by_role("heading", name=re.compile(r"^Wrong outputs \(\d+\)$"))
        right = page.get_by_role("heading", name=re.compile(r"^Right outputs \(\d+\)$"))
        counts = [int(re.search(r"\((\d+)\)", h.inner_text()).group(1))
                  for h in (wrong, right)]
        assert sum(counts) == held and held >= 50, (counts, held)
        headers = page.locator('[data-testid="stDataFrame"] [role="columnheader"]')
        headers.first.wait_for(state="attached")
        said = {h.inner_text().strip() for h in headers.all()}
        assert {"Input", "Right output", "Model's output"} <= said, said
        shot("4_model")
        page.get_by_role("tab", name="Report", exact=True).click()
        alert(page, "A written report is not made for text-to-text models yet").wait_for()
        page.get_by_role("tab", name="Export", exact=True).click()
        note = alert(page, "Exporting a text-to-text model")
        note.wait_for()
        assert "modelyard predict" in note.inner_text()
        no_exception(page)
        shot("5_model_export")

        # -- Predict: a CSV of inputs in, their outputs out -------------------------------
        nav_to(page, "Predict")
        page.get_by_text("Predicts spoken from").wait_for(timeout=60_000)
        page.locator('input[type="file"]').first.set_input_files(str(tmp_path / "new.csv"))
        rows = len(test)
        alert(page, f"new.csv: {rows} rows; every column the model uses is there").wait_for()
        page.get_by_role("button", name=f"Predict {rows} rows", exact=True).click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for(timeout=120_000)
        alert(page, "Predictions saved to").wait_for()
        shot("6_predicted")
        with page.expect_download() as info:
            button.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert re.fullmatch(r"new-predictions-\d{8}-\d{6}\.csv", saved.name)
        got = pd.read_csv(saved, keep_default_na=False)
        assert list(got.columns) == ["written", "spoken"]
        assert got["written"].tolist() == test["written"].tolist()
        assert got["spoken"].map(lambda v: isinstance(v, str)).all()
    except Exception:
        shot("failure")
        (artifacts / "e2e_text_to_text_failure.html").write_text(page.content())
        raise
    finally:
        print(f"text-to-text browser test took {time.monotonic() - started:.1f} s")
