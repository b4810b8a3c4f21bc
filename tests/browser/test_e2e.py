"""End to end in a real browser: upload a CSV, propose and approve a plan, train, compare.

Streamlit draws asynchronously, so every step waits for text or an element, never sleeps.
Screenshots of each step land in test-artifacts/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def write_customers(path: Path, n: int = 300, seed: int = 7) -> Path:
    """A binary table: numbers, a categorical with gaps, a few missing numbers, `target`."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n).astype(float)
    tenure[rng.random(n) < 0.05] = np.nan
    charges = rng.normal(70, 20, size=n).round(2)
    plan = rng.choice(["monthly", "yearly", "two-year"], size=n).astype(object)
    plan[rng.random(n) < 0.15] = None
    region = rng.choice(["north", "south", "east", "west"], size=n)
    logit = 1.0 - 0.05 * np.nan_to_num(tenure, nan=30) + 0.02 * (charges - 70) \
        + np.where(plan == "monthly", 1.2, 0.0)
    target = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    pd.DataFrame({"tenure": tenure, "charges": charges, "plan": plan, "region": region,
                  "target": target}).to_csv(path, index=False)
    return path


def nav_to(page, title: str) -> None:
    """Follow the sidebar link to a page (keeps the session, like a person would). A
    click that lands while the page is being redrawn can be lost (the CI run of session
    10 and the image test here under load): the person clicks again, and so does this."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title)
    heading = page.get_by_role("heading", name=re.compile(title)).first
    for _ in range(2):
        link.click()
        try:
            heading.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            pass
    link.click()
    heading.wait_for()


def hold_still(locator, *, settled: int = 5, timeout: float = 10.0) -> None:
    """Wait until `locator` stops moving: its box the same over `settled` looks 0.1 s
    apart. A page still laying itself out (an expander opening, content above it drawn)
    moves it, and a select box whose anchor moves closes the list it just opened."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while same < settled and time.monotonic() < deadline:
        box = locator.bounding_box()
        same = same + 1 if box == last else 0
        last = box
        time.sleep(0.1)


def choose(page, label: str | re.Pattern, option: str) -> None:
    """Pick `option` in the select box labelled `label`, as a person would: scroll the box
    to the middle of the window (at the bottom edge a click does not open its list), wait
    until the page stops moving it, open it and click the option. A list closed before
    the click is opened again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_role("combobox", name=label)
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(4):
        box.evaluate("e => e.scrollIntoView({block: 'center'})")
        hold_still(box)
        box.click()
        try:
            wanted.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"the list of {label!r} closed before {option!r} could be "
                         "clicked, 4 times")


def alert(page, text: str):
    return page.locator('[data-testid="stAlert"]').filter(has_text=text)


def metric_value(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]',
                         has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    ).locator('[data-testid="stMetricValue"]')


def propose_with_budget(page, budget: int) -> None:
    """On the Plan page: set the time budget, propose, and wait until the plan shown is
    the one with that budget."""
    page.get_by_role("button", name="Propose a plan").wait_for()
    field = page.get_by_label("Time budget (seconds)", exact=True)
    field.fill(str(budget))
    field.press("Enter")
    page.get_by_role("button", name="Propose a plan").click()
    page.get_by_role("heading", name="The plan in plain words").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
        f".some(e => e.innerText.trim() === '{budget} s')")


def wait_run_succeeded(page, timeout_ms: int = 180_000) -> None:
    """On the Runs page: wait until the run has ended and its page has settled (no
    Cancel button left), then require that it succeeded."""
    page.get_by_role("heading", name=re.compile("Runs")).first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
        ".some(e => /succeeded|failed|cancelled/.test(e.innerText))", timeout=timeout_ms)
    page.get_by_role("button", name="Cancel this run").wait_for(state="detached",
                                                                timeout=15_000)
    status = metric_value(page, "Status").inner_text()
    assert "succeeded" in status, f"{status}: {page.inner_text('body')[:2000]}"


@pytest.mark.timeout(300)
def test_upload_plan_train_leaderboard(browser_page, app_url, artifacts, tmp_path):
    page = browser_page
    csv = write_customers(tmp_path / "customers.csv")
    shot = lambda name: page.screenshot(path=str(artifacts / f"e2e_{name}.png"),  # noqa: E731
                                        full_page=True)
    started = time.monotonic()
    try:
        # -- Data: upload, add, profile ---------------------------------------------------
        page.goto(f"{app_url}/data")
        page.get_by_role("heading", name=re.compile("Data")).first.wait_for()
        page.get_by_text("No data yet").wait_for()
        page.set_input_files('input[type="file"]', str(csv))  # taken in at once
        alert(page, "300 rows × 5 columns").wait_for()
        page.get_by_role("heading", name="Columns").wait_for()
        assert metric_value(page, "Rows").inner_text() == "300"
        assert metric_value(page, "Columns").inner_text() == "5"
        shot("1_data")

        # -- Plan: propose with a 10 s budget, approve, launch ----------------------------
        nav_to(page, "Plan")
        page.get_by_role("button", name="Propose a plan").wait_for()
        budget = page.get_by_label("Time budget (seconds)", exact=True)
        budget.fill("10")
        budget.press("Enter")
        page.get_by_role("button", name="Propose a plan").click()
        page.get_by_role("heading", name="The plan in plain words").wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
            ".some(e => e.innerText.trim() === '10 s')")
        assert metric_value(page, "Target").inner_text() == "target"
        assert metric_value(page, "Budget").inner_text() == "10 s"
        shot("2_plan_proposed")

        page.get_by_role("button", name="Approve and launch").click()  # one click

        # -- Runs: watch it finish --------------------------------------------------------
        page.get_by_role("heading", name=re.compile("Runs")).first.wait_for()
        metric_value(page, "Status").wait_for()
        shot("4_run_started")
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')]"
            ".some(e => /succeeded|failed|cancelled/.test(e.innerText))",
            timeout=90_000)
        status = metric_value(page, "Status").inner_text()
        # The finished run's page settles: no Cancel button left over from the live view.
        page.get_by_role("button", name="Cancel this run").wait_for(state="detached",
                                                                    timeout=15_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length === 1",
            timeout=15_000)
        shot("5_run_finished")
        assert "succeeded" in status, f"{status}: {page.inner_text('body')[:2000]}"
        best_model = metric_value(page, "Best model").inner_text()
        # A single trial (family_number) or the blend of several.
        assert re.fullmatch(r"[a-z_]+_\d+|ensemble", best_model), best_model

        # -- Leaderboard: the run's models, ranked ----------------------------------------
        nav_to(page, "Leaderboard")
        page.get_by_role("heading", name="Best model of each run").wait_for()
        # Grid cells are drawn on a canvas; its accessible <table> twin holds the text.
        cells = page.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
        cells.filter(has_text=re.compile(r"^\s*[a-z_]+_\d+\s*$")).first.wait_for(
            state="attached")
        assert cells.filter(has_text=best_model).count() >= 1
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
        shot("leaderboard")
    except Exception:
        shot("failure")
        (artifacts / "e2e_failure.html").write_text(page.content())
        raise
    finally:
        print(f"browser test took {time.monotonic() - started:.1f} s")
