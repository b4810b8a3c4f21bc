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


def say_labels(meta: dict[str, Any]) -> str:
    """What a multi-label model predicts, in words: its labels."""
    names = meta.get("labels") or []
    shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
    return f"{len(names)} labels ({shown})"


def on_labels(meta: dict[str, Any], predicted) -> str:
    """The labels a one-row prediction turned on, joined with ", "."""
    row = predicted.iloc[0]
    if meta.get("separator"):
        return ", ".join(x for x in str(row[meta["target"]]).split(meta["separator"]) if x)
    return ", ".join(n for n in meta.get("labels") or [] if int(row[n]) == 1)
