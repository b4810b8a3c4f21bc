"""A prediction server for one Run, started and stopped from the Model page: a detached
`modelyard serve RUN` process whose state lives in the run folder (`serve.json`: pid,
process start time, address; its output in `serve.log`), so a page rerun or an app
restart finds it. It is alive only if its pid exists with the same start time and is no
zombie, as for workers (engine/jobs.py). No FastAPI here: the page imports this."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from modelyard.engine.errors import BadInputError

STATE_FILE = "serve.json"
LOG_FILE = "serve.log"
FIRST_PORT, LAST_PORT = 8000, 8099
START_TIMEOUT_S = 60.0  # loading a big bundle hashes and unpickles it first
STOP_GRACE_S = 5.0
_children: list[subprocess.Popen] = []


@dataclass(frozen=True)
class ServerState:
    """A Run's server: where it answers, and whether it still runs (if not, why)."""

    url: str
    pid: int
    started_at: float
    alive: bool
    reason: str = ""
    log_tail: str = ""


def _read(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _alive(pid: int, create_time: float | None) -> tuple[bool, str]:
    try:
        proc = psutil.Process(pid)
        if create_time and abs(proc.create_time() - create_time) > 1.0:
            return False, "the server process is gone (its process id was reused)"
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False, "the server process exited"
    except psutil.NoSuchProcess:
        return False, "the server process is gone"
    return True, ""


def log_tail(run_dir: Path, lines: int = 20) -> str:
    try:
        text = (run_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def state(run_dir: Path) -> ServerState | None:
    """The Run's server as its state file and the process table say; None if none was
    started (or it was stopped)."""
    _reap()
    found = _read(run_dir)
    if not found:
        return None
    alive, reason = _alive(found["pid"], found.get("create_time"))
    return ServerState(found["url"], found["pid"], found["started_at"], alive, reason,
                       "" if alive else log_tail(run_dir))


def free_port(host: str = "127.0.0.1") -> int:
    """8000 if it is free, else the next free one up to 8099, else any free port."""
    for port in [*range(FIRST_PORT, LAST_PORT + 1), 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise BadInputError("No free port on this machine.", "Close a program that listens.")


def start(home_root: Path, run_id: str, run_dir: Path, *, port: int | None = None,
          wait: bool = True) -> ServerState:
    """Start `modelyard serve RUN` for this Run on 127.0.0.1 (unless one already runs);
    with `wait`, return once it answers /health, or raise with its last words."""
    current = state(run_dir)
    if current and current.alive:
        return current
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "modelyard.app.cli", "--home", str(home_root), "serve",
               run_id, "--port", str(port)]
    with open(run_dir / LOG_FILE, "ab") as log:
        log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(command)}\n"
                  .encode())
        log.flush()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                cwd=str(Path(__file__).resolve().parents[2]))
    _children.append(proc)
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = None
    record = {"pid": proc.pid, "create_time": create_time, "url": url, "port": port,
              "started_at": time.time(), "command": command}
    tmp = run_dir / f".{STATE_FILE}.partial"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(run_dir / STATE_FILE)
    if wait:
        _wait_until_ready(proc, url, run_dir)
    return state(run_dir) or ServerState(url, proc.pid, record["started_at"], True)


def _wait_until_ready(proc: subprocess.Popen, url: str, run_dir: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget(run_dir)
            last = log_tail(run_dir, 5).strip().splitlines()
            raise BadInputError("The prediction server stopped as it started: "
                                + (last[-1] if last else f"exit code {proc.returncode}"),
                                f"The whole output is in {run_dir / LOG_FILE}.")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(run_dir)
    raise BadInputError(f"The prediction server did not answer within {START_TIMEOUT_S:.0f} s.",
                        f"Its output is in {run_dir / LOG_FILE}.")


def stop(run_dir: Path) -> bool:
    """Stop the Run's server (SIGTERM to its process group, SIGKILL after a grace
    period) and forget it; True if one was running."""
    found = _read(run_dir)
    if not found:
        return False
    pid = found["pid"]
    alive, _ = _alive(pid, found.get("create_time"))
    if alive:
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and _alive(pid, found.get("create_time"))[0]:
            _reap()
            time.sleep(0.1)
        if _alive(pid, found.get("create_time"))[0]:
            _signal(pid, signal.SIGKILL)
    _reap()
    _forget(run_dir)
    return alive


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the server leads its own process group
    except (ProcessLookupError, PermissionError):
        pass


def _forget(run_dir: Path) -> None:
    (run_dir / STATE_FILE).unlink(missing_ok=True)


def _reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def example_row(features: list[str], frame) -> dict[str, Any]:
    """The first row of `frame` (the training data) as JSON values, model columns only."""
    from modelyard.serve.rows import records

    return records(frame[[c for c in features if c in frame.columns]].head(1))[0]


def curl_example(url: str, row: dict[str, Any], *, token: bool = False) -> str:
    """A curl command that predicts `row` (column → value) at `url`."""
    body = json.dumps(row, default=str, allow_nan=False)
    auth = " \\\n  -H 'Authorization: Bearer <your token>'" if token else ""
    return (f"curl -X POST {url}/predict \\\n  -H 'Content-Type: application/json'{auth}"
            f" \\\n  -d {shlex.quote(body)}")
