"""The Model page's Serve tab (AppTest) on a copy of the shared trained Run: start a real
server, find it again from a fresh app (its state is in the run folder, not the session),
predict the page's example row over HTTP, stop it."""

from __future__ import annotations

import json
import re
import shlex

import httpx
import psutil
import pytest

from modelyard.serve import process
from tests.app.conftest import MAIN, REPO
from tests.results_run import copy_home

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def fresh_app(run_id: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    at.session_state["run_id"] = run_id
    at.switch_page("../pages/model.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_start_find_use_and_stop_the_server(trained, tmp_path, monkeypatch):
    home = copy_home(trained.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.delenv("MODELYARD_SERVE_TOKEN", raising=False)
    monkeypatch.chdir(REPO)
    run_dir = home / "runs" / trained.run_id
    at = fresh_app(trained.run_id)
    try:
        assert "prediction server" in " ".join(m.value for m in at.markdown)
        at.button(key="model_serve_start").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        said = " ".join(s.value for s in at.success)
        url = re.search(r"Serving at (http://127\.0\.0\.1:\d+)", said).group(1)
        state = json.loads((run_dir / process.STATE_FILE).read_text())
        assert state["url"] == url and psutil.pid_exists(state["pid"])

        # A new session (a reload, or the app restarted) finds the same server.
        again = fresh_app(trained.run_id)
        assert url in " ".join(s.value for s in again.success)
        curl = next(c.value for c in again.code if c.value.startswith("curl"))
        assert "alcohol" in curl and "Content-Type: application/json" in curl
        body = shlex.split(curl.replace("\\\n", " "))[-1]
        answer = httpx.post(f"{url}/predict", content=body,
                            headers={"Content-Type": "application/json"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["cultivar"] in ("cultivar_1", "cultivar_2",
                                                               "cultivar_3")

        again.button(key="model_serve_stop").click().run()
        assert not again.exception
        assert not (run_dir / process.STATE_FILE).exists()
        assert not psutil.pid_exists(state["pid"]) or \
            psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=5)
        assert again.button(key="model_serve_start")  # offered again
    finally:
        process.stop(run_dir)


def test_a_server_that_died_is_said_with_its_last_words(trained, tmp_path, monkeypatch):
    home = copy_home(trained.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.chdir(REPO)
    run_dir = home / "runs" / trained.run_id
    started = process.start(home, trained.run_id, run_dir)
    try:
        psutil.Process(started.pid).kill()
        psutil.Process(started.pid).wait(10)
        at = fresh_app(trained.run_id)
        warned = " ".join(w.value for w in at.warning)
        assert "is no longer running" in warned and "gone" in warned
        assert at.button(key="model_serve_start")
    finally:
        process.stop(run_dir)


def test_deleting_the_run_stops_its_server(trained, tmp_path, monkeypatch):
    from modelyard.app.workspace import Workspace
    from modelyard.engine.results.housekeeping import delete_run

    home = copy_home(trained.home, tmp_path / "home")
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    ws = Workspace.at(home)
    ws.refresh()
    started = ws.start_server(trained.run_id)
    try:
        assert httpx.get(f"{started.url}/health", timeout=10).status_code == 200
        delete_run(ws.home, ws.catalog, trained.run_id)
        assert not (home / "runs" / trained.run_id).exists()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{started.url}/health", timeout=5)
    finally:
        if psutil.pid_exists(started.pid):
            psutil.Process(started.pid).kill()
