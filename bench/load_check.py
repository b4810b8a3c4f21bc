"""Load check: eight runs at once (queued by the limit), the app open in a browser that
polls the Runs and Leaderboard pages, and the CLI reading the leaderboard every second.

Reports lock errors (must be 0: the catalog's readers wait, never fail), lost trials (0:
every trial a worker wrote to its journal reaches the catalog), and how long a page takes
to render (p50, p95: from navigation to its title and content shown, with Streamlit's
"running" indicator gone). Prints one JSON line; `bench/run.py` puts it in RESULTS.md.

    python -m bench.load_check --minutes 10 --runs 8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LOCK_WORDS = re.compile(r"could not set lock|database is locked|conflicting lock", re.I)
SAMPLES = ("breast_cancer", "wine", "diabetes")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MODELYARD_HOME": str(home), "OLLAMA_HOST": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def launch_runs(home: Path, n_runs: int, budget: int, data_dir: Path) -> list[str]:
    """`n_runs` Runs over a few samples, launched as the app does: queued by the limit."""
    from modelyard.app.workspace import Workspace
    from modelyard.engine.intake.samples import write_sample
    from modelyard.schemas import Plan

    ws = Workspace.at(home)
    metas = [ws.ingest(write_sample(key, data_dir)) for key in SAMPLES]
    run_ids = []
    for i in range(n_runs):
        meta = metas[i % len(metas)]
        doc = ws.propose_plan(meta["id"], budget_seconds=budget, seed=i, planner="rules")
        approved = ws.approve_plan(Plan.model_validate(doc["plan"]), based_on=doc)
        folder, _ = ws.start_run(approved, name=f"load {i + 1}")
        run_ids.append(folder.id)
    return run_ids


class CliReader(threading.Thread):
    """`modelyard leaderboard --json` once a second; each call's time and errors."""

    def __init__(self, home: Path, stop: threading.Event):
        super().__init__(daemon=True)
        self.home, self.stop = home, stop
        self.seconds: list[float] = []
        self.lock_errors: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "modelyard.app.cli", "leaderboard",
                                   "--json"], capture_output=True, text=True,
                                  env=_env(self.home), cwd=REPO, timeout=300)
            self.seconds.append(time.monotonic() - began)
            if LOCK_WORDS.search(done.stderr):
                self.lock_errors.append(done.stderr.strip()[-300:])
            elif done.returncode != 0:
                self.failures.append(done.stderr.strip()[-300:])
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))


def poll_pages(url: str, until: float) -> dict:
    """Alternate between the Runs and Leaderboard pages until `until`; render times."""
    from playwright.sync_api import sync_playwright

    renders: dict[str, list[float]] = {"runs": [], "leaderboard": []}
    page_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        while time.time() < until:
            for name, title in (("runs", "Runs"), ("leaderboard", "Leaderboard")):
                began = time.monotonic()
                page.goto(f"{url}/{name}")
                page.get_by_role("heading", name=title).first.wait_for()
                # Rendered when Streamlit's "running" indicator is gone (its script ended).
                page.wait_for_function("() => !document.querySelector("
                                       "'[data-testid=\"stStatusWidget\"]')")
                renders[name].append(time.monotonic() - began)
                shown = page.locator('[data-testid="stException"], '
                                     '[data-testid="stAlertContentError"]')
                page_errors += [t[:300] for t in shown.all_inner_texts()]
                time.sleep(1.0)
        browser.close()
    return {"renders": renders, "errors": page_errors}


def lost_trials(home: Path) -> tuple[int, int]:
    """(trials in the journals, of them missing from the catalog) after a last sync."""
    from modelyard.app.workspace import Workspace
    from modelyard.storage import runs as run_store
    from modelyard.storage.runfolder import read_events

    ws = Workspace.at(home)
    ws.refresh()
    in_journals = missing = 0
    for events in sorted(home.glob("runs/*/events.jsonl")):
        wrote = {e.data.get("model") for e, _ in read_events(events, 0) if e.kind == "trial"}
        indexed = {t["model"] for t in run_store.trials(ws.catalog, events.parent.name)}
        in_journals += len(wrote)
        missing += len(wrote - indexed)
    return in_journals, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--budget", type=int, default=60, help="seconds per run")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing (install it with `make chromium`)")
    from modelyard.app.cli import streamlit_command
    from modelyard.engine import jobs
    from modelyard.storage.paths import Home

    root = Path(tempfile.mkdtemp(prefix="modelyard-load-"))
    home = root / "home"
    home.mkdir()
    env = _env(home)
    os.environ["MODELYARD_HOME"] = str(home)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(streamlit_command(port), cwd=root, env=env,
                                  stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    stop = threading.Event()
    reader = CliReader(home, stop)
    try:
        import urllib.request

        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"the app did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        began = time.time()
        run_ids = launch_runs(home, args.runs, args.budget, root)
        limit = jobs.max_parallel_runs(Home(home))
        reader.start()
        pages = poll_pages(url, began + args.minutes * 60)
        stop.set()
        reader.join(timeout=300)
        records = [json.loads((home / "runs" / r / "run.json").read_text()) for r in run_ids]
        in_journals, missing = lost_trials(home)
        server_log = log_path.read_text(errors="replace")
        all_renders = pages["renders"]["runs"] + pages["renders"]["leaderboard"]
        app_lock_errors = len(LOCK_WORDS.findall(server_log)) + sum(
            bool(LOCK_WORDS.search(e)) for e in pages["errors"])
        print(json.dumps({
            "minutes": args.minutes, "runs": args.runs, "parallel_limit": limit,
            "budget_s": args.budget,
            "runs_succeeded": sum(r["status"] == "succeeded" for r in records),
            "runs_still_active": sum(r["status"] in ("queued", "starting", "running")
                                     for r in records),
            "page_renders": len(all_renders),
            "p50_render_s": _percentile(all_renders, 0.5),
            "p95_render_s": _percentile(all_renders, 0.95),
            "p95_runs_page_s": _percentile(pages["renders"]["runs"], 0.95),
            "p95_leaderboard_page_s": _percentile(pages["renders"]["leaderboard"], 0.95),
            "cli_reads": len(reader.seconds),
            "p95_cli_read_s": _percentile(reader.seconds, 0.95),
            "lock_errors": len(reader.lock_errors) + app_lock_errors,
            "other_errors": len(reader.failures) + len(pages["errors"]),
            "trials_in_journals": in_journals, "lost_trials": missing,
        }), flush=True)
        for text in reader.lock_errors + reader.failures + pages["errors"]:
            print(f"error: {text}", file=sys.stderr)
    finally:
        stop.set()
        for run_json in home.glob("runs/*/run.json"):
            record = json.loads(run_json.read_text())
            pid = record.get("pid")
            if pid and record.get("status") in ("queued", "starting", "running"):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
