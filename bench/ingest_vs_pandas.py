"""Ingest + profile of a generated CSV (default 1 M rows × 30 columns) by Modelyard,
against `pandas.read_csv` + `describe(include="all")` in the same run.

Each side runs in a fresh subprocess that reports its own wall time (from after its
imports) and peak resident memory; the medians of `--repeats` runs are printed as JSON.

    python -m bench.ingest_vs_pandas [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_MODELYARD = """
import json, resource, sys, time
from modelyard.engine.intake import ingest
from modelyard.storage.paths import Home
home = Home.from_env(sys.argv[2])
t = time.perf_counter()
meta = ingest(home, sys.argv[1])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": meta["n_rows"], "target": meta["target"]}))
"""

_PANDAS = """
import json, resource, sys, time
import pandas as pd
t = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
summary = frame.describe(include="all")
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(frame)}))
"""


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """30 columns: an id, 18 floats, 5 integers, 5 categories and a yes/no target."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    cols = {"id": np.arange(rows)}
    for i in range(18):
        cols[f"num_{i}"] = rng.normal(size=rows).round(4)
    for i in range(5):
        cols[f"int_{i}"] = rng.integers(0, 1000, size=rows)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
    for i in range(5):
        cols[f"cat_{i}"] = words[rng.integers(0, len(words), size=rows)]
    cols["target"] = np.where(rng.random(rows) < 0.3, "yes", "no")
    pl.DataFrame(cols).write_csv(path)


def _run(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp:
        csv = Path(tmp) / "wide.csv"
        generate(csv, args.rows)
        csv_mb = csv.stat().st_size / 2**20
        ours, theirs = [], []
        for i in range(args.repeats):
            ours.append(_run(_MODELYARD, str(csv), str(Path(tmp) / f"home{i}")))
            theirs.append(_run(_PANDAS, str(csv)))

    def median(runs: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    result = {
        "rows": args.rows, "columns": 30, "csv_mib": round(csv_mb, 1),
        "repeats": args.repeats,
        "modelyard_ingest_profile_s": median(ours, "seconds"),
        "modelyard_peak_mib": median(ours, "peak_mib"),
        "pandas_read_describe_s": median(theirs, "seconds"),
        "pandas_peak_mib": median(theirs, "peak_mib"),
        "target_guessed": ours[0]["target"],
    }
    result["time_ratio_modelyard_over_pandas"] = round(
        result["modelyard_ingest_profile_s"] / result["pandas_read_describe_s"], 2)
    result["memory_ratio_modelyard_over_pandas"] = round(
        result["modelyard_peak_mib"] / result["pandas_peak_mib"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
