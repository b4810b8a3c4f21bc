"""The prediction server, started for real: `modelyard serve` in a subprocess on a free
port (`--port 0`, the address read from its first line), over the shared trained Run
(tests/results_run.py) and two small bundles (tests/serve/bundles.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.results_run import shared_run
from tests.serve.bundles import broken_bundle, prices_bundle

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-1234"
MAX_BODY_MB = 0.05  # 50 KB: small enough to send an oversize body quickly


@dataclass
class Server:
    """A running `modelyard serve`."""

    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def start_server(args: list, env: dict, log: Path, timeout: float = 120.0) -> Server:
    """`modelyard serve ARGS --port 0`, once it says where it listens."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard.app.cli", "serve", *map(str, args), "--port", "0"],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=REPO,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"serving at (http://127\.0\.0\.1:\d+)", line)
        if found:
            return Server(proc, found.group(1), log)
    proc.kill()
    raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, child_env):
    return shared_run(tmp_path_factory, child_env)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-bundles")
    return {"prices": prices_bundle(root / "prices"), "broken": broken_bundle(root / "broken")}


@pytest.fixture(scope="session")
def server(trained, bundles, tmp_path_factory):
    """The shared run at /predict, the prices and broken bundles under their names; a
    token and a 50 KB cap."""
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    running = start_server([f"wine={trained.run_id}", f"prices={bundles['prices']}",
                            f"broken={bundles['broken']}", "--token", TOKEN,
                            "--max-body-mb", MAX_BODY_MB], {**trained.env}, log)
    yield running
    running.stop()
