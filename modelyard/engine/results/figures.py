"""Plotly figures of results: plain data in (from diagnostics, explain, storage), a figure
out. The pages and the HTML report draw the same figures. Names from the data (classes,
columns, the target) pass through `escape.plotly_text`: plotly renders markup in labels."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from modelyard.engine.results import scales, words
from modelyard.engine.results.escape import plotly_text
from modelyard.engine.results.explain import Contributions
from modelyard.schemas import ACTIVE_STATUSES

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
    # Room on the right: the labels sit outside the bars and were cut off at the edge.
    fig = _figure(f"Why this prediction: contributions to the {plotly_text(c.output)}",
                  height=max(300, 90 + 24 * len(names)),
                  margin=dict(l=10, r=70, t=50, b=10))
    fig.add_waterfall(y=names, x=numbers, measure=measures, orientation="h",
                      text=[f"{v:+.3g}" for v in numbers], textposition="outside",
                      cliponaxis=False)
    fig.update_layout(yaxis_autorange="reversed", showlegend=False)
    return fig


# -- the leaderboard ---------------------------------------------------------------------------
def _scale_scores(fig: go.Figure, scores, greater_is_better: bool, baseline: float | None,
                  quantile: float = scales.LOW_QUANTILE) -> str:
    """Scale the y axis to the competing scores (`engine/results/scales.py`); draw the
    baseline as a labelled line when it is in range. Returns words for the title about
    what the axis leaves out ("" when nothing)."""
    axis = scales.score_range(scores, greater_is_better, baseline, quantile)
    if axis is None:
        return ""
    fig.update_layout(yaxis_range=axis.range)
    notes = []
    if baseline is not None:
        if axis.baseline_shown:
            fig.add_hline(y=baseline, line_dash="dot", line_color="grey",
                          annotation_text=f"baseline {baseline:.4g}",
                          annotation_position="bottom right")
        else:
            notes.append(scales.baseline_words(baseline, axis))
    if axis.hidden:
        notes.append(f"{words.plural(axis.hidden, 'weaker trial')} off the scale")
    return "; ".join(notes)


def _with_note(fig: go.Figure, title: str, note: str) -> None:
    """The title, and under it in small type what the axis leaves out."""
    if note:
        fig.update_layout(title=f"{title}<br><sup>{note}</sup>")


def _infer_greater(best: pd.Series) -> bool:
    """Whether the best-so-far column rises (a higher-is-better metric)."""
    return len(best) < 2 or best.iloc[-1] >= best.iloc[0]


def best_over_time_figure(points: list[dict[str, Any]], metric: str = "score",
                          greater_is_better: bool | None = None) -> go.Figure:
    """Each Run's best score so far as a step line that reaches the end of its search
    (`end_seconds`), on an axis scaled to the real models (the baseline's first step is
    not what sets it)."""
    title = f"Best {words.metric_name(metric)} so far, per run"
    fig = _figure(title)
    frame = pd.DataFrame(points)
    if not len(frame):
        return fig
    if greater_is_better is None:
        greater_is_better = _infer_greater(frame["best"])
    for run_id, group in frame.groupby("run_id", sort=False):
        x, y, text = list(group["seconds"]), list(group["best"]), list(group["model"])
        end = group["end_seconds"].max() if "end_seconds" in group else None
        if end is not None and pd.notna(end) and end > x[-1]:
            # The best stays the best until the search ends: draw it that long.
            x, y, text = [*x, float(end)], [*y, y[-1]], [*text, "end of the search"]
        fig.add_scatter(x=x, y=y, mode="lines+markers", line_shape="hv",
                        name=plotly_text(str(group["run_name"].iloc[0] or run_id)),
                        hovertext=text)
    # The axis: from the worse end of each run's real models (`worse_end`) to the best;
    # the baseline's first step is left below it.
    dummy = frame["model"].astype(str).str.startswith("dummy_")
    real = list(frame.loc[~dummy, "best"])
    if "worse_end" in frame:
        real += list(frame["worse_end"].dropna().unique())
    baseline = frame.loc[dummy, "best"].iloc[0] if dummy.any() else None
    note = _scale_scores(fig, real, greater_is_better, baseline, quantile=0.0)
    _with_note(fig, title, note)
    fig.update_layout(xaxis_title="seconds since the run started",
                      yaxis_title=words.metric_name(metric), xaxis_rangemode="tozero",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def history_figure(history: dict[str, Any], metric: str,
                   greater_is_better: bool | None = None) -> go.Figure:
    frame = pd.DataFrame(history["points"])
    shown = len(frame)
    note = f" (showing {shown} of {history['total']})" if shown < history["total"] else ""
    name = words.metric_name(metric)
    title = f"Search history: every trial's {name}{note}"
    fig = _figure(title)
    for family, group in (frame.groupby("family", sort=False) if shown else []):
        fig.add_scattergl(x=group["n"], y=group["cv_score"], mode="markers",
                          name=words.family_name(family), marker=dict(size=6, opacity=0.7),
                          hovertext=group["model"])
    if shown:
        fig.add_scatter(x=frame["n"], y=frame["best"], mode="lines", line_shape="hv",
                        name="best so far", line=dict(color="black"))
        if greater_is_better is None:
            greater_is_better = _infer_greater(frame["best"])
        dummy = frame["family"] == "dummy"
        baseline = frame.loc[dummy, "cv_score"].iloc[0] if dummy.any() else None
        _with_note(fig, title, _scale_scores(fig, frame.loc[~dummy, "cv_score"],
                                             greater_is_better, baseline))
    fig.update_layout(xaxis_title="trial (in the order they finished)", yaxis_title=name,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def _run_start(run: dict[str, Any], first_finished: float) -> float:
    """When the Run started, for "seconds into the run": its worker's start; for a Run given
    more time (its worker started again after earlier trials), its creation."""
    started = run.get("started_at") or run.get("created_at") or first_finished
    if first_finished < started:
        return run.get("created_at") or first_finished
    return started


def _run_end(run: dict[str, Any], last_finished: float) -> float:
    """Until when the best so far holds: the Run's end; while it trains, now."""
    if run.get("status") in {s.value for s in ACTIVE_STATUSES}:
        return max(time.time(), last_finished)
    return max(run.get("finished_at") or last_finished, last_finished)


