"""Shared fixtures: every test gets its own MODELYARD_HOME; nothing touches ~/.modelyard."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
# A closed port on this machine: Ollama is never reachable from the tests.
UNREACHABLE_OLLAMA = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def modelyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty MODELYARD_HOME for each test (also seen by subprocesses)."""
    root = tmp_path / "modelyard-home"
    monkeypatch.setenv("MODELYARD_HOME", str(root))
    monkeypatch.setenv("OLLAMA_HOST", UNREACHABLE_OLLAMA)
    # Tests that start several workers want them at once; the queue has its own tests.
    monkeypatch.setenv("MODELYARD_MAX_PARALLEL_RUNS", "8")
    # Never leave the machine, whatever proxy the environment names.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # Belt and braces: code that ignored the variable would land here, not in ~.
    monkeypatch.setattr("modelyard.storage.paths.DEFAULT_HOME", tmp_path / "not-the-real-home")
    yield root
    stop_workers(root)


def stop_workers(root: Path) -> None:
    """Kill the worker of any Run still active under `root` (a test failed mid-run):
    a stray worker would eat the CPU of every later test."""
    for run_json in root.glob("runs/*/run.json"):
        try:
            record = json.loads(run_json.read_text())
        except (OSError, ValueError):
            continue
        pid = record.get("pid")
        if pid and record.get("status") in ("queued", "starting", "running"):
            try:
                os.killpg(pid, signal.SIGKILL)  # a worker leads its own process group
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def home(modelyard_home: Path):
    from modelyard.storage.paths import Home

    return Home.from_env()


@pytest.fixture
def ws(home):
    from modelyard.app.workspace import Workspace

    return Workspace(home)


def messy_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small customer table: an id, numbers, a categorical with gaps, a yes/no churn
    column that depends on the features (so models beat the baseline)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n)
    charges = rng.normal(70, 20, size=n).round(2)
    contract = rng.choice(["monthly", "yearly", "two-year"], size=n).astype(object)
    contract[rng.random(n) < 0.15] = None
    region = rng.choice(["north", "south", "east", "west"], size=n)
    logit = 1.5 - 0.06 * tenure + 0.02 * (charges - 70) + np.where(contract == "monthly", 1, 0)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({
        "customer_id": np.arange(10_001, 10_001 + n),
        "tenure_months": tenure,
        "monthly_charges": charges,
        "contract": contract,
        "region": region,
        "churn": churn,
    })


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    messy_frame().to_csv(path, index=False)
    return path


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1,
             what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait():
    return wait_for


@pytest.fixture(scope="session")
def make_messy():
    return messy_frame


@pytest.fixture(scope="session")
def child_env():
    """`child_env(home)`: the environment for a child process that must use `home`
    (for fixtures wider than one test, where the autouse home does not apply)."""

    def make(home: Path | str) -> dict[str, str]:
        return {**os.environ, "MODELYARD_HOME": str(home), "OLLAMA_HOST": UNREACHABLE_OLLAMA,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1"}

    return make


@pytest.fixture
def fake_ollama():
    """A fake Ollama HTTP server on 127.0.0.1 with scripted chat replies (fake_ollama.py)."""
    from tests.fake_ollama import FakeOllama

    fake = FakeOllama().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server in a temporary folder on a free local port (tests/pg_server.py;
    modules that use it are marked NEEDS_POSTGRES)."""
    from tests.pg_server import PostgresServer

    with PostgresServer() as server:
        yield server
