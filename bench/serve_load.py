"""The prediction server under load, on the loopback only, against calling the bundle in
this process.

A Run is trained on the wine sample (`modelyard run`, a short budget) in a temporary
MODELYARD_HOME; `modelyard serve RUN --port 0` serves it. Then, for 1, 8 and 32
concurrent clients (threads, one keep-alive httpx connection each), each for `--seconds`:

- single rows: one JSON object per request → latency p50/p99 and rows per second;
- batches: `--batch` rows per request → rows per second.

The alternative, measured the same way in this process: `Predictor.predict_frame` on a
one-row DataFrame and on a batch, from as many threads (what a program that loads the
bundle itself gets). Any failed request (not 200, or a prediction that differs from the
in-process one) is counted, and the bench fails if there is one.

The load generator runs on the same cores as the server (2 here): client-side JSON and
HTTP work is part of every figure. Both sides run with OMP_WAIT_POLICY=PASSIVE, as
`modelyard serve` sets it. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
CLIENTS = (1, 8, 32)


def train(root: Path, env: dict) -> tuple[str, pd.DataFrame]:
    from modelyard.engine.intake.samples import write_sample

    data = pd.read_csv(write_sample("wine", root))
    data.to_csv(root / "train.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "modelyard.app.cli", "run", root / "train.csv",
                           "--target", "cultivar", "--budget", "10", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)["run_id"], data.drop(columns="cultivar")


def start(run_id: str, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "modelyard.app.cli", "serve", run_id,
                                 "--port", "0"], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env, cwd=REPO, start_new_session=True)
    for line in proc.stdout:
        found = re.search(r"serving at (http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def hammer(clients: int, seconds: float, call) -> tuple[list[float], int, int]:
    """`clients` threads calling `call(client_index, i)` for `seconds`: latencies (s),
    calls made, calls failed."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failed = [0] * clients
    stop = time.perf_counter() + seconds

    def loop(c: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            ok = call(c, i)
            latencies[c].append(time.perf_counter() - began)
            failed[c] += not ok
            i += 1

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = [x for per in latencies for x in per]
    return found, len(found), sum(failed)


def _row(what: str, clients: int, single, batch, batch_rows: int, seconds: float) -> dict:
    lat, n, bad = single
    blat, bn, bbad = batch
    return {"how": what, "clients": clients,
            "single_p50_ms": float(np.percentile(lat, 50) * 1000),
            "single_p99_ms": float(np.percentile(lat, 99) * 1000),
            "single_rows_per_s": n / seconds, "batch_rows": batch_rows,
            "batch_p50_ms": float(np.percentile(blat, 50) * 1000),
            "batch_rows_per_s": bn * batch_rows / seconds,
            "requests": n + bn, "failed": bad + bbad}


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM loads OpenMP
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    import httpx

    from modelyard.engine.training.bundle import Predictor
    from modelyard.serve.rows import records

    with tempfile.TemporaryDirectory(prefix="modelyard-serve-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "MODELYARD_HOME": str(root / "home"), "NO_PROXY": "127.0.0.1",
               "OLLAMA_HOST": "http://127.0.0.1:9", "MODELYARD_SERVE_TOKEN": ""}
        run_id, rows = train(root, env)
        predictor = Predictor.load(root / "home" / "runs" / run_id)
        batch = rows.sample(args.batch, replace=True, random_state=0).reset_index(drop=True)
        singles = [rows.iloc[[i]].reset_index(drop=True) for i in range(len(rows))]
        expected = [records(predictor.predict_frame(r))[0] for r in singles]
        expected_batch = records(predictor.predict_frame(batch))
        bodies = [json.dumps(records(r)[0]).encode() for r in singles]
        batch_body = json.dumps(records(batch)).encode()

        def close(a: dict, b: dict) -> bool:
            return a.keys() == b.keys() and all(
                abs(a[k] - b[k]) <= 1e-9 if isinstance(a[k], float) else a[k] == b[k]
                for k in a)

        def local_single(c: int, i: int) -> bool:
            k = (c * 7919 + i) % len(singles)
            return close(records(predictor.predict_frame(singles[k]))[0], expected[k])

        def local_batch(c: int, i: int) -> bool:
            return len(predictor.predict_frame(batch)) == args.batch

        for clients in CLIENTS:
            print(json.dumps(_row("in-process Predictor.predict_frame", clients,
                                  hammer(clients, args.seconds, local_single),
                                  hammer(clients, args.seconds, local_batch), args.batch,
                                  args.seconds)), flush=True)

        proc, url = start(run_id, env, root / "server.log")
        failures = 0
        try:
            headers = {"Content-Type": "application/json"}
            for clients in CLIENTS:
                pool = [httpx.Client(base_url=url, timeout=60, headers=headers)
                        for _ in range(clients)]

                def http_single(c: int, i: int, pool=pool) -> bool:
                    k = (c * 7919 + i) % len(bodies)
                    try:
                        answer = pool[c].post("/predict", content=bodies[k])
                    except httpx.HTTPError:
                        return False
                    return answer.status_code == 200 and \
                        close(answer.json()["predictions"][0], expected[k])

                def http_batch(c: int, i: int, pool=pool) -> bool:
                    try:
                        answer = pool[c].post("/predict", content=batch_body)
                    except httpx.HTTPError:
                        return False
                    return answer.status_code == 200 and all(
                        close(a, b) for a, b in zip(answer.json()["predictions"],
                                                    expected_batch, strict=True))

                row = _row("HTTP server (modelyard serve, loopback)", clients,
                           hammer(clients, args.seconds, http_single),
                           hammer(clients, args.seconds, http_batch), args.batch,
                           args.seconds)
                failures += row["failed"]
                print(json.dumps(row), flush=True)
                for client in pool:
                    client.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        if failures:
            raise SystemExit(f"{failures} request(s) failed")
        print(json.dumps({"how": "zero failed requests", "failed": 0}))


if __name__ == "__main__":
    main()
