"""The package as a person installs it: a wheel, a fresh virtual environment, `modelyard app`
started from another directory.

The wheel is built from this tree and installed with `--no-deps` into a new venv whose
only link to the dependencies is a `.pth` line naming this interpreter's site-packages (a
plain path line: the editable install's own `.pth` hook there is not run, so the source
tree is never importable). Installing the dependencies afresh would download ~1 GB.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import psutil
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _healthy, is_local

REPO = Path(__file__).resolve().parent.parent
PAGES = ["home", "data", "plan", "runs", "leaderboard", "model", "predict", "manage",
         "settings"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(REPO)], check=True, capture_output=True,
                   timeout=300)
    (found,) = out.glob("modelyard-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed: its `bin/` folder."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True
                          ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # No PYTHONPATH: a source tree on it would count as modelyard already installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, timeout=300, env=env)
    return env_dir / "bin"


def test_the_wheel_holds_one_top_level_package_with_its_pages_and_settings(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"modelyard"}
    for page in PAGES:
        assert f"modelyard/pages/{page}.py" in names
    assert "modelyard/app/streamlit.toml" in names
    assert "modelyard/app/main.py" in names


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "MODELYARD_HOME": str(home), "OLLAMA_HOST": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


def test_the_installed_package_is_not_the_source_tree(installed, tmp_path):
    found = subprocess.run([str(installed / "python"), "-c",
                            "import modelyard, modelyard.pages; print(modelyard.__file__)"],
                           cwd=tmp_path, env=_clean_env(tmp_path / "home"), check=True,
                           capture_output=True, text=True).stdout.strip()
    assert Path(found).is_relative_to(installed.parent)
    assert not Path(found).is_relative_to(REPO)


def _listening(pid: int) -> list[str]:
    """The addresses the process tree under `pid` listens on."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return [conn.laddr.ip for proc in procs for conn in proc.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_modelyard_app_from_the_wheel_serves_every_page_locally(installed, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install it with `make chromium`)")
    from playwright.sync_api import sync_playwright

    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "app.log").open("wb")
    server = subprocess.Popen([str(installed / "modelyard"), "app", "--port", str(port)],
                              cwd=elsewhere, env=_clean_env(tmp_path / "home"),
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert server.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the app did not answer in 60 s"
            time.sleep(0.2)
        addresses = _listening(server.pid)
        assert addresses and set(addresses) == {"127.0.0.1"}, addresses
        with socket.socket() as probe:  # not reachable on another of this machine's addresses
            other = _an_address_other_than_loopback()
            if other:
                assert probe.connect_ex((other, port)) != 0
        # The server itself is the installed copy: its settings say so.
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as answer:
            assert answer.read() == b"ok"

        outside: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("request", lambda request: outside.append(request.url)
                    if not is_local(request.url) else None)
            for name in PAGES:
                page.goto(f"{url}/{name}" if name != "home" else url)
                page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=30_000)
                page.get_by_role("heading").first.wait_for(timeout=30_000)
                page.wait_for_timeout(500)  # late requests (icons, fonts) show up too
                errors = page.locator('[data-testid="stException"]')
                assert errors.count() == 0, f"{name}: {errors.first.inner_text()}"
            browser.close()
        assert outside == [], f"requests left the machine: {outside}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _an_address_other_than_loopback() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


def test_the_app_command_passes_the_shipped_settings_and_warns_before_listening_wider(
        monkeypatch, capsys):
    from modelyard.app import cli

    command = cli.streamlit_command(8600)
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(command[4]).name == "main.py"
    for flag in ("--server.address=127.0.0.1", "--server.port=8600", "--server.headless=true",
                 "--browser.gatherUsageStats=false", "--client.showErrorLinks=false",
                 "--client.disableDataExport=true"):
        assert flag in command
    started: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, env=None: started.append(cmd) or 0)
    assert cli.main(["app", "--port", "8600"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert cli.main(["app", "--port", "8600", "--address", "0.0.0.0"]) == 0
    assert "--server.address=0.0.0.0" in started[-1]
    assert "warning: the app will listen on 0.0.0.0" in capsys.readouterr().err
