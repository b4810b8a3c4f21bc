"""End to end in a real browser, for images: upload a zip of class folders, approve the
image plan with a short budget, watch the run finish, find the network on the
leaderboard, then upload a zip of new images on Predict and download predictions.csv.

Screenshots of each step land in test-artifacts/ (e2e_image_*.png).
"""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from tests.app.test_image_pages import write_colour_images, zip_folder
from tests.browser.test_e2e import alert, metric_value, nav_to, propose_with_budget

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BUDGET = 30  # an epoch must fit after torch loads, which takes 15 s on a busy 2-core runner


@pytest.mark.timeout(300)
def test_images_from_zip_to_predictions(browser_page, app_url, artifacts, tmp_path):
    page = browser_page
    train = zip_folder(write_colour_images(tmp_path / "colours", 20), tmp_path / "colours.zip")
    new_images = write_colour_images(tmp_path / "new", 4, seed=1, nested=False)
    new_zip = zip_folder(new_images, tmp_path / "new.zip", top="new")
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"e2e_image_{name}.png"), full_page=True)
    started = time.monotonic()
    try:
        # -- Data: upload the zip, see the images per class -------------------------------
        page.goto(f"{app_url}/data")
        page.get_by_text("No data yet").wait_for()
        page.set_input_files('input[type="file"]', str(train))  # taken in at once
        alert(page, "Added colours: 60 images.").wait_for()
        assert metric_value(page, "Images").inner_text() == "60"
        assert metric_value(page, "Classes").inner_text() == "3"
        assert metric_value(page, "Kind of data").inner_text() == "Images"
        page.get_by_role("tab", name="Images").wait_for()
        page.locator('[data-testid="stImage"]').first.wait_for()
        shot("1_data")

        # -- Plan: the image plan with a short budget, approved and launched --------------
        nav_to(page, "Plan")
        page.get_by_role("button", name="Propose a plan").wait_for()
        propose_with_budget(page, BUDGET)
        assert metric_value(page, "Target").inner_text() == "label"
        assert metric_value(page, "Metric").inner_text() == "Accuracy"
        page.get_by_role("button", name="Approve and launch").click()

        # -- Runs: epochs, then the end --------------------------------------------------
        page.get_by_role("heading", name=re.compile("Runs")).first.wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
            ".some(e => /succeeded|failed|cancelled/.test(e.innerText))", timeout=120_000)
        status = metric_value(page, "Status").inner_text()
        assert "succeeded" in status, f"{status}: {page.inner_text('body')[:2000]}"
        page.get_by_role("button", name="Cancel this run").wait_for(state="detached",
                                                                    timeout=15_000)
        page.get_by_text("Validation accuracy by epoch").first.wait_for()
        assert re.fullmatch(r"resnet18_\d+", metric_value(page, "Best model").inner_text())
        shot("2_run_finished")

        # -- Leaderboard: the network is there --------------------------------------------
        nav_to(page, "Leaderboard")
        page.get_by_role("heading", name="Best model of each run").wait_for()
        cells = page.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
        cells.filter(has_text=re.compile(r"^\s*resnet18_\d+\s*$")).first.wait_for(
            state="attached")

        # -- Predict: a zip of new images in, predictions.csv out -------------------------
        nav_to(page, "Predict")
        page.get_by_text("An image model predicting").wait_for()
        page.locator('input[type="file"]').first.set_input_files(str(new_zip))
        page.get_by_text("new.zip").wait_for()
        page.get_by_role("button", name="Predict these images").click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for(timeout=60_000)
        alert(page, "Predictions saved to").wait_for()
        page.get_by_text("12 images predicted in").wait_for()
        headers = page.locator('[data-testid="stDataFrame"] [role="columnheader"]')
        headers.first.wait_for(state="attached")
        assert headers.first.inner_text().strip() == "path"
        shot("3_predicted")
        with page.expect_download() as info:
            button.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert re.fullmatch(r"new-predictions-\d{8}-\d{6}\.csv", saved.name)
        got = pd.read_csv(saved)
        assert list(got.columns) == ["path", "label", "proba_blue", "proba_green",
                                     "proba_red"]
        assert got["path"].tolist() == sorted(p.name for p in new_images.iterdir())
        right = (got["label"] == got["path"].str.split("_").str[0]).mean()
        assert right >= 0.75, got
    except Exception:
        shot("failure")
        (artifacts / "e2e_image_failure.html").write_text(page.content())
        raise
    finally:
        print(f"image browser test took {time.monotonic() - started:.1f} s")
