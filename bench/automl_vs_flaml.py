"""Side by side on real tables: Modelyard (`modelyard run`) against FLAML, AutoGluon (medium
quality) and LightGBM with its default parameters, at the same budgets, on the same splits.

    python -m bench.automl_vs_flaml [--budgets 60 300] [--systems modelyard flaml ...]
        [--only NAME ...] [--large] [--results bench/records/automl.jsonl] [--report]

Each system runs in its own subprocess on the same parquet files (AutoGluon with the Python
of its own environment, `python -m bench.agenv`), so that wall time and peak memory over
its process tree are measured alike (bench/proctree.py). 75/25 split (stratified for
classes); tables under 2,000 rows get three splits. Every result is appended as one JSON
line to --results as soon as it is known, and a result already there is not run again: a
run of several hours continues where it stopped (--fresh starts over). The records are
kept in the repository (bench/records/), so a run the length of several sessions goes on
from a fresh clone; each record names the commit it measured. Scores:
bench/scoring.py. Prints one JSON line per budget and table at the end (what this and any
earlier, interrupted command measured); --report prints the Markdown summary instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from bench import agenv, realdata, scoring
from bench.proctree import run_measured

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
DEFAULT_RESULTS = HERE / "records" / "automl.jsonl"
SYSTEMS = ("modelyard", "autogluon", "flaml", "lightgbm")
# A system still running this long after its budget is killed and recorded as failed.
GRACE = lambda budget: 3 * budget + 600  # noqa: E731


def split(frame: pd.DataFrame, target: str, task: str, seed: int):
    """The 75/25 train/test split number `seed` (stratified for classes)."""
    stratify = frame[target] if task != "regression" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _command(system: str, budget: int, spec: dict, files: dict, out: Path) -> list[str]:
    target, task, metric = spec["target"], spec["task"], spec["metric"]
    if system == "modelyard":
        return [sys.executable, "-m", "modelyard.app.cli", "--home", str(out / "home"), "run",
                str(files["train"]), "--target", target, "--test", str(files["test"]),
                "--budget", str(budget), "--out", str(out), "--planner", "rules", "--json"]
    if system == "autogluon":
        if not agenv.PYTHON.exists():
            raise RuntimeError("AutoGluon's environment is missing: run "
                               "`python -m bench.agenv` (or `make bench-autogluon-env`).")
        return [str(agenv.PYTHON), str(HERE / "ag_runner.py"), "--train", str(files["train"]),
                "--test", str(files["test"]), "--label", target, "--problem-type", task,
                "--metric", metric, "--time-limit", str(budget), "--out", str(out)]
    return [sys.executable, "-m", "bench.peer_runner", system, "--train", str(files["train"]),
            "--test", str(files["test"]), "--label", target, "--task", task, "--metric", metric,
            "--budget", str(budget), "--out", str(out)]


def _predictions(system: str, out: Path, spec: dict):
    if system == "modelyard":
        preds = pd.read_csv(out / "predictions.csv")
        if spec["task"] == "regression":
            return preds[spec["target"]].to_numpy()
    else:
        preds = pd.read_parquet(out / "predictions.parquet")
        if spec["task"] == "regression":
            return preds["prediction"].to_numpy()
    return preds[[f"proba_{c}" for c in spec["classes"]]].to_numpy()


def _detail(system: str, out: Path, stdout_log: Path) -> dict:
    if system == "modelyard":
        text = stdout_log.read_text(encoding="utf-8", errors="replace")
        start = text.find("{")
        try:
            found = json.loads(text[start:])
        except ValueError:
            return {}
        return {"model": found.get("best_model"), **_run_seconds(out)}
    info = out / "info.json"
    if not info.exists():
        return {}
    found = json.loads(info.read_text(encoding="utf-8"))
    return {"model": found.pop("best_model", None), **found}


def _run_seconds(out: Path) -> dict:
    """The Run's own time, its worker's launch to its end ("fit_s", as AutoGluon's and
    FLAML's fit calls are timed), beside the whole command's wall time (which also holds
    the start of Python, reading the table and profiling it)."""
    for path in (out / "home" / "runs").glob("*/run.json"):
        run = json.loads(path.read_text(encoding="utf-8"))
        if run.get("launched_at") and run.get("finished_at"):
            return {"fit_s": round(run["finished_at"] - run["launched_at"], 1)}
    return {}


def _commit(root: Path = HERE.parent) -> str:
    """The checkout's commit (`+` if its files differ from it, the records aside): what a
    record measured."""
    import subprocess

    def git(*args: str) -> str:
        # Not stripped at the left: a porcelain line starts with its status columns
        # (" M path"), and the path is read from the fourth character on.
        return subprocess.run(["git", *args], cwd=root, capture_output=True,
                              text=True).stdout.rstrip()

    head = git("rev-parse", "--short", "HEAD").strip()
    changed = [line for line in git("status", "--porcelain", "--untracked-files=no")
               .splitlines() if not line[3:].startswith("bench/records/")]
    return head + ("+" if changed else "")


def run_one(system: str, budget: int, spec: dict, files: dict, y_test,
            work: Path = WORK) -> dict:
    """Fit one system on one split in a subprocess; its score, seconds and peak memory."""
    out = work / "runs" / f"{budget}s" / f"{spec['table']}-{spec['split']}" / system
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    record = {"budget": budget, "table": spec["table"], "split": spec["split"],
              "system": system, "rows": spec["rows"], "task": spec["task"],
              "metric": spec["metric"], "score": None,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": _commit(),
              "load_before": round(os.getloadavg()[0], 2), "nice": os.nice(0),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default")}
    try:
        cmd = _command(system, budget, spec, files, out)
    except RuntimeError as exc:
        return {**record, "error": str(exc)}
    # Every system with its libraries' own OpenMP manners: until session 11 each was
    # given OMP_WAIT_POLICY=PASSIVE, as Modelyard's workers then set for themselves,
    # which made the boosters of all three many times slower on small tables; those
    # records are in records/automl-passive.jsonl.
    env = {}
    if system == "autogluon":  # its Python must not see Modelyard's source tree
        env["PYTHONPATH"] = ""
    else:  # run from `out`, yet import bench/ and modelyard/ from this checkout
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p)
    log = out / "log.txt"
    # In `out`, so that files a library drops in its working folder (CatBoost's
    # catboost_info) stay with that run instead of landing in the checkout.
    measured = run_measured(cmd, log, GRACE(budget), cwd=out, env=env)
    record.update(wall_s=round(measured.wall_s, 1), peak_mib=round(measured.peak_mib),
                  peak_pss_mib=None if measured.peak_pss_mib is None
                  else round(measured.peak_pss_mib),
                  load_after=round(os.getloadavg()[0], 2))
    record.update(_detail(system, out, log))
    if measured.timed_out:
        return {**record, "error": f"killed after {GRACE(budget)} s"}
    if measured.returncode != 0:
        return {**record, "error": measured.log_tail[-600:]}
    try:
        pred = _predictions(system, out, spec)
        record["score"] = scoring.score(spec["task"], y_test, pred, spec["classes"])
    except (OSError, KeyError, ValueError) as exc:
        record["error"] = f"predictions unreadable: {exc}"
    return record


def load_results(path: Path) -> list[dict]:
    """The records written so far, the latest for each budget, table, split and system
    (a run again with --retry-failed supersedes the failure); a line cut short by an
    interruption is skipped."""
    if not path.exists():
        return []
    latest: dict[tuple, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        key = tuple(record.get(k) for k in ("budget", "table", "split", "system"))
        latest.pop(key, None)  # keep the file's order of the latest records
        latest[key] = record
    return list(latest.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, help="one budget (same as --budgets N)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[60])
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS,
                        default=["modelyard", "flaml", "lightgbm"])
    parser.add_argument("--only", nargs="*", help="table names (default: all of realdata.ALL)")
    parser.add_argument("--large", action="store_true",
                        help="the large tables (realdata.LARGE) instead of the others")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--work", type=Path, default=WORK,
                        help="folder for the splits and each system's files")
    parser.add_argument("--fresh", action="store_true",
                        help="start over: the old --results file is kept beside it as .old")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run again what failed before (by default it stays recorded)")
    parser.add_argument("--report", action="store_true",
                        help="print the Markdown summary of --results and run nothing")
    args = parser.parse_args()
    budgets = [args.budget] if args.budget else args.budgets
    # Each system runs in its own folder: every path it is given must be absolute.
    args.work, args.results = args.work.resolve(), args.results.resolve()
    if args.report:
        from bench.automl_report import markdown

        print(markdown(load_results(args.results)))
        return
    tables = realdata.LARGE if args.large else realdata.ALL
    unknown = set(args.only or []) - set(tables)
    if unknown:
        raise SystemExit(f"Unknown table(s) {sorted(unknown)}; known: {sorted(tables)}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and args.results.exists():
        args.results.replace(args.results.with_suffix(".old"))
    done = {(r["budget"], r["table"], r["split"], r["system"])
            for r in load_results(args.results) if r.get("score") is not None
            or not args.retry_failed}
    chosen = [n for n in tables if not args.only or n in args.only]
    for name in chosen:
        frame, target, task = tables[name]()
        classes = sorted(frame[target].unique().tolist()) if task != "regression" else []
        for seed in range(scoring.splits_for(len(frame))):
            todo = [(b, s) for b in budgets for s in args.systems
                    if (b, name, seed, s) not in done]
            if not todo:
                continue
            train, test = split(frame, target, task, seed)
            data = args.work / "data" / f"{name}-{seed}"
            data.mkdir(parents=True, exist_ok=True)
            files = {"train": data / "train.parquet", "test": data / "test.parquet"}
            train.to_parquet(files["train"])
            test.drop(columns=[target]).to_parquet(files["test"])
            spec = {"table": name, "split": seed, "rows": len(frame), "target": target,
                    "task": task, "metric": scoring.METRIC[task], "classes": classes}
            for budget, system in todo:
                print(f"{name} split {seed}: {system} at {budget} s ...", file=sys.stderr,
                      flush=True)
                record = run_one(system, budget, spec, files, test[target], args.work)
                with open(args.results, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
    # What this command asked for, including what an earlier, interrupted one measured.
    wanted = [r for r in load_results(args.results) if r["budget"] in budgets
              and r["table"] in chosen and r["system"] in args.systems]
    for (budget, table), row in sorted(scoring.table_scores(wanted).items()):
        print(json.dumps({"budget": budget, "dataset": table, "rows": row["rows"],
                          "metric": row["metric"], **row["scores"]}), flush=True)


if __name__ == "__main__":
    main()
