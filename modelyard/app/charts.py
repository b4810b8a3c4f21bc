"""Plotly figures of a Profile for the Data page: plain data in, a figure out. Names and
values from the data pass through `plotly_text`: plotly reads `<b>` and `<a href>` in
titles, axis titles and tick labels."""

from __future__ import annotations

import plotly.graph_objects as go

from modelyard.engine.results.escape import plotly_text as _t
from modelyard.schemas import ColumnKind, ColumnProfile, Profile

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=320)


def _figure(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def column_chart(col: ColumnProfile) -> go.Figure | None:
    """A histogram for numbers, bars of the most common values for categories."""
    if col.top_values and (col.kind is not ColumnKind.numeric or col.n_distinct <= 20):
        values, counts = zip(*col.top_values, strict=True)
        fig = _figure(f"Most common values of “{_t(col.name)}”")
        fig.add_bar(x=list(counts)[::-1], y=[_t(v) for v in values][::-1], orientation="h")
        fig.update_layout(xaxis_title="rows")
        return fig
    if col.histogram:
        fig = _figure(f"Distribution of “{_t(col.name)}”")
        fig.add_bar(x=[(lo + hi) / 2 for lo, hi, _ in col.histogram],
                    y=[n for _, _, n in col.histogram],
                    width=[hi - lo for lo, hi, _ in col.histogram])
        fig.update_layout(xaxis_title=_t(col.name), yaxis_title="rows", bargap=0.02)
        return fig
    return None


def missingness(profile: Profile) -> go.Figure | None:
    gaps = sorted((c for c in profile.columns if c.n_missing), key=lambda c: c.missing_share)
    if not gaps:
        return None
    fig = _figure("Missing values by column")
    fig.add_bar(x=[c.missing_share for c in gaps], y=[_t(c.name) for c in gaps],
                orientation="h")
    fig.update_layout(xaxis_tickformat=".0%", xaxis_range=[0, 1],
                      height=max(200, 60 + 22 * len(gaps)))
    return fig


def correlation_heatmap(profile: Profile) -> go.Figure | None:
    corr = profile.correlations
    if corr is None or len(corr.columns) < 2:
        return None
    fig = _figure("Correlation between numeric columns")
    names = [_t(c) for c in corr.columns]
    fig.add_heatmap(z=corr.values, x=names, y=names, zmin=-1, zmax=1,
                    colorscale="RdBu", reversescale=True)
    size = min(700, 120 + 24 * len(corr.columns))
    fig.update_layout(height=size)
    return fig


def associations(profile: Profile) -> go.Figure | None:
    scored = sorted((c for c in profile.columns if c.association is not None
                     and c.role is None), key=lambda c: c.association)
    if not scored or profile.target is None:
        return None
    fig = _figure(f"How strongly each column goes with “{_t(profile.target.column)}”")
    fig.add_bar(x=[c.association for c in scored], y=[_t(c.name) for c in scored],
                orientation="h", hovertext=[c.association_method for c in scored])
    fig.update_layout(xaxis_range=[0, 1], height=max(220, 60 + 22 * len(scored)))
    return fig


def target_distribution(profile: Profile) -> go.Figure | None:
    if profile.target is None:
        return None
    if profile.class_balance:
        labels, counts = zip(*profile.class_balance[:30], strict=True)
        fig = _figure(f"Classes of the target “{_t(profile.target.column)}”")
        fig.add_bar(x=[_t(v) for v in labels], y=list(counts))
        fig.update_layout(yaxis_title="rows", xaxis_type="category")
        return fig
    return column_chart(profile.column(profile.target.column))


def drift_bars(profile: Profile) -> go.Figure | None:
    moved = sorted((c for c in profile.columns if c.drift is not None), key=lambda c: c.drift)
    if not moved:
        return None
    fig = _figure("How much each column differs between train and test (0 = same)")
    fig.add_bar(x=[c.drift for c in moved], y=[_t(c.name) for c in moved], orientation="h")
    fig.update_layout(xaxis_range=[0, 1], height=max(220, 60 + 22 * len(moved)))
    return fig


def image_classes(profile: Profile) -> go.Figure | None:
    if profile.images is None or not profile.images.class_counts:
        return None
    labels, counts = zip(*profile.images.class_counts[:40], strict=True)
    fig = _figure("Images per class")
    fig.add_bar(x=[_t(v) for v in labels], y=list(counts))
    fig.update_layout(xaxis_type="category")
    return fig
