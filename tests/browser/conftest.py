"""Fixtures for the browser test: the real app served by `streamlit run`, and Chromium.

The server runs with its own MODELYARD_HOME under tmp_path; Chromium is Debian's
(/usr/bin/chromium), driven by Playwright without `playwright install`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from modelyard.app.cli import streamlit_command

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def _kill_group(pid: int, grace: float = 5.0) -> None:
    """SIGTERM the process group led by `pid`, SIGKILL it if it lingers.

    For groups whose leader is not our child (a worker): our own child would linger as
    a zombie until reaped, and signal 0 would still reach it."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def e2e_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "e2e-home"
    monkeypatch.setenv("MODELYARD_HOME", str(root))
    return root


@pytest.fixture
def app_ollama_host() -> str:
    """The Ollama address the app is started with: a closed port, unless a test module
    overrides this fixture (the environment beats a saved address: engine/settings.py)."""
    return "http://127.0.0.1:9"


@pytest.fixture
def app_url(e2e_home: Path, artifacts: Path, app_ollama_host: str) -> Iterator[str]:
    """The app as `modelyard app` starts it, on a free port; stopped (with its workers)
    afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MODELYARD_HOME": str(e2e_home), "OLLAMA_HOST": app_ollama_host,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "PYTHONUNBUFFERED": "1"}
    log_path = artifacts / "e2e_server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            streamlit_command(port),
            cwd=e2e_home.parent, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if server.poll() is not None:
                pytest.fail(f"the app exited with {server.returncode}:\n"
                            f"{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not become healthy in 60 s:\n"
                            f"{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        except ProcessLookupError:
            server.wait(timeout=10)
        _kill_group(server.pid, grace=2.0)  # anything the server left in its group
        # Workers run in process groups of their own: stop any the test left running.
        for run_json in e2e_home.glob("runs/*/run.json"):
            try:
                record = json.loads(run_json.read_text())
            except (OSError, ValueError):
                continue
            if record.get("pid") and record.get("status") in ("queued", "starting", "running"):
                _kill_group(record["pid"], grace=2.0)


def is_local(url: str) -> bool:
    """Whether a request stays on this machine (data: and blob: URLs never leave it)."""
    parsed = urlparse(url)
    return parsed.scheme not in ("http", "https", "ws", "wss") or parsed.hostname in (
        "127.0.0.1", "localhost", "::1")


@pytest.fixture
def browser_page(artifacts: Path):
    """A Playwright page in headless Debian Chromium."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install it with `make chromium`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)
            outside: list[str] = []
            page.on("request", lambda request: outside.append(request.url)
                    if not is_local(request.url) else None)
            yield page
            context.close()
            # Nothing may leave the machine: not a font, not an icon, not a statistic.
            assert outside == [], f"requests left the machine: {sorted(set(outside))}"
        finally:
            browser.close()