def trials_figure(trials: list[dict[str, Any]], run: dict[str, Any],
                  baseline: float | None = None) -> go.Figure:
    """A Run's finished trials by when they finished (seconds into the run) and their
    score, with the best so far as a step line to the end of the run; the y axis spans the
    competing trials, with the `baseline` drawn as a line when it is in range."""
    metric = words.metric_name(run.get("metric"))
    title = f"Trials ({metric}, {words.direction(run.get('greater_is_better'))})"
    # The legend is a column right of the plot, which makes room for it: above the plot,
    # nine families' names (the stack's is long) wrapped into rows over the title.
    fig = _figure(title, margin=dict(l=10, r=10, t=60, b=10),
                  legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
    frame = pd.DataFrame(trials)
    if not len(frame):
        return fig
    frame = frame.sort_values("finished_at", kind="stable")
    start = _run_start(run, frame["finished_at"].min())
    frame["seconds"] = frame["finished_at"] - start
    for family, group in frame.groupby("family", sort=False):
        fig.add_scatter(x=group["seconds"], y=group["cv_score"], mode="markers",
                        name=words.family_name(family), hovertext=group["model"])
    greater = bool(run.get("greater_is_better"))
    best = frame["cv_score"].cummax() if greater else frame["cv_score"].cummin()
    x, y = list(frame["seconds"]), list(best)
    end = _run_end(run, float(frame["finished_at"].max())) - start
    if end > x[-1]:  # the best holds until the run ends: draw it that long
        x, y = [*x, end], [*y, y[-1]]
    fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", name="best so far",
                    line=dict(color="black"))
    note = _scale_scores(fig, frame["cv_score"], greater, baseline)
    _with_note(fig, title, note)
    if note:  # room for the title's second line
        fig.update_layout(margin=dict(l=10, r=10, t=90, b=10), height=400)
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


