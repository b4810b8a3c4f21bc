"""`make bench`: run every benchmark and write bench/RESULTS.md.

Each benchmark is compared against a named alternative measured in the same run.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("`modelyard run` (60 s budget) vs LightGBM defaults, test ROC AUC, credit_data",
     ["-m", "bench.cli_vs_lightgbm", "--budget", "60", "--dataset", "credit_data"]),
    ("`modelyard run` (60 s budget) vs LightGBM defaults, test ROC AUC, telco churn",
     ["-m", "bench.cli_vs_lightgbm", "--budget", "60", "--dataset", "telco_churn"]),
]


def main() -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {platform.platform()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM. "
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    for title, args in BENCHES:
        print(f"== {title}", flush=True)
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              cwd=HERE.parent)
        lines += [f"## {title}", ""]
        if proc.returncode != 0:
            lines += ["Failed:", "", "```", proc.stderr[-2000:], "```", ""]
            print(proc.stderr, file=sys.stderr)
            continue
        result = json.loads(proc.stdout)
        print(json.dumps(result, indent=2))
        lines += ["| key | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in result.items()]
        lines.append("")
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
