"""Modelyard's latest records at one budget against the peers' scores as an earlier
side-by-side run printed them in bench/RESULTS.md (a "test scores" table: per table the
mean over its splits, which is what the summary compares): wins/ties/losses and the mean
normalised score, for re-measuring Modelyard alone after a change (the peers' code did
not change; their runs take most of the bench's hours).

    python -m bench.compare_recorded --budget 60 --heading "### 60 s budget at `cfb1f46`"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import scoring
from bench.automl_vs_flaml import DEFAULT_RESULTS, load_results

HERE = Path(__file__).resolve().parent
PEERS = {"AutoGluon": "autogluon", "FLAML": "flaml"}


def recorded(heading: str, budget: int) -> list[dict]:
    """The peers' per-table scores from the test-scores table under `heading`."""
    lines = (HERE / "RESULTS.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    header = next(i for i in range(start, len(lines)) if lines[i].startswith("| table |"))
    names = [c.strip() for c in lines[header].strip("|").split("|")]
    out = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(names, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for shown, system in PEERS.items():
            out.append({"budget": budget, "table": cells["table"], "split": 0,
                        "system": system, "rows": int(cells["rows"]), "task": "",
                        "metric": cells["metric"], "score": float(cells[shown])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--heading", required=True)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()
    peers = recorded(args.heading, args.budget)
    tables = {r["table"] for r in peers}
    ours = [r for r in load_results(args.results) if r["budget"] == args.budget
            and r["system"] == "modelyard" and r["table"] in tables]
    rows = scoring.table_scores(ours + peers)
    for (_, table), row in sorted(rows.items(), key=lambda kv: kv[0][1]):
        mine = row["scores"].get("modelyard")
        verdicts = {p: "-" if mine is None else scoring.verdict(row["metric"], mine, v)
                    for p, v in row["scores"].items() if p != "modelyard"}
        print(f"{table:14s} {row['metric']:9s} modelyard {mine!s:22.22s} "
              f"autogluon {row['scores'].get('autogluon')!s:10.10s} "
              f"flaml {row['scores'].get('flaml')!s:10.10s} {verdicts}")
    entry = scoring.summary(ours + peers)[args.budget]
    print(entry["tables"], "tables;", {p: w for p, w in entry["wtl"].items()})
    print("mean normalised score", {s: round(v, 3) for s, v in entry["normalised"].items()})
    commits = sorted({r.get("commit", "?") for r in ours})
    print("Modelyard records from", commits)


if __name__ == "__main__":
    main()
