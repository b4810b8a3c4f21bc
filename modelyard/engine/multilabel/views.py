"""A multi-label bundle's numbers in words and rows, for the Model page and the CLI."""

from __future__ import annotations

from typing import Any

from modelyard.engine.results.words import metric_name
from modelyard.schemas import Metric


def score_lines(meta: dict[str, Any]) -> list[str]:
    """"F1 (micro) **0.55**", ... for every multi-label metric the bundle recorded."""
    scores = meta.get("scores") or {}
    return [f"{metric_name(Metric(k))} **{v:.3f}**" for k, v in scores.items()
            if v is not None]


def label_table(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per label: its name, support, threshold, F1 (there and at 0.5), ROC AUC."""
    rows = []
    for r in meta.get("per_label") or []:
        rows.append({"Label": r["label"],
                     "Support": f"{r['support']:,} of {r['rows']:,}",
                     "Threshold": round(r["threshold"], 3),
                     "F1": round(r["f1"], 3),
                     "F1 at 0.5": round(r["f1_at_0.5"], 3),
                     "ROC AUC": None if r["roc_auc"] is None else round(r["roc_auc"], 3)})
    return rows
