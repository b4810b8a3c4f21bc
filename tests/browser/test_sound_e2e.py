"""End to end in a real browser, for sound: upload a zip of spoken words (espeak-ng voices
with sox noise, tests/spoken.py), listen to each class and look at its wave and
spectrogram, approve the sound plan (worded for recordings) with a short budget, watch the
run finish, find its models on the leaderboard, play the clips it got wrong on the Model
page, then predict a zip of recordings by voices it never heard (and one broken file,
named and left out) and download predictions.csv.

Screenshots of each step land in test-artifacts/ (e2e_sound_*.png).
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.browser.test_e2e import (
    alert,
    metric_value,
    nav_to,
    propose_with_budget,
    wait_run_succeeded,
)
from tests.browser.test_text_to_text_e2e import no_exception
from tests.spoken import DIGITS, SpokenSpec, make_spoken, tools_missing

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "")]
pytest.importorskip("soundfile")
pytest.importorskip("timm")
CACHE = Path(__file__).resolve().parents[2] / "bench" / ".work"
# Three words, four voices heard in training and two only in the new recordings (the
# same set as tests/engine/test_audio_run.py: made once, then cached).
SPEC = SpokenSpec(words=DIGITS[:3], train_voices=4, test_voices=2, takes=2,
                  formats=("wav", "flac", "ogg", "mp3"), stereo_share=0.3)
BUDGET = 30  # the MFCC baselines take seconds; the network gets what torch leaves


def playable(page, n: int) -> None:
    """The page holds `n` players and each one really loads its clip (headless Chromium
    defers the first load until asked, as a person's click would)."""
    page.wait_for_function(f"() => document.querySelectorAll('audio').length === {n}")
    page.evaluate("() => document.querySelectorAll('audio').forEach(a => a.load())")
    page.wait_for_function("() => [...document.querySelectorAll('audio')]"
                           ".every(a => a.readyState >= 1 && a.duration > 0 && !a.error)")


def zipped(folder: Path, archive: Path, top: str, extra: dict[str, bytes] | None = None
           ) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f"{top}/{f.relative_to(folder).as_posix()}")
        for name, data in (extra or {}).items():
            zf.writestr(f"{top}/{name}", data)
    return archive


@pytest.mark.timeout(300)
def test_spoken_words_from_zip_to_predictions(browser_page, app_url, artifacts, tmp_path):
    page = browser_page
    spoken = make_spoken(CACHE, SPEC)
    train = zipped(spoken.train, tmp_path / "words.zip", "words")
    new = zipped(spoken.test, tmp_path / "new.zip", "new", {"broken.wav": b"not sound"})
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"e2e_sound_{name}.png"), full_page=True)
    started = time.monotonic()
    try:
        # -- Data: listen to each class, look at its wave and spectrogram -----------------
        page.goto(f"{app_url}/data")
        page.get_by_text("No data yet").wait_for()
        page.set_input_files('input[type="file"]', str(train))
        alert(page, "Added words: 24 recordings.").wait_for(timeout=60_000)
        assert metric_value(page, "Recordings").inner_text() == "24"
        assert metric_value(page, "Classes").inner_text() == "3"
        assert metric_value(page, "Kind of data").inner_text() == "Sound"
        page.get_by_text("Listen to each class.").wait_for()
        playable(page, 9)  # three clips of each of the three words
        # Per clip one figure: its wave above its log-mel spectrogram.
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(e => e.textContent.includes('mel band')).length === 9")
        no_exception(page)
        shot("1_data")

        # -- Plan: the sound plan, in words about recordings ------------------------------
        nav_to(page, "Plan")
        page.get_by_role("button", name="Propose a plan").wait_for()
        page.get_by_text("Sound plans come from the sound rules").wait_for()
        propose_with_budget(page, BUDGET)
        assert metric_value(page, "Target").inner_text() == "label"
        assert metric_value(page, "Metric").inner_text() == "Accuracy"
        page.get_by_text("the share of recordings predicted right").wait_for()
        page.get_by_text("Each recording's class").wait_for()
        page.get_by_text("(on MFCC statistics, the fast baseline)").first.wait_for()
        body = page.inner_text("body")
        assert "Each image's class" not in body and "share of the images" not in body
        assert "so the rule planner made this plan" not in body  # no fallback: by design
        shot("2_plan")
        page.get_by_role("button", name="Approve and launch").click()

        # -- Runs: it ends --------------------------------------------------------------
        wait_run_succeeded(page)
        best = metric_value(page, "Best model").inner_text()
        assert re.fullmatch(r"resnet18_\d+|linear_mfcc|lightgbm_mfcc", best), best
        no_exception(page)
        shot("3_run_finished")

        # -- Leaderboard: the network and the MFCC baselines ------------------------------
        nav_to(page, "Leaderboard")
        page.get_by_role("heading", name="Best model of each run").wait_for()
        cells = page.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
        cells.filter(has_text=re.compile(rf"^\s*{best}\s*$")).first.wait_for(state="attached")

        # -- Model: the validation clips it got wrong, to play ----------------------------
        nav_to(page, "Model")
        checked = metric_value(page, "Recordings validated")
        checked.wait_for(timeout=60_000)
        page.get_by_text("Each recording was predicted by a model that had not seen it"
                         ).wait_for()
        page.get_by_role("tab", name="Mistakes", exact=True).click()
        said = page.get_by_text(re.compile(r"validation recordings (predicted wrong|right)"))
        said.first.wait_for()
        wrong = re.match(r"(\d+) of (\d+) validation recordings predicted wrong",
                         said.first.inner_text())
        if wrong:  # each mistake is a player; none when every clip was right
            assert wrong.group(2) == checked.inner_text()
            playable(page, min(int(wrong.group(1)), 32))
        no_exception(page)
        shot("4_model_mistakes")

        # -- Predict: a zip of new voices in, predictions.csv out -------------------------
        nav_to(page, "Predict")
        page.get_by_text("A sound model predicting").wait_for(timeout=60_000)
        page.locator('input[type="file"]').first.set_input_files(str(new))
        page.get_by_text("new.zip").wait_for()
        page.get_by_role("button", name="Predict these recordings", exact=True).click()
        button = page.get_by_role("button", name="Download predictions (CSV)")
        button.wait_for(timeout=120_000)
        alert(page, "Predictions saved to").wait_for()
        n = len(spoken.answers)
        page.get_by_text(f"{n} recordings predicted in").wait_for()
        page.get_by_text("1 file left out: broken.wav").wait_for()
        shot("5_predicted")
        with page.expect_download() as info:
            button.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert re.fullmatch(r"new-predictions-\d{8}-\d{6}\.csv", saved.name)
        got = pd.read_csv(saved)
        assert list(got.columns) == ["path", "label"] + [f"proba_{w}" for w in
                                                         sorted(DIGITS[:3])]
        assert got["path"].tolist() == sorted(spoken.answers)
        assert set(got["label"]) <= set(DIGITS[:3])
    except Exception:
        shot("failure")
        (artifacts / "e2e_sound_failure.html").write_text(page.content())
        raise
    finally:
        print(f"sound browser test took {time.monotonic() - started:.1f} s")
