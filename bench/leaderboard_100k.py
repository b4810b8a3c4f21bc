"""The leaderboard with 100,000 stored trials: SQL aggregates vs all trials in pandas.

A temporary MODELYARD_HOME is filled through the real path: run folders, `events.jsonl`
written by `JournalWriter` (a trial event and a progress event per trial, as workers
write them), then `sync` into a fresh DuckDB catalog. Then, medians of `--repeats`:

- `queries`: every query the Leaderboard page makes (storage/runs.py aggregates) against
  the alternative of loading every trial with `runs.leaderboard()` into pandas and
  computing the same tables there;
- `render`: one AppTest rerun of the Leaderboard page (app/main.py, as the app runs it)
  against the same rerun of the page as it was before (it loaded every trial into pandas).

Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FAMILIES = {
    "lightgbm": ("learning_rate", "num_leaves", "n_estimators", "min_child_samples"),
    "xgboost": ("learning_rate", "max_depth", "n_estimators", "subsample"),
    "random_forest": ("n_estimators", "max_features", "min_samples_leaf"),
    "linear": ("C",),
    "mlp": ("alpha", "learning_rate_init", "hidden"),
}


def fill(root: Path, n_runs: int, trials_per_run: int, seed: int = 0) -> dict:
    """`n_runs` finished Runs over two data sets, `trials_per_run` trials each, written
    as workers write them, then indexed by `sync`. Returns the timings of each part."""
    from modelyard.storage.catalog import Catalog
    from modelyard.storage.datasets import write_meta
    from modelyard.storage.paths import Home
    from modelyard.storage.runfolder import JournalWriter, RunFolder
    from modelyard.storage.sync import sync

    home = Home(root)
    home.ensure()
    rng = np.random.default_rng(seed)
    began = time.perf_counter()
    for d in range(2):
        write_meta(home, {"id": f"ds_bench{d}", "name": f"bench data {d}", "n_rows": 10_000,
                          "n_cols": 20, "target": "y", "task": "binary", "created_at": 1e9},
                   {"n_rows": 10_000, "n_cols": 20, "columns": []})
    names = list(FAMILIES)
    for r in range(n_runs):
        run_id = f"run_bench{r:03d}"
        start = time.time()  # the journal stamps each line with the time it is written
        folder = RunFolder(home.run_dir(run_id))
        plan = {"dataset_id": f"ds_bench{r % 2}", "target": "y", "task": "binary",
                "metric": "roc_auc", "families": [{"family": f} for f in FAMILIES],
                "budget_seconds": 3600, "seed": r % 3}
        folder.create({"id": run_id, "name": f"bench #{r + 1}", "dataset_id": f"ds_bench{r % 2}",
                       "plan": plan, "status": "succeeded",
                       "created_at": start, "started_at": start, "finished_at": start + 3600,
                       "greater_is_better": True, "budget_seconds": 3600})
        journal = JournalWriter(folder)
        # Fast enough to write 100,000 lines: skip the per-line fsync of real workers.
        journal.DURABLE_KINDS = frozenset()
        base = 0.80 + 0.01 * r
        for i in range(trials_per_run):
            family = names[i % len(names)]
            folds = (base + 0.1 * (1 - math.exp(-i / 500)) * rng.random()
                     + rng.normal(0, 0.01, 5)).tolist()
            state = "complete" if rng.random() > 0.08 else rng.choice(["pruned", "failed"])
            params = {p: float(rng.lognormal()) for p in FAMILIES[family]}
            extra = ({"cv_score": float(np.mean(folds)), "cv_std": float(np.std(folds)),
                      "fold_scores": folds, "fit_seconds": float(rng.lognormal(0, 1)),
                      "predict_seconds": float(rng.lognormal(-4, 1))}
                     if state == "complete" else {})
            journal.emit("trial", f"{family}_{i}", model=f"{family}_{i}", family=family,
                         number=i, state=str(state), params=params, **extra)
            journal.emit("progress", f"{i + 1} trials", phase="search",
                         fraction=i / trials_per_run)
        journal.close()
        folder.update(finished_at=time.time())
    written = time.perf_counter() - began
    began = time.perf_counter()
    sync(Catalog(home))
    return {"write_journals_s": written, "sync_s": time.perf_counter() - began}


def page_queries(catalog, dataset_id=None) -> None:
    """What pages/leaderboard.py asks the catalog for on one rerun (default view)."""
    from modelyard.storage import runs

    facets = runs.trial_facets(catalog, dataset_id)
    found = runs.overview(catalog, dataset_id=dataset_id, limit=200)
    run_ids = [r["run_id"] for r in found["leaders"] if r["rank"] == 1][:10]
    runs.best_over_time(catalog, run_ids)
    assert facets["trials"] and found["total"]


def chart_queries(catalog) -> dict[str, float]:
    """Median seconds of each on-demand chart's query for the newest Run."""
    from modelyard.engine.results import tuning
    from modelyard.storage import runs

    leader = runs.run_leaders(catalog, top=1)[0]
    run_id, family = leader["run_id"], leader["family"]
    return {
        "history_s": _median_seconds(lambda: runs.history(catalog, run_id), 3),
        "pareto_s": _median_seconds(lambda: runs.speed_points(catalog, run_id), 3),
        "param_importance_s": _median_seconds(lambda: tuning.param_importance(
            runs.param_sample(catalog, run_id, family), True), 3),
    }


