"""What the Model page shows of a forecasting Run, and its figure: per series, the history,
the backtest forecasts next to what happened, and the forecast with its intervals."""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelyard.engine.training.bundle import has_metadata, read_metadata
from modelyard.storage.runfolder import RunFolder


def forecast_views(folder: RunFolder) -> dict[str, Any] | None:
    """{"setup", "history", "backtests", "forecast", "series"} for a forecasting Run's
    model (frames with `unique_id`, `ds`); None when the Run has no forecasting model."""
    model_dir = folder.model_dir
    if not has_metadata(model_dir):
        return None
    meta = read_metadata(model_dir).as_dict()
    if meta.get("kind") != "forecast":
        return None
    setup = meta["forecast"]
    history = pd.read_parquet(model_dir / "history.parquet")
    backtests = pd.read_parquet(model_dir / "backtests.parquet")
    forecast = pd.DataFrame()
    if folder.predictions_path.exists():
        forecast = pd.read_csv(folder.predictions_path)
        forecast = forecast.rename(columns={setup["time_column"]: "ds",
                                            meta["target"]: "yhat"})
        if setup.get("series_column"):
            forecast = forecast.rename(columns={setup["series_column"]: "unique_id"})
        else:
            forecast["unique_id"] = history["unique_id"].iloc[0]
        forecast["unique_id"] = forecast["unique_id"].astype(str)
        forecast["ds"] = pd.to_datetime(forecast["ds"])
    return {"setup": setup, "target": meta["target"], "history": history,
            "backtests": backtests, "forecast": forecast,
            "series": [str(u) for u in history["unique_id"].unique()],
            "window_scores": setup.get("window_scores", []), "metric": meta.get("metric")}


def series_figure(views: dict[str, Any], series: str):
    """A plotly figure of one series: history, backtests, forecast and its 80%/95% bands."""
    import plotly.graph_objects as go

    from modelyard.engine.results.escape import plotly_text

    history = views["history"][views["history"]["unique_id"] == series]
    backtests = views["backtests"][views["backtests"]["unique_id"] == series]
    forecast = views["forecast"]
    forecast = forecast[forecast["unique_id"] == series] if len(forecast) else forecast
    fig = go.Figure()
    fig.add_scatter(x=history["ds"], y=history["y"], name="history", mode="lines",
                    line={"color": "#444"})
    for k, part in backtests.groupby("window"):
        fig.add_scatter(x=part["ds"], y=part["forecast"], mode="lines",
                        name=f"backtest {int(k) + 1}", line={"dash": "dot", "color": "#e67e22"},
                        legendgroup="backtests", showlegend=int(k) == 0)
    if len(forecast):
        for level, alpha in ((95, 0.15), (80, 0.3)):
            fig.add_scatter(x=list(forecast["ds"]) + list(forecast["ds"][::-1]),
                            y=list(forecast[f"hi_{level}"]) + list(forecast[f"lo_{level}"][::-1]),
                            fill="toself", mode="lines", line={"width": 0},
                            fillcolor=f"rgba(31,119,180,{alpha})", name=f"{level}% interval")
        fig.add_scatter(x=forecast["ds"], y=forecast["yhat"], name="forecast", mode="lines",
                        line={"color": "#1f77b4", "width": 3})
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis_title=plotly_text(views["setup"]["time_column"]),
                      yaxis_title=plotly_text(views["target"]),
                      legend={"orientation": "h", "y": -0.25})
    return fig
