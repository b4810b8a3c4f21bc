"""What a real small local model adds to the plans: SmolLM2-135M-Instruct (served by
`tests/llama_ollama.py`, an Ollama-compatible endpoint over llama-cpp-python) against
the rule planner, on real tables, each with a goal in a person's words.

    python -m bench.llm_plans [--budget 30] [--only NAME ...] [--no-runs]

Per table: the target and task the model's plan names against the truth; the plan kept
(the model's reply as it was), mended (the model's reply with mends made in code) or
replaced (the rule planner stood in); the seconds of each try and the prompt's tokens;
then the test score of a run from the model's plan against a run from the rule plan at
the same budget on the same 75/25 split (accuracy for classes, R² for quantities).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.model_selection import train_test_split

from bench.target_guess import TABLES, table

# Ten of the tables, chosen for spread: sizes from 200 to 54,000 rows, 5 to 86 columns,
# outcomes first, in the middle and last, yes/no, classes and quantities.
CHOSEN = ["Carseats", "Hitters", "Default", "penguins", "tips", "Wage", "diamonds",
          "TitanicSurvival", "OJ", "Caravan", "birthwt", "Salaries"]


def _cli(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", "--home", str(home),
                           *args], capture_output=True, text=True, timeout=timeout)


def _score(task: str, truth: pd.Series, predicted: pd.Series) -> float:
    if task == "regression":
        return float(metrics.r2_score(truth, predicted.astype(float)))
    return float(metrics.accuracy_score(truth.astype(str), predicted.astype(str)))


def _run(home: Path, train: Path, test: Path, out: Path, budget: int, *extra: str):
    proc = _cli(home, "run", str(train), "--test", str(test), "--budget", str(budget),
                "--out", str(out), "--json", *extra)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return pd.read_csv(out / "predictions.csv")


def one_table(name: str, package: str, outcome: str, goal: str, url: str, budget: int,
              runs: bool) -> dict:
    frame = table(package, name).dropna(subset=[outcome]).reset_index(drop=True)
    work = Path(tempfile.mkdtemp(prefix=f"llm-{name}-"))
    home = work / "home"
    row: dict = {"table": f"{package}/{name}", "rows": len(frame),
                 "columns": frame.shape[1], "goal": goal, "truth": outcome}
    classes = frame[outcome].nunique()
    task = "regression" if (pd.api.types.is_numeric_dtype(frame[outcome])
                            and classes > 20) else "classification"
    train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                   stratify=frame[outcome] if task != "regression" else None)
    train.to_csv(work / "train.csv", index=False)
    test.drop(columns=[outcome]).to_csv(work / "test.csv", index=False)
    ingested = _cli(home, "ingest", str(work / "train.csv"), "--json")
    dataset = json.loads(ingested.stdout)["id"]
    started = time.monotonic()
    proc = _cli(home, "plan", dataset, "--goal", goal, "--planner", "ollama",
                "--ollama-host", url, "--model", "smollm2:135m", "--budget", str(budget),
                "--json")
    row["plan_s"] = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        row["error"] = proc.stderr.strip()[-300:]
        return row
    doc = json.loads(proc.stdout)
    plan = doc["plan"]
    mends = doc.get("mends") or []
    row.update({
        "target": plan["target"], "target_right": plan["target"] == outcome,
        "task": plan["task"],
        "outcome": ("replaced" if doc["planner"] != "ollama" else
                    "mended" if mends else "kept"),
        "tries": len(doc.get("tries_seconds") or []),
        "slowest_try_s": max(doc.get("tries_seconds") or [0]),
        "prompt_tokens": doc.get("prompt_tokens"),
        "mends": len(mends),
        "what_was_mended": " | ".join(m[:70] for m in mends[:4]),
        "families": ",".join(f["family"] for f in plan["families"]),
    })
    if doc.get("fallback_reason"):
        row["why_replaced"] = doc["fallback_reason"][:160]
    if not runs:
        return row
    (work / "model_plan.json").write_text(json.dumps(plan))
    try:
        rules = _run(home, work / "train.csv", work / "test.csv", work / "rules", budget,
                     "--target", outcome, "--planner", "rules")
        row["rules_score"] = round(_score(task, test[outcome].reset_index(drop=True),
                                          rules[outcome]), 4)
    except Exception as exc:  # noqa: BLE001 - recorded, the table goes on
        row["rules_error"] = str(exc)[-200:]
    if plan["target"] != outcome:
        row["model_score"] = None  # a run that predicts another column scores nothing
        return row
    try:
        model = _run(home, work / "train.csv", work / "test.csv", work / "model", budget,
                     "--plan", str(work / "model_plan.json"), "--accept-plan")
        row["model_score"] = round(_score(task, test[outcome].reset_index(drop=True),
                                          model[outcome]), 4)
    except Exception as exc:  # noqa: BLE001
        row["model_error"] = str(exc)[-200:]
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--no-runs", action="store_true", help="plans only, no training")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.llama_ollama import LlamaOllama, available

    if why := available():
        raise SystemExit(f"skipped: {why}")
    server = LlamaOllama().start()
    rows = []
    try:
        for package, name, outcome, goal in TABLES:
            if name not in CHOSEN or (args.only and name not in args.only):
                continue
            row = one_table(name, package, outcome, goal, server.url, args.budget,
                            not args.no_runs)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.stop()
    planned = [r for r in rows if "outcome" in r]
    summary = {
        "table": "all", "plans": len(rows),
        "kept": sum(r["outcome"] == "kept" for r in planned),
        "mended": sum(r["outcome"] == "mended" for r in planned),
        "replaced": sum(r["outcome"] == "replaced" for r in planned),
        "target_right": sum(bool(r.get("target_right")) for r in planned),
        "slowest_try_s": max((r["slowest_try_s"] for r in planned), default=None),
        "median_plan_s": float(np.median([r["plan_s"] for r in rows])) if rows else None,
    }
    pairs = [(r["model_score"], r["rules_score"]) for r in rows
             if r.get("model_score") is not None and r.get("rules_score") is not None]
    if pairs:
        summary["model_minus_rules_mean"] = round(float(np.mean([m - r for m, r in pairs])), 4)
        summary["model_not_worse"] = sum(m >= r - 0.005 for m, r in pairs)
        summary["compared"] = len(pairs)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
