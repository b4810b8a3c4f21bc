"""Plotly figures of results: plain data in (from diagnostics, explain, storage), a figure
out. The pages and the HTML report draw the same figures. Names from the data (classes,
columns, the target) pass through `escape.plotly_text`: plotly renders markup in labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from modelyard.engine.results.escape import plotly_text
from modelyard.engine.results.explain import Contributions

_LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), height=380, template="plotly_white")


def _figure(title: str, **layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, **{**_LAYOUT, **layout})
    return fig


# -- the best model's diagnostics --------------------------------------------------------------
def confusion_figure(cm: dict[str, Any], share: bool = False) -> go.Figure:
    z = np.asarray(cm["share"] if share else cm["counts"], dtype=float)
    text = [[f"{v:.0%}" if share else f"{int(v)}" for v in row] for row in z]
    title = "Confusion matrix" + (" (share of each true class)" if share else " (rows)")
    if cm.get("threshold") is not None:
        title += f" at threshold {cm['threshold']:.2f}"
    fig = _figure(title, height=max(320, 110 + 45 * len(cm["labels"])))
    labels = [plotly_text(label) for label in cm["labels"]]
    fig.add_heatmap(z=z, x=labels, y=labels, text=text, texttemplate="%{text}",
                    colorscale="Blues", showscale=False,
                    hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>")
    fig.update_layout(xaxis_title="predicted", yaxis_title="true",
                      yaxis_autorange="reversed", xaxis_type="category",
                      yaxis_type="category")
    return fig


def roc_figure(curves: list[dict[str, Any]]) -> go.Figure:
    fig = _figure("ROC curve: true positives against false alarms")
    for c in curves:
        fig.add_scatter(x=c["fpr"], y=c["tpr"], mode="lines",
                        name=f"{plotly_text(c['class'])} (AUC {c['auc']:.3f})")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="guessing",
                    line=dict(dash="dot", color="grey"))
    fig.update_layout(xaxis_title="false positive rate", yaxis_title="true positive rate",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02])
    return fig


def pr_figure(curves: list[dict[str, Any]]) -> go.Figure:
    fig = _figure("Precision against recall")
    for c in curves:
        fig.add_scatter(x=c["recall"], y=c["precision"], mode="lines",
                        name=f"{plotly_text(c['class'])} (AP {c['average_precision']:.3f})")
        fig.add_scatter(x=[0, 1], y=[c["base_rate"]] * 2, mode="lines", showlegend=False,
                        line=dict(dash="dot", color="grey"), hoverinfo="skip")
    fig.update_layout(xaxis_title="recall (share of the class found)",
                      yaxis_title="precision (share of alarms that were right)",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02])
    return fig


def calibration_figure(cal: dict[str, Any]) -> go.Figure:
    fig = _figure(f"Calibration: {plotly_text(cal['label'])} against how often it was right")
    fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"],
                    mode="lines+markers", name="model")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                    line=dict(dash="dot", color="grey"))
    fig.update_layout(xaxis_title="predicted probability", yaxis_title="observed frequency",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02])
    return fig


def predicted_vs_actual_figure(reg: dict[str, Any], target: str) -> go.Figure:
    target = plotly_text(target)
    fig = _figure(f"Predicted against actual {target}")
    fig.add_scattergl(x=reg["actual"], y=reg["predicted"], mode="markers", name="rows",
                      marker=dict(size=5, opacity=0.5))
    lo = float(min(min(reg["actual"]), min(reg["predicted"])))
    hi = float(max(max(reg["actual"]), max(reg["predicted"])))
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                    line=dict(dash="dot", color="grey"))
    fig.update_layout(xaxis_title=f"actual {target}", yaxis_title=f"predicted {target}")
    return fig


def residuals_figure(reg: dict[str, Any], target: str) -> go.Figure:
    target = plotly_text(target)
    fig = _figure("Residuals (actual − predicted) against the prediction")
    fig.add_scattergl(x=reg["predicted"], y=reg["residual"], mode="markers", name="rows",
                      marker=dict(size=5, opacity=0.5))
    fig.add_hline(y=0, line_dash="dot", line_color="grey")
    fig.update_layout(xaxis_title=f"predicted {target}", yaxis_title="residual",
                      showlegend=False)
    return fig


def importance_figure(frame: pd.DataFrame, top: int = 25) -> go.Figure:
    shown = frame.head(top).iloc[::-1]
    kind = frame["kind"].iloc[0] if "kind" in frame and len(frame) else ""
    fig = _figure(f"Feature importance ({kind})", height=max(260, 70 + 22 * len(shown)))
    error = dict(type="data", array=shown["spread"].tolist()) if "spread" in shown else None
    fig.add_bar(x=shown["importance"], y=shown["feature"].map(plotly_text), orientation="h",
                error_x=error)
    return fig


def contributions_figure(c: Contributions, top: int = 15) -> go.Figure:
    values = c.values.head(top)
    rest = float(c.values.iloc[top:].sum()) if len(c.values) > top else None
    names = ["baseline", *map(plotly_text, values.index)] + (
        ["other columns"] if rest else []) + ["prediction"]
    numbers = [c.base, *values.tolist()] + ([rest] if rest else []) + [c.total]
    measures = ["absolute"] + ["relative"] * (len(numbers) - 2) + ["total"]
    fig = _figure(f"Why this prediction: contributions to the {plotly_text(c.output)}",
                  height=max(300, 90 + 24 * len(names)))
    fig.add_waterfall(y=names, x=numbers, measure=measures, orientation="h",
                      text=[f"{v:+.3g}" for v in numbers], textposition="outside",
                      cliponaxis=False)
    fig.update_layout(yaxis_autorange="reversed", showlegend=False)
    return fig


# -- the leaderboard ---------------------------------------------------------------------------
def best_over_time_figure(points: list[dict[str, Any]], metric: str = "score") -> go.Figure:
    fig = _figure(f"Best {metric} so far, per run")
    frame = pd.DataFrame(points)
    for run_id, group in (frame.groupby("run_id", sort=False) if len(frame) else []):
        fig.add_scatter(x=group["seconds"], y=group["best"], mode="lines+markers",
                        line_shape="hv", name=str(group["run_name"].iloc[0] or run_id),
                        hovertext=group["model"])
    fig.update_layout(xaxis_title="seconds since the run started", yaxis_title=metric,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def history_figure(history: dict[str, Any], metric: str) -> go.Figure:
    frame = pd.DataFrame(history["points"])
    shown = len(frame)
    note = f" (showing {shown} of {history['total']})" if shown < history["total"] else ""
    fig = _figure(f"Optimisation history: every trial's {metric}{note}")
    for family, group in (frame.groupby("family", sort=False) if shown else []):
        fig.add_scattergl(x=group["n"], y=group["cv_score"], mode="markers", name=family,
                          marker=dict(size=6, opacity=0.7), hovertext=group["model"])
    if shown:
        fig.add_scatter(x=frame["n"], y=frame["best"], mode="lines", line_shape="hv",
                        name="best so far", line=dict(color="black"))
    fig.update_layout(xaxis_title="trial (in the order they finished)", yaxis_title=metric,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def _run_start(run: dict[str, Any], first_finished: float) -> float:
    """When the Run started, for "seconds into the run": its worker's start; for a Run given
    more time (its worker started again after earlier trials), its creation."""
    started = run.get("started_at") or run.get("created_at") or first_finished
    if first_finished < started:
        return run.get("created_at") or first_finished
    return started


def trials_figure(trials: list[dict[str, Any]], run: dict[str, Any],
                  baseline: float | None = None) -> go.Figure:
    """A Run's finished trials by when they finished (seconds into the run) and their
    score, with the best so far as a step line; `baseline` is said in the title."""
    metric = run.get("metric") or "score"
    title = f"Trials ({metric})"
    if baseline is not None:
        # In the title: as a point it would squash every real model's scale.
        title += f"; the baseline that ignores the features scores {baseline:.4g}"
    # The legend sits above the plot, so it never covers the axis or its title.
    fig = _figure(title, margin=dict(l=10, r=10, t=90, b=10),
                  legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    frame = pd.DataFrame(trials)
    if not len(frame):
        return fig
    frame = frame.sort_values("finished_at", kind="stable")
    frame["seconds"] = frame["finished_at"] - _run_start(run, frame["finished_at"].min())
    for family, group in frame.groupby("family", sort=False):
        fig.add_scatter(x=group["seconds"], y=group["cv_score"], mode="markers", name=family,
                        hovertext=group["model"])
    best = frame["cv_score"].cummax() if run.get("greater_is_better") \
        else frame["cv_score"].cummin()
    fig.add_scatter(x=frame["seconds"], y=best, mode="lines", line_shape="hv",
                    name="best so far", line=dict(color="black"))
    fig.update_layout(xaxis_title="seconds into the run", yaxis_title=metric,
                      xaxis_rangemode="tozero")
    return fig


def param_importance_figure(importance: dict[str, float], family: str) -> go.Figure:
    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig = _figure(f"Which {family} settings mattered (Optuna PED-ANOVA)",
                  height=max(240, 70 + 28 * len(items)))
    fig.add_bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h")
    fig.update_layout(xaxis_title="share of the score's variation", xaxis_tickformat=".0%")
    return fig


def parallel_figure(table: pd.DataFrame, metric: str) -> go.Figure:
    dims = []
    for col in [c for c in table.columns if c not in ("model", "cv_score")]:
        values = table[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numeric = values.astype(float)
            log = numeric.min() > 0 and numeric.max() / numeric.min() > 100
            dims.append(dict(label=f"log10 {col}" if log else col,
                             values=np.log10(numeric) if log else numeric))
        else:
            labels = sorted(values.astype(str).unique())
            codes = values.astype(str).map({v: i for i, v in enumerate(labels)})
            dims.append(dict(label=col, values=codes, tickvals=list(range(len(labels))),
                             ticktext=labels))
    dims.append(dict(label=metric, values=table["cv_score"]))
    fig = _figure(f"Settings of each trial and its {metric}", height=420)
    fig.add_parcoords(dimensions=dims, line=dict(color=table["cv_score"],
                                                 colorscale="Viridis", showscale=True))
    return fig


def speed_figure(speed: dict[str, Any], metric: str, axis: str = "fit_seconds") -> go.Figure:
    what = "fit" if axis == "fit_seconds" else "predict"
    frame = pd.DataFrame(speed["points"])
    fig = _figure(f"{metric} against {what} time; the line is the Pareto front "
                  "(nothing faster scores as well)")
    if len(frame):
        frame = frame[frame[axis].notna() & (frame[axis] > 0)]
        front_key = f"{what}_front"
        for family, group in frame.groupby("family", sort=False):
            fig.add_scattergl(x=group[axis], y=group["cv_score"], mode="markers", name=family,
                              marker=dict(size=6, opacity=0.6), hovertext=group["model"])
        front = frame[frame[front_key]].sort_values(axis)
        fig.add_scatter(x=front[axis], y=front["cv_score"], mode="lines+markers",
                        line_shape="hv", name="Pareto front", hovertext=front["model"],
                        line=dict(color="black"), marker=dict(symbol="diamond", size=9))
    fig.update_layout(xaxis_type="log", xaxis_title=f"{what} time (s, log scale)",
                      yaxis_title=metric, legend=dict(orientation="h", y=-0.2))
    return fig


def family_bars_figure(summary: list[dict[str, Any]], metric: str) -> go.Figure:
    frame = pd.DataFrame([s for s in summary if s.get("best_score") is not None])
    fig = _figure(f"Best {metric} per model family")
    if len(frame):
        fig.add_bar(x=frame["family"], y=frame["best_score"],
                    text=[f"{v:.4f}" for v in frame["best_score"]], textposition="outside")
    fig.update_layout(yaxis_title=metric)
    return fig