def pandas_alternative(catalog, dataset_id=None) -> None:
    """The same tables from every trial loaded into pandas (what the page did before)."""
    import pandas as pd

    from modelyard.storage import runs

    frame = pd.DataFrame(runs.leaderboard(catalog, dataset_id=dataset_id))
    frame[frame["rank"] <= 2].groupby("run_id").head(2)
    frame.sort_values(["run_id", "rank"]).head(200)
    frame.groupby(["run_id", "family"])["cv_score"].agg(["count", "max", "mean"])
    frame.sort_values("finished_at").groupby("run_id")["cv_score"].cummax()


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


_RENDER = """
import json, statistics, sys, time
from streamlit.testing.v1 import AppTest
main, page, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
at = AppTest.from_file(main, default_timeout=600)
at.run()
times = []
for _ in range(repeats):
    began = time.perf_counter()
    at.switch_page(page).run()
    times.append(time.perf_counter() - began)
    assert not at.exception, at.exception
print(json.dumps({"median_s": statistics.median(times), "tables": len(at.dataframe),
                  "charts": len(at.get("plotly_chart"))}))
"""

_OLD_MAIN = """
import streamlit as st
st.navigation([st.Page({page!r}, url_path="leaderboard", default=True)]).run()
"""


def render(root: Path, repeats: int, old: bool) -> dict:
    """Median seconds of one rerun of the Leaderboard page in AppTest, in a child process
    (a fresh Streamlit runtime for each variant)."""
    env = {**os.environ, "MODELYARD_HOME": str(root), "OLLAMA_HOST": "http://127.0.0.1:9"}
    with tempfile.TemporaryDirectory() as tmp:
        main, page = str(REPO / "modelyard" / "app" / "main.py"), "../pages/leaderboard.py"
        if old:
            # The page before the 100k work, run by a minimal entry of its own.
            old_page = Path(tmp) / "old_leaderboard.py"
            old_page.write_text(subprocess.run(
                ["git", "show", "33170d1:pages/leaderboard.py"], cwd=REPO, check=True,
                capture_output=True, text=True).stdout)
            main = str(Path(tmp) / "old_main.py")
            Path(main).write_text(_OLD_MAIN.format(page=str(old_page)))
            page = str(old_page)
        proc = subprocess.run([sys.executable, "-c", _RENDER, main, page, str(repeats)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=10_000, help="trials per run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from modelyard.storage.catalog import Catalog
    from modelyard.storage.paths import Home

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "home"
        filled = fill(root, args.runs, args.trials)
        total = args.runs * args.trials
        print(json.dumps({"what": "fill", "trials": total, **filled}), flush=True)
        catalog = Catalog(Home(root))
        for scope, dataset_id in (("all data sets", None), ("one data set", "ds_bench0")):
            sql = _median_seconds(lambda d=dataset_id: page_queries(catalog, d), args.repeats)
            alt = _median_seconds(lambda d=dataset_id: pandas_alternative(catalog, d),
                                  args.repeats)
            print(json.dumps({"what": f"page queries, {scope}", "trials": total,
                              "sql_aggregates_s": sql, "all_trials_in_pandas_s": alt,
                              "speedup": alt / sql}), flush=True)
        print(json.dumps({"what": "one chart's query (on demand)", "trials": total,
                          **chart_queries(catalog)}), flush=True)
        new = render(root, args.repeats, old=False)
        old = render(root, args.repeats, old=True)
        print(json.dumps({"what": "page render (AppTest rerun)", "trials": total,
                          "new_page_s": new["median_s"], "old_page_all_trials_s":
                          old["median_s"], "speedup": old["median_s"] / new["median_s"],
                          "new_page_tables": new["tables"], "new_page_charts": new["charts"]}),
              flush=True)


if __name__ == "__main__":
    main()
