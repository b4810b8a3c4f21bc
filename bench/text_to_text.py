"""Text to text: the copy baseline vs Modelyard's text-to-text run on held-out inputs.

Pairs are spelled out by num2words (bench/text_pairs.py); the test inputs never occur
in training. `modelyard run pairs.csv --target spoken --test test.csv --budget B` trains
through the real worker (baselines + the character transformer, on the CPU unless a GPU
is there); its predictions.csv is scored against the held-back spoken forms, next to
copying the input unchanged. The machine's load average is recorded: the budget is wall
time, so a busy machine gives the network fewer steps.

    python -m bench.text_to_text --train 3000 --test 500 --budget 300
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

import pandas as pd

from bench.text_pairs import split
from modelyard.engine.text_to_text.score import cer, exact_match


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = split(args.train, args.test, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train.to_csv(root / "pairs.csv", index=False)
        test[["written"]].to_csv(root / "test.csv", index=False)
        env = {**os.environ, "MODELYARD_HOME": str(root / "home"),
               "OLLAMA_HOST": "http://127.0.0.1:9"}
        load_before = os.getloadavg()[0]
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "modelyard.app.cli", "run", str(root / "pairs.csv"),
             "--target", "spoken", "--test", str(root / "test.csv"), "--budget",
             str(args.budget), "--out", str(root / "out"), "--json"],
            capture_output=True, text=True, env=env, timeout=args.budget * 4 + 300)
        seconds = time.monotonic() - began
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        summary = json.loads(done.stdout)
        predicted = pd.read_csv(root / "out" / "predictions.csv", keep_default_na=False)
        board = pd.read_csv(root / "out" / "leaderboard.csv")
    wanted = test["spoken"].tolist()
    got = predicted["spoken"].astype(str).tolist()
    copied = test["written"].tolist()
    held = {row["family"]: row["cv_score"] for _, row in board.iterrows()}
    rows = [
        {"model": "copy the input", "exact_match": exact_match(copied, wanted),
         "cer": cer(copied, wanted)},
        {"model": f"modelyard run ({summary['best_model']})",
         "exact_match": exact_match(got, wanted), "cer": cer(got, wanted)},
    ]
    print(json.dumps({"train_pairs": len(train), "test_pairs": len(test),
                      "budget_s": args.budget, "wall_s": round(seconds, 1),
                      "load_avg_before": round(load_before, 2),
                      "load_avg_after": round(os.getloadavg()[0], 2),
                      "held_out_exact_match_by_family": held, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
