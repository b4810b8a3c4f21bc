"""Fixtures for the AppTest page tests: a private MODELYARD_HOME and a loaded app."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import stop_workers

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "modelyard" / "app" / "main.py"


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh MODELYARD_HOME for this test; any worker left running is stopped after it."""
    root = tmp_path / "app-home"
    monkeypatch.setenv("MODELYARD_HOME", str(root))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.chdir(REPO)
    yield root
    stop_workers(root)


@pytest.fixture
def app(app_home: Path):
    """The whole app (st.navigation and all), run once: it shows the Home page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    assert not at.exception
    return at
