"""The side-by-side bench's records (bench/.work/automl.jsonl) as Markdown for RESULTS.md.

    python -m bench.automl_report [bench/.work/automl.jsonl]

Per budget: each table's score for every system with Modelyard's verdict against each
peer, each system's wall time and peak memory, then wins/ties/losses, the mean normalised
score and how much of the budget each system really used (bench/scoring.py has the rules).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

from bench import scoring

NAMES = {"modelyard": "Modelyard", "autogluon": "AutoGluon", "flaml": "FLAML",
         "lightgbm": "LightGBM defaults"}
ORDER = ("modelyard", "autogluon", "flaml", "lightgbm")


def _cell(value) -> str:
    if value is None:
        return "failed"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows(header: list[str], rows: list[list]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows])


def markdown(records: list[dict]) -> str:
    """Scores, resources and the summary per budget, as Markdown."""
    systems = [s for s in ORDER if any(r["system"] == s for r in records)]
    peers = [s for s in systems if s != "modelyard" and s in scoring.COMPARED]
    scores = scoring.table_scores(records)
    summary = scoring.summary(records)
    use: dict[tuple, list] = defaultdict(list)
    splits: dict[tuple, set] = defaultdict(set)
    for rec in records:
        use[(rec["budget"], rec["table"], rec["system"])].append(rec)
        splits[(rec["budget"], rec["table"])].add(rec["split"])
    lines: list[str] = []
    for budget in sorted({r["budget"] for r in records}):
        keys = [k for k in scores if k[0] == budget]
        lines += [f"### {budget} s budget: test scores", ""]
        rows = []
        for key in keys:
            row = scores[key]
            ours = row["scores"].get("modelyard")
            verdicts = []
            for peer in peers:
                theirs = row["scores"].get(peer)
                verdicts.append("-" if ours is None or theirs is None
                                else scoring.verdict(row["metric"], ours, theirs))
            rows.append([key[1], row["rows"], len(splits[key]), row["metric"],
                         *[row["scores"].get(s, "") for s in systems], *verdicts])
        lines += _rows(["table", "rows", "splits", "metric", *[NAMES[s] for s in systems],
                        *[f"vs {NAMES[p]}" for p in peers]], rows) + [""]
        lines += [f"### {budget} s budget: wall seconds (mean over splits) and peak MiB "
                  "(largest, process tree: summed RSS, and summed PSS where measured)", ""]
        rows = []
        for key in keys:
            cells = []
            for s in systems:
                recs = [r for r in use[(*key, s)] if "wall_s" in r]
                pss = [r["peak_pss_mib"] for r in recs if r.get("peak_pss_mib") is not None]
                cells += [mean(r["wall_s"] for r in recs) if recs else "",
                          max(r["peak_mib"] for r in recs) if recs else "",
                          max(pss) if pss else ""]
            rows.append([key[1], *cells])
        lines += _rows(["table", *[f"{NAMES[s]} {w}" for s in systems
                                   for w in ("s", "RSS MiB", "PSS MiB")]], rows) + [""]
        entry = summary.get(budget)
        if entry:
            lines += [f"### {budget} s budget: summary over {entry['tables']} tables", ""]
            rows = []
            for peer in peers:
                wtl = entry["wtl"].get(peer, {"wins": 0, "ties": 0, "losses": 0})
                rows.append([f"Modelyard vs {NAMES[peer]}",
                             f"{wtl['wins']}/{wtl['ties']}/{wtl['losses']}"])
            for s in scoring.COMPARED:
                if s in entry["normalised"]:
                    rows.append([f"mean normalised score, {NAMES[s]}",
                                 round(entry["normalised"][s], 3)])
            # The whole command (Python's start, reading the table), then the system's
            # own training call (Modelyard: its Run, launch to end; the peers: fit()).
            for key, words in (("wall_s", "wall time"), ("fit_s", "own fit time")):
                for s in systems:
                    ratios = [r[key] / budget for r in records
                              if r["budget"] == budget and r["system"] == s and key in r]
                    if ratios:
                        rows.append([f"{words} / budget, {NAMES[s]} (median, largest)",
                                     f"{sorted(ratios)[len(ratios) // 2]:.2f}, "
                                     f"{max(ratios):.2f}"])
            lines += _rows(["", "wins/ties/losses or value"], rows) + [""]
    failed = [r for r in records if r.get("score") is None]
    if failed:
        lines += ["Failed runs:", ""]
        lines += [f"- {r['table']} split {r['split']}, {NAMES.get(r['system'], r['system'])} "
                  f"at {r['budget']} s: {str(r.get('error', ''))[-200:].strip()!r}"
                  for r in failed] + [""]
    return "\n".join(lines)


def main() -> None:
    from bench.automl_vs_flaml import DEFAULT_RESULTS, load_results

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RESULTS
    print(markdown(load_results(path)))


if __name__ == "__main__":
    main()
