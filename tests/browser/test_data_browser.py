"""The Data page in a real browser: open a competition folder by path, read the profile
(charts, warnings), fix a leaking column in one click, then an image folder's grid.

Every step waits for text or an element, never sleeps. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from tests.browser.test_e2e import alert, metric_value
from tests.engine.test_images import class_folders

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def competition(root, n=240):
    """train/test/sample_submission with a column that gives the answer away."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(3)
    y = rng.choice([0, 1], size=n)
    train = pd.DataFrame({"row_ref": rng.permutation(n) * 11 + 7,
                          "age": rng.integers(18, 80, size=n),
                          "plan": rng.choice(["a", "b", "c"], size=n),
                          "refund_code": np.where(y == 1, "R", "N"),
                          "Exited": y})
    train.to_csv(root / "train.csv", index=False)
    test = train.drop(columns="Exited").head(60)
    test.to_csv(root / "test.csv", index=False)
    pd.DataFrame({"row_ref": test["row_ref"], "Exited": 0}).to_csv(
        root / "sample_submission.csv", index=False)
    return root


@pytest.mark.timeout(240)
def test_data_page_profile_fix_and_image_grid(browser_page, app_url, artifacts, tmp_path):
    page = browser_page
    shot = lambda name: page.screenshot(path=str(artifacts / f"data_{name}.png"),  # noqa: E731
                                        full_page=True)
    root = competition(tmp_path / "bank")
    try:
        page.goto(f"{app_url}/data")
        page.get_by_text("No data yet").wait_for()
        page.get_by_role("tab", name="Open a file on this computer").click()
        page.get_by_label("Path to a file, a folder or a zip").fill(str(root))
        page.get_by_label("Path to a file, a folder or a zip").press("Enter")
        page.get_by_test_id("stBaseButton-secondary").filter(has_text=re.compile(r"^Open$")).click()
        alert(page, "Added bank").wait_for()
        assert metric_value(page, "Rows").inner_text() == "240"
        assert metric_value(page, "Test file").inner_text() == "yes (60 rows)"
        page.get_by_text(re.compile(r"Target:|Likely target:")).first.wait_for()
        assert "Exited" in page.get_by_text(re.compile("sample submission asks")).first \
            .inner_text()
        leak = alert(page, "refund_code")
        leak.first.wait_for()
        page.get_by_role("tab", name="Charts").click()
        page.locator('[data-testid="stPlotlyChart"]').nth(2).wait_for()
        shot("1_profile")

        page.get_by_role("button", name="Ignore this column").first.click()
        leak.first.wait_for(state="detached")
        shot("2_fixed")

        images = class_folders(tmp_path / "pets", {"cat": 4, "dog": 4})
        page.get_by_role("tab", name="Open a file on this computer").click()
        box = page.get_by_label("Path to a file, a folder or a zip")
        box.fill(str(images))
        box.press("Enter")
        page.get_by_test_id("stBaseButton-secondary").filter(has_text=re.compile(r"^Open$")).click()
        alert(page, "Added pets").wait_for()
        assert metric_value(page, "Kind of data").inner_text() == "Images"
        page.get_by_role("tab", name="Images").click()
        grid = page.locator('[data-testid="stImage"] img')
        grid.nth(7).wait_for()
        assert grid.count() == 8
        shot("3_images")
    except Exception:
        shot("failure")
        (artifacts / "data_failure.html").write_text(page.content())
        raise
