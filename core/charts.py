"""Charts that several lessons draw the same way (Plotly)."""
from __future__ import annotations

import numpy as np


def top_k(probs: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The k most likely classes as (index, probability), most likely first (ties keep index order)."""
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), float(probs[int(i)])) for i in order]


def top_k_figure(entries: list[tuple[str, float]], title: str, height: int = 300):
    """The one top-k view: horizontal bars of (label, probability 0..1), most likely on top, in %."""
    import plotly.graph_objects as go

    labels = [label for label, _ in entries][::-1]
    values = [100 * p for _, p in entries][::-1]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color="#2563eb",
                           text=[f"{v:.1f}%" for v in values], textposition="auto"))
    # automargin: Plotly widens the left margin to fit long (Korean + English) class names.
    # template "none": Plotly's default template is most of a small chart's JSON (about 7 KB), sent per answer.
    fig.update_layout(title=title, xaxis=dict(range=[0, 100], ticksuffix="%", gridcolor="#e5e7eb"),
                      yaxis=dict(automargin=True), height=height, template="none",
                      margin=dict(l=10, r=10, t=50, b=30), font=dict(size=16))
    return fig
