"""In a real browser: open the Predict page of a finished Run, upload a file, predict,
and download the predictions. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from tests.browser.test_e2e import alert
from tests.results_run import same_predictions, shared_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def seeded_home(e2e_home, tmp_path_factory, child_env):
    """The e2e home holds a copy of the shared trained Run before the app starts."""
    trained = shared_run(tmp_path_factory, child_env)
    shutil.copytree(trained.home, e2e_home, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("modelyard.duckdb*", "*.lock", ".*.lock"))
    return trained


@pytest.mark.timeout(300)
def test_predict_a_file_and_download_it(seeded_home, app_url, browser_page, artifacts,
                                        tmp_path):
    page, trained = browser_page, seeded_home
    shot = lambda name: page.screenshot(path=str(artifacts / f"e2e_predict_{name}.png"),  # noqa: E731
                                        full_page=True)
    try:
        page.goto(f"{app_url}/predict")
        page.get_by_role("heading", name=re.compile("Predict")).first.wait_for()
        page.get_by_text("Predicts").first.wait_for()
        page.locator('input[type="file"]').first.set_input_files(str(trained.test))
        alert(page, "every column the model uses is there").wait_for()
        shot("1_checked")
        page.get_by_role("button", name="Predict 38 rows").click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for()
        alert(page, "Predictions saved to").wait_for()
        with page.expect_download() as info:
            button.click()
        download = info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        shot("2_downloaded")
        assert re.fullmatch(r"test-predictions-\d{8}-\d{6}\.csv", download.suggested_filename)
        got = pd.read_csv(saved)
        assert len(got) == 38
        assert same_predictions(got, pd.read_csv(trained.out / "predictions.csv"))
    except Exception:
        shot("failure")
        (artifacts / "e2e_predict_failure.html").write_text(page.content())
        raise