def speed_figure(speed: dict[str, Any], metric: str, axis: str = "fit_seconds",
                 greater_is_better: bool = True) -> go.Figure:
    what = "fit" if axis == "fit_seconds" else "predict"
    frame = pd.DataFrame(speed["points"])
    name = words.metric_name(metric)
    title = (f"{name[:1].upper()}{name[1:]} against {what} time; the line is the Pareto "
             "front (nothing faster scores as well)")
    fig = _figure(title)
    if len(frame):
        frame = frame[frame[axis].notna() & (frame[axis] > 0)]
        front_key = f"{what}_front"
        for family, group in frame.groupby("family", sort=False):
            fig.add_scattergl(x=group[axis], y=group["cv_score"], mode="markers",
                              name=words.family_name(family), hovertext=group["model"],
                              marker=dict(size=6, opacity=0.6))
        front = frame[frame[front_key]].sort_values(axis)
        fig.add_scatter(x=front[axis], y=front["cv_score"], mode="lines+markers",
                        line_shape="hv", name="Pareto front", hovertext=front["model"],
                        line=dict(color="black"), marker=dict(symbol="diamond", size=9))
        # Plain durations as tick labels: plotly's own log ticks read "6 7 8 9 0.1 2 3".
        values, labels = scales.time_ticks(frame[axis])
        fig.update_xaxes(tickmode="array", tickvals=values, ticktext=labels)
        dummy = frame["family"] == "dummy"
        baseline = frame.loc[dummy, "cv_score"].iloc[0] if dummy.any() else None
        _with_note(fig, title, _scale_scores(fig, frame.loc[~dummy, "cv_score"],
                                             greater_is_better, baseline))
    fig.update_layout(xaxis_type="log", xaxis_title=f"{what} time (log scale)",
                      yaxis_title=name, legend=dict(orientation="h", y=-0.2))
    return fig


def family_bars_figure(summary: list[dict[str, Any]], metric: str,
                       greater_is_better: bool = True) -> go.Figure:
    """Each family's best score as a dot on an axis scaled to the competing families (a
    bar would have to start at zero, where 0.98 and 0.995 look the same); the baseline
    family as a line."""
    frame = pd.DataFrame([s for s in summary if s.get("best_score") is not None])
    name = words.metric_name(metric)
    title = f"Best {name} per model family ({words.direction(greater_is_better)})"
    fig = _figure(title)
    if len(frame):
        dummy = frame["family"] == "dummy"
        baseline = frame.loc[dummy, "best_score"].iloc[0] if dummy.any() else None
        shown = frame[~dummy].sort_values("best_score", ascending=greater_is_better)
        fig.add_scatter(x=shown["best_score"], y=shown["family"].map(words.family_name),
                        mode="markers+text", marker=dict(size=12),
                        text=[f"{v:.4f}" for v in shown["best_score"]],
                        textposition="top center", cliponaxis=False, showlegend=False)
        axis = scales.score_range(shown["best_score"], greater_is_better, baseline, 0.0)
        note = ""
        if axis is not None:
            fig.update_layout(xaxis_range=axis.range,
                              height=max(260, 90 + 40 * len(shown)))
            if baseline is not None and axis.baseline_shown:
                fig.add_vline(x=baseline, line_dash="dot", line_color="grey",
                              annotation_text=f"baseline {baseline:.4g}")
            elif baseline is not None:
                note = scales.baseline_words(baseline, axis, ("left of", "right of"))
        _with_note(fig, title, note)
    fig.update_layout(xaxis_title=name)
    return fig
