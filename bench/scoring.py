"""Scores, verdicts and the side-by-side summary of the AutoML benchmark.

Pure arithmetic on result records (one per budget, table, split and system), so that the
rules a reader must trust are tested without running any AutoML system:

- `score`: ROC AUC (binary, higher is better), log loss (multiclass, lower), RMSE
  (regression, lower), on the held-out part.
- `verdict`: within LEVEL (0.5%) of the peer's score is "level"; else "better"/"worse" in
  the metric's direction.
- A table's score for a system is the mean over its splits (three for tables under 2,000
  rows); a system that failed on any split of a table has failed on that table.
- `normalised`: per table, over the compared systems, (score - worst) / (best - worst) in
  the metric's direction, so the best system gets 1 and the worst 0; all 1 when every
  system scored the same; a system that failed gets 0.
- Wins/ties/losses of Modelyard against a peer: better/level/worse per table; a failed
  peer is a win, a failed Modelyard a loss, both failed is left out.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

import numpy as np

METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
# Scores within this share of each other are called level.
LEVEL = 0.005
# The systems the summary compares; others in the records (LightGBM with its defaults)
# are a reference column only.
COMPARED = ("modelyard", "autogluon", "flaml")
SMALL_TABLE = 2000
SMALL_SPLITS = 3


def score(task: str, y_true, pred, classes) -> float:
    """The task's metric of `pred` (probabilities in `classes` order, or values)."""
    from sklearn import metrics

    y_true = np.asarray(y_true)
    pred = np.asarray(pred, dtype=float)
    if task == "regression":
        return float(np.sqrt(metrics.mean_squared_error(y_true, pred)))
    if task == "binary":
        return float(metrics.roc_auc_score(y_true == classes[1], pred[:, 1]))
    pred = np.clip(pred, 1e-15, 1)
    pred = pred / pred.sum(axis=1, keepdims=True)
    return float(metrics.log_loss(y_true, pred, labels=classes))


def splits_for(rows: int) -> int:
    """How many train/test splits a table gets: three under SMALL_TABLE rows, else one."""
    return SMALL_SPLITS if rows < SMALL_TABLE else 1


def verdict(metric: str, ours: float, theirs: float) -> str:
    """"better", "level" or "worse" for Modelyard, in the metric's direction."""
    if abs(ours - theirs) <= LEVEL * abs(theirs):
        return "level"
    return "better" if (ours > theirs) == HIGHER_IS_BETTER[metric] else "worse"


def table_scores(records: list[dict]) -> dict[tuple[int, str], dict]:
    """Per (budget, table): metric, rows and each system's mean score, or None if failed."""
    grouped: dict[tuple[int, str], dict] = {}
    by_system: dict[tuple[int, str, str], list] = defaultdict(list)
    for rec in records:
        key = (rec["budget"], rec["table"])
        grouped.setdefault(key, {"metric": rec["metric"], "rows": rec["rows"],
                                 "task": rec["task"], "scores": {}})
        by_system[(*key, rec["system"])].append(rec.get("score"))
    for (budget, table, system), values in by_system.items():
        ok = all(v is not None for v in values)
        grouped[(budget, table)]["scores"][system] = mean(values) if ok else None
    return grouped


def normalised(metric: str, scores: dict[str, float | None]) -> dict[str, float]:
    """Each system's (score - worst) / (best - worst) on one table; failed systems get 0."""
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    ok = {s: sign * v for s, v in scores.items() if v is not None}
    if not ok:
        return {s: 0.0 for s in scores}
    best, worst = max(ok.values()), min(ok.values())
    out = {}
    for system in scores:
        if system not in ok:
            out[system] = 0.0
        elif best == worst:
            out[system] = 1.0
        else:
            out[system] = (ok[system] - worst) / (best - worst)
    return out


def summary(records: list[dict], ours: str = "modelyard",
            compared: tuple[str, ...] = COMPARED) -> dict[int, dict]:
    """Per budget: wins/ties/losses of `ours` against each peer and mean normalised scores."""
    out: dict[int, dict] = {}
    for (budget, _table), row in sorted(table_scores(records).items()):
        present = {s: row["scores"][s] for s in compared if s in row["scores"]}
        if all(v is None for v in present.values()):
            continue
        entry = out.setdefault(budget, {"tables": 0, "wtl": {}, "normalised": defaultdict(list)})
        entry["tables"] += 1
        for system, value in normalised(row["metric"], present).items():
            entry["normalised"][system].append(value)
        mine = present.get(ours)
        for peer, theirs in present.items():
            if peer == ours:
                continue
            wtl = entry["wtl"].setdefault(peer, {"wins": 0, "ties": 0, "losses": 0})
            if mine is None and theirs is None:
                continue
            if theirs is None:
                wtl["wins"] += 1
            elif mine is None:
                wtl["losses"] += 1
            else:
                word = verdict(row["metric"], mine, theirs)
                wtl[{"better": "wins", "level": "ties", "worse": "losses"}[word]] += 1
    for entry in out.values():
        entry["normalised"] = {s: mean(v) for s, v in entry["normalised"].items()}
    return out
