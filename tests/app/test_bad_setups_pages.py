"""Set-ups that cannot train, met in the app (AppTest): each gets an error that names the
problem and the fix, never a traceback as the message, and whatever was stored before is
still there, byte for byte.

Forecasting: a horizon longer than the history, months missing (irregular time stamps).
Sound: a zip with no recording that can be opened (broken and empty files), and recordings
of a single class."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from tests.app.test_pages import texts

PAGES = "../pages"


def _stored(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its SHA-256: what must survive a refused upload."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _propose_forecast(app, horizon: int) -> str:
    app.selectbox(key="plan_fc_time").set_value("month")
    app.number_input(key="plan_fc_horizon").set_value(horizon)
    app.button(key="plan_fc_propose").click().run()
    assert not app.exception, app.exception
    return texts(app.error)


@pytest.mark.parametrize("rows, horizon, needles", [
    (slice(0, 40), 60, ("horizon (60 steps) is longer than the history",
                        "Forecast fewer steps")),
    (None, 12, ("irregular", "Fill the missing periods")),
])
def test_a_forecast_the_series_cannot_support_says_the_fix(app, app_home, tmp_path, rows,
                                                           horizon, needles):
    pytest.importorskip("statsmodels")
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home
    from tests.engine.test_forecast import elnino

    table = elnino()
    table = table.iloc[rows] if rows else table.drop(index=range(100, 103))
    table.reset_index(drop=True).to_csv(tmp_path / "nino.csv", index=False)
    ws = Workspace(Home(app_home))
    ws.ingest(str(tmp_path / "nino.csv"), target="temp")
    app.switch_page(f"{PAGES}/plan.py").run()
    said = _propose_forecast(app, horizon)
    for needle in needles:
        assert needle in said, said
    assert "Traceback" not in said
    assert ws.plans(ws.datasets()[0]["id"]) == []  # nothing half-made is kept


def test_a_zip_with_no_readable_recording_is_refused_and_nothing_stored_changes(
        app, app_home, tmp_path):
    pytest.importorskip("soundfile")
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home
    from tests.engine.test_audio import sound_folders

    ws = Workspace(Home(app_home))
    kept = ws.ingest(str(sound_folders(tmp_path / "tones")), name="tones")
    before = _stored(app_home)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("bad/yes/one.wav", b"RIFF but not a wave file")
        zf.writestr("bad/no/two.mp3", b"")
    app.switch_page(f"{PAGES}/data.py").run()
    app.file_uploader(key="data_upload").upload("bad.zip", bad.read_bytes(),
                                                "application/zip")
    app.run()
    assert not app.exception, app.exception
    said = texts(app.error)
    assert "holds no recording Modelyard can open" in said, said
    assert "one.wav" in said or "two.mp3" in said
    assert "one folder per class" in said  # the fix
    assert [d["id"] for d in ws.datasets()] == [kept["id"]]
    # The catalog may note the visit; the data set and its files are as they were.
    after = _stored(app_home)
    dataset = f"datasets/{kept['id']}/"
    assert {k: v for k, v in after.items() if k.startswith(dataset)} == \
        {k: v for k, v in before.items() if k.startswith(dataset)}


def test_recordings_of_one_class_get_a_plan_error_naming_the_fix(app, app_home, tmp_path):
    pytest.importorskip("soundfile")
    from modelyard.app.workspace import Workspace
    from modelyard.storage.paths import Home
    from tests.engine.test_audio import tone

    for i in range(3):
        tone(tmp_path / "one" / "only" / f"c{i}.wav", 440 + 10 * i)
    ws = Workspace(Home(app_home))
    ws.ingest(str(tmp_path / "one"), name="one")
    app.switch_page(f"{PAGES}/plan.py").run()
    assert not app.exception, app.exception
    assert not any("Forecast" in e.label for e in app.expander)  # no time column here
    app.button(key="plan_propose").click().run()
    assert not app.exception, app.exception
    said = texts(app.error)
    assert "All recordings carry the same label" in said, said
    assert "Add recordings of at least one more class" in said
