"""One Run's search shared by 1, 2 and 4 workers through PostgreSQL, against the default
(Optuna's journal file in the run folder, one worker).

    python -m bench.shared_workers --budget 60 [--dataset telco_churn]

Each configuration is one `modelyard run --budget B` in a fresh home on the same real
table (the same plan, seed and budget); with PostgreSQL (a server started here, on
loopback) `--storage URL` shares it and `modelyard worker --join RUN --threads 1` adds the
joined workers as soon as the run is launched. One JSON line per configuration: trials
fitted (every state but the blend), trials per minute of search, the best CV score, and
how many trials the joined workers fitted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import realdata

ROOT = Path(__file__).resolve().parent.parent


def one(csv: Path, target: str, budget: int, workers: int, url: str | None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    env = {**os.environ, "MODELYARD_HOME": str(home), "OLLAMA_HOST": "http://127.0.0.1:9",
           "MODELYARD_MAX_PARALLEL_RUNS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "modelyard.app.cli", "run", str(csv), "--target", target,
           "--budget", str(budget), "--planner", "rules", "--json"]
    if url:
        cmd += ["--storage", url]
    err_path = home / "main.err"
    started = time.time()
    main = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=open(err_path, "w"),
                            text=True)
    joined = []
    if workers > 1:
        run_id = None
        while run_id is None and main.poll() is None:
            time.sleep(0.2)
            text = err_path.read_text()
            if "--join " in text:
                run_id = text.split("--join ")[1].split()[0]
        joined = [subprocess.Popen(
            [sys.executable, "-m", "modelyard.app.cli", "worker", "--join", run_id,
             "--storage", url, "--threads", "1"],
            env={**env, "MODELYARD_HOME": str(home / f"joined-{i}")},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers - 1)]
    out, _ = main.communicate(timeout=budget * 6)
    for proc in joined:
        proc.wait(timeout=120)
    wall = time.time() - started
    summary = json.loads(out)
    run_dir = home / "runs" / summary["run_id"]
    record = json.loads((run_dir / "run.json").read_text())
    trials = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()
              if '"kind": "trial"' in line]
    fitted = [t for t in trials if t.get("family") != "ensemble"]
    search = record["finished_at"] - record["started_at"]
    main_ident = next((t.get("worker") for t in fitted if t.get("worker")), None)
    return {
        "storage": "postgresql (loopback)" if url else "journal file (default)",
        "workers": workers, "budget_s": budget,
        "trials": len(fitted),
        "complete": sum(t["state"] == "complete" for t in fitted),
        "failed": sum(t["state"] == "failed" for t in fitted),
        "by_joined_workers": sum(bool(t.get("worker")) and t.get("worker") != main_ident
                                 for t in fitted) if url else 0,
        "trials_per_min": len(fitted) / (search / 60),
        "best_cv": summary["cv_score"], "metric": summary["metric"],
        "best_model": summary["best_model"], "status": str(summary["status"]),
        "run_s": search, "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--dataset", default="telco_churn")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.pg_server import PostgresServer

    frame, target, _ = getattr(realdata, args.dataset)()
    folder = Path(tempfile.mkdtemp(prefix="bench-shared-data-"))
    csv = folder / f"{args.dataset}.csv"
    frame.to_csv(csv, index=False)
    print(json.dumps({"dataset": args.dataset, "rows": len(frame),
                      **one(csv, target, args.budget, 1, None)}), flush=True)
    with PostgresServer() as pg:
        for workers in (1, 2, 4):
            print(json.dumps({"dataset": args.dataset, "rows": len(frame),
                              **one(csv, target, args.budget, workers, pg.url)}), flush=True)


if __name__ == "__main__":
    main()
