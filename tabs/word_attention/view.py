"""Word attention: the results of compute.py as Plotly figures and Markdown, in the language asked for.

Part 1: the matrices X, W_q, W_k, W_v, then Q, K, V, then the scores Q K^T / sqrt(d) beside their row
softmax, then the output, then the heads side by side; numbers are written in the cells while the
matrices are small enough to read them. Part 2: a head view in the style of BertViz (the tokens in two
columns, a line from each token to every token it attends to, as thick and as opaque as the weight),
the chosen head's matrix, and every head of the layer side by side.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import plotly.graph_objects as go

from tabs.word_attention.compute import EncoderRun, Steps
from tabs.word_attention.text import TEXT

NUMBERS_UP_TO = 16  # numbers are written in the cells of matrices with at most this many rows and columns
TICKS_UP_TO = 40  # token names on the axes of the encoder matrices up to this many tokens
HEAD_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a"]
LINE_LEVELS = (0.02, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0001)  # weight bins of the head view; lighter ones are not drawn
SIGNED = "RdBu_r"  # negative blue, positive red
WEIGHTS = "Blues"
FONT = dict(family="Noto Sans KR, Noto Sans CJK KR, Malgun Gothic, sans-serif", size=14)


def number(value: float) -> str:
    return f"{value:.2f}"


def vector(values: np.ndarray) -> str:
    return "[" + ", ".join(number(v) for v in values) + "]"


def _label(index: int, piece: str) -> str:
    """Axis label of a token: its 1-based position and the piece (two equal pieces stay two rows)."""
    return f"{index + 1} {piece}"


# ---------------------------------------------------------------- matrices as annotated heatmaps

# Every figure of matrices is built as one go.Figure(data, layout): Plotly's make_subplots and its
# update_* calls cost more than the whole attention computation (hundreds of ms on a busy 2-core CPU).


@dataclasses.dataclass
class Panel:
    """One matrix of a figure: a heatmap with its rows top to bottom, its title and axis names."""

    matrix: np.ndarray
    rows: list[str]  # unique labels (position + piece), so equal pieces stay separate rows
    cols: list[str]
    title: str
    signed: bool  # signed numbers: blue-white-red around 0; weights: white to blue from 0
    zmax: float | None = None  # colour scale limit (default: the largest |value| of the matrix)
    numbers: bool | None = None  # numbers in the cells (default: when the matrix is small enough)
    coloraxis: str | None = None  # a shared colour axis of the layout
    colorbar: bool = False  # show this panel's colour scale
    x_title: str = ""
    y_title: str = ""
    ticks: bool = True
    tilt: bool = False  # slanted column labels (tokens)


def _heatmap(panel: Panel, axis: int) -> dict:
    matrix = np.asarray(panel.matrix, dtype=float)
    n_rows, n_cols = matrix.shape
    numbers = panel.numbers
    if numbers is None:
        numbers = n_rows <= NUMBERS_UP_TO and n_cols <= NUMBERS_UP_TO
    suffix = "" if axis == 1 else str(axis)
    # float32 is plenty for colours and hover (the cell texts come from the float64 numbers): half the bytes.
    trace = dict(type="heatmap", z=matrix.astype(np.float32), x=panel.cols, y=panel.rows, xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                 xgap=1, ygap=1, showscale=panel.colorbar, hovertemplate="%{y} → %{x}: %{z:.2f}<extra></extra>")
    if numbers:
        trace.update(text=np.vectorize(number)(matrix) if matrix.size else matrix, texttemplate="%{text}",
                     textfont=dict(size=12 if max(n_rows, n_cols) <= 10 else 10))
    if panel.coloraxis is not None:
        trace.update(coloraxis=panel.coloraxis)
    else:
        limit = panel.zmax if panel.zmax is not None else (float(np.abs(matrix).max()) if matrix.size else 1.0)
        limit = limit or 1.0
        if panel.signed:
            trace.update(colorscale=SIGNED, zmin=-limit, zmax=limit)
        else:
            trace.update(colorscale=WEIGHTS, zmin=0.0, zmax=limit)
    return trace


def _domains(fractions: list[float], gap: float, start: float = 0.0, stop: float = 1.0) -> list[list[float]]:
    """Consecutive [from, to] intervals of [start, stop] in the given proportions, `gap` apart."""
    room = (stop - start) - gap * (len(fractions) - 1)
    total = float(sum(fractions))
    spans, at = [], start
    for fraction in fractions:
        width = room * fraction / total
        spans.append([at, at + width])
        at += width + gap
    return spans


def panels_figure(grid: list[list[tuple[Panel | None, float]]], title: str, height: int, hgap: float = 0.08,
                  vgap: float = 0.16, row_heights: list[float] | None = None, layout: dict | None = None) -> go.Figure:
    """Rows of panels (each with its relative width) as one figure; rows from the top."""
    y_spans = _domains(row_heights or [1.0] * len(grid), vgap)[::-1]  # the first row on top
    traces, axes, titles = [], {}, []
    axis = 0
    for row, y_span in zip(grid, y_spans):
        for (panel, _), x_span in zip(row, _domains([w for _, w in row], hgap)):
            if panel is None:  # an empty place
                continue
            axis += 1
            suffix = "" if axis == 1 else str(axis)
            traces.append(_heatmap(panel, axis))
            axes[f"xaxis{suffix}"] = dict(
                domain=x_span, anchor=f"y{suffix}", showgrid=False, zeroline=False, type="category",
                showticklabels=panel.ticks, tickangle=-45 if panel.tilt else 0,
                title=dict(text=panel.x_title) if panel.x_title else None)
            axes[f"yaxis{suffix}"] = dict(
                domain=y_span, anchor=f"x{suffix}", showgrid=False, zeroline=False, type="category",
                autorange="reversed", showticklabels=panel.ticks,
                title=dict(text=panel.y_title) if panel.y_title else None)
            titles.append(dict(text=panel.title, x=(x_span[0] + x_span[1]) / 2, y=y_span[1], xref="paper",
                               yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                               font=dict(size=15)))
    return go.Figure(data=traces, layout=dict(
        title=dict(text=title, x=0.01), height=height, margin=dict(l=10, r=10, t=90, b=30), font=FONT,
        plot_bgcolor="white", annotations=titles, **axes, **(layout or {})))


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.01), height=height, margin=dict(l=10, r=10, t=80, b=30),
                      font=FONT, plot_bgcolor="white")
    return fig


def _dims(count: int, lang: str) -> list[str]:
    return [TEXT.say(lang, "dim", i=i + 1) for i in range(count)]


def _height(rows: int, per_row: int = 30, extra: int = 170) -> int:
    return max(260, min(1100, rows * per_row + extra))


def _tokens(pieces: list[str]) -> list[str]:
    return [_label(i, p) for i, p in enumerate(pieces)]


def vectors_figure(steps: Steps, lang: str) -> go.Figure:
    """Step 2: the token vectors X and the three weight matrices."""
    n, d = steps.x.shape
    dims = _dims(d, lang)
    x = Panel(steps.x, _tokens(steps.tokens.pieces), dims, TEXT.say(lang, "title_x", n=n, d=d), signed=True)
    weights = [Panel(m, dims, dims, TEXT.say(lang, key, d=d), signed=True)
               for m, key in ((steps.w_q, "title_wq"), (steps.w_k, "title_wk"), (steps.w_v, "title_wv"))]
    return panels_figure([[(x, 1.0)] + [(w, 1.0) for w in weights]], TEXT.say(lang, "fig_vectors"),
                         _height(max(n, d)), hgap=0.07)


def qkv_figure(steps: Steps, lang: str) -> go.Figure:
    """Step 3: Q = X W_q, K = X W_k, V = X W_v."""
    n, d = steps.x.shape
    tokens, dims = _tokens(steps.tokens.pieces), _dims(steps.d, lang)
    row = [(Panel(m, tokens, dims, TEXT.say(lang, key), signed=True), 1.0)
           for m, key in ((steps.single.q, "title_q"), (steps.single.k, "title_k"), (steps.single.v, "title_v"))]
    return panels_figure([row], TEXT.say(lang, "fig_qkv"), _height(n), hgap=0.1)


def scores_figure(steps: Steps, lang: str) -> go.Figure:
    """Steps 4 and 5 side by side: the scaled scores and their softmax, row by row."""
    n = len(steps.tokens.pieces)
    tokens = _tokens(steps.tokens.pieces)
    query, key = TEXT.say(lang, "axis_query"), TEXT.say(lang, "axis_key")
    scores = Panel(steps.single.scores, tokens, tokens, signed=True, tilt=True, x_title=key, y_title=query,
                   title=TEXT.say(lang, "title_scores", d=steps.d, root=number(math.sqrt(steps.d))))
    weights = Panel(steps.single.weights, tokens, tokens, TEXT.say(lang, "title_softmax"), signed=False, tilt=True,
                    x_title=key)
    return panels_figure([[(scores, 1.0), (weights, 1.0)]], TEXT.say(lang, "fig_scores"),
                         _height(n, per_row=36, extra=250), hgap=0.14)


def output_figure(steps: Steps, lang: str) -> go.Figure:
    """Step 6: the weights times V gives every token's new vector."""
    n, d = steps.x.shape
    tokens, dims = _tokens(steps.tokens.pieces), _dims(d, lang)
    row = [(Panel(steps.single.weights, tokens, tokens, TEXT.say(lang, "title_softmax"), signed=False, tilt=True), 0.45),
           (Panel(steps.single.v, tokens, dims, TEXT.say(lang, "title_v"), signed=True), 0.25),
           (Panel(steps.single.output, tokens, dims, TEXT.say(lang, "title_output"), signed=True), 0.3)]
    return panels_figure([row], TEXT.say(lang, "fig_output"), _height(n, per_row=32, extra=230), hgap=0.1)


def heads_figure(steps: Steps, lang: str) -> go.Figure:
    """Step 7: each head's softmax weights side by side, then the concatenated outputs and the result."""
    n, d = steps.x.shape
    h = steps.num_heads
    size = d // h
    tokens = _tokens(steps.tokens.pieces)
    zmax = max(float(head.weights.max()) for head in steps.multi.heads)  # one colour scale: heads comparable
    numbers = n * h <= 2 * NUMBERS_UP_TO  # the heads share the figure's width
    heads = [(Panel(head.weights, tokens, tokens, TEXT.say(lang, "title_head", head=i + 1, size=size), signed=False,
                    zmax=zmax, numbers=numbers, tilt=True), 1.0) for i, head in enumerate(steps.multi.heads)]
    columns = ([TEXT.say(lang, "dim_head", head=c // size + 1, i=c % size + 1) for c in range(d)]
               + [TEXT.say(lang, "dim_out", i=i + 1) for i in range(d)])
    side_by_side = Panel(np.concatenate([steps.multi.concat, steps.multi.output], axis=1), tokens, columns,
                         TEXT.say(lang, "title_concat", h=h, d=d), signed=True, tilt=True,
                         numbers=n <= NUMBERS_UP_TO and d <= 8)
    return panels_figure([heads, [(side_by_side, 1.0)]], TEXT.say(lang, "fig_heads", h=h),
                         _height(2 * n, per_row=32, extra=340), hgap=0.08, vgap=0.22)


# ---------------------------------------------------------------- part 1 in words


def tokens_markdown(steps: Steps, lang: str) -> str:
    chips = " ".join(f"`{i + 1}: {piece}`" for i, piece in enumerate(steps.tokens.pieces))
    return TEXT.say(lang, "tokens_md", n=len(steps.tokens.pieces), chips=chips)


def explanation(steps: Steps, lang: str) -> str:
    """Every step worked through for one token (the focus row), with the numbers of this run."""
    r = steps.focus
    pieces = steps.tokens.pieces
    d = steps.d
    single = steps.single
    lines = []
    if steps.unavailable is not None:
        lines.append("> " + say_error(steps.unavailable, lang))
    lines += ["> " + note.say(lang) for note in steps.notes]
    lines.append(TEXT.say(lang, "explain_source", source=steps.encoder_source, hidden=steps.embeddings.shape[1]))
    lines.append(TEXT.say(lang, "explain_x", token=pieces[r], r=r + 1, d=d, x=vector(steps.x[r])))
    lines.append(TEXT.say(lang, "explain_qkv", r=r + 1, q=vector(single.q[r]), k=vector(single.k[r]),
                          v=vector(single.v[r])))
    root = math.sqrt(d)
    terms = "\n".join(
        TEXT.say(lang, "explain_score_row", j=j + 1, token=pieces[j], dot=number(single.dot[r, j]),
                 root=number(root), score=number(single.scores[r, j]), weight=f"{single.weights[r, j]:.3f}")
        for j in range(len(pieces)))
    lines.append(TEXT.say(lang, "explain_scores", token=pieces[r], r=r + 1, terms=terms,
                          total=f"{single.weights[r].sum():.3f}"))
    best = int(np.argmax(single.weights[r]))
    lines.append(TEXT.say(lang, "explain_output", r=r + 1, out=vector(single.output[r]), best=pieces[best],
                          j=best + 1, weight=f"{single.weights[r, best]:.3f}"))
    per_head = ", ".join(
        TEXT.say(lang, "explain_head_best", head=i + 1, token=pieces[int(np.argmax(head.weights[r]))],
                 weight=f"{head.weights[r].max():.2f}") for i, head in enumerate(steps.multi.heads))
    lines.append(TEXT.say(lang, "explain_heads", h=steps.num_heads, size=d // steps.num_heads, d=d,
                          r=r + 1, per_head=per_head))
    lines.append(TEXT.say(lang, "explain_torch", diff=f"{steps.torch_max_diff:.1e}"))
    return "\n\n".join(lines)


def steps_outputs(steps: Steps, lang: str) -> tuple:
    """(tokens Markdown, vectors, Q/K/V, scores + softmax, output, heads, explanation Markdown)."""
    return (tokens_markdown(steps, lang), vectors_figure(steps, lang), qkv_figure(steps, lang),
            scores_figure(steps, lang), output_figure(steps, lang), heads_figure(steps, lang),
            explanation(steps, lang))


# ---------------------------------------------------------------- part 2: the real encoder


def say_error(exc: BaseException, lang: str) -> str:
    """A loader error in the page's language (ModelUnavailable carries Korean and English)."""
    if hasattr(exc, "say"):
        return exc.say(lang)
    return str(getattr(exc, lang, None) or exc)


def _selected(run: EncoderRun) -> np.ndarray:
    """heads x T x T of the chosen layer, only the chosen head unless every head was asked for."""
    layer = run.attention.attentions[run.layer]
    return layer if run.head is None else layer[run.head:run.head + 1]


def head_view_figure(run: EncoderRun, lang: str) -> go.Figure:
    """BertViz-style head view: the tokens twice, left (attending) and right (attended to); a line from
    left token i to right token j for each head, its width and opacity growing with the weight. Lines are
    drawn per weight bin (one trace each), lighter bins first, so heavy lines lie on top."""
    attention = run.attention
    tokens = attention.tokens
    n = len(tokens)
    heads = list(range(attention.num_heads)) if run.head is None else [run.head]
    traces = []
    for head, matrix in zip(heads, _selected(run)):
        colour = HEAD_COLOURS[head % len(HEAD_COLOURS)]
        for low, high in zip(LINE_LEVELS[:-1], LINE_LEVELS[1:]):
            rows, cols = np.nonzero((matrix >= low) & (matrix < high))
            if len(rows) == 0:
                continue
            middle = min(1.0, (low + high) / 2)
            traces.append(dict(
                type="scatter", mode="lines", x=[0.0, 1.0, None] * len(rows),
                y=[v for i, j in zip(rows.tolist(), cols.tolist()) for v in (-i, -j, None)],
                hoverinfo="skip", legendgroup=f"head{head}", showlegend=False,
                line=dict(color=colour, width=1 + 5 * middle), opacity=middle))  # as BertViz: opacity = weight
        traces.append(dict(type="scatter", mode="lines", x=[None], y=[None], line=dict(color=colour, width=4),
                           legendgroup=f"head{head}", name=TEXT.say(lang, "legend_head", head=head + 1)))
    mean = _selected(run).mean(axis=0)
    hover = [TEXT.say(lang, "hover_top", token=tokens[i], top=", ".join(
        f"{tokens[j]} {mean[i, j]:.2f}" for j in np.argsort(-mean[i])[:3])) for i in range(n)]
    for x, position in ((0.0, "middle left"), (1.0, "middle right")):
        traces.append(dict(type="scatter", mode="markers+text", x=[x] * n, y=[-i for i in range(n)], text=tokens,
                           textposition=position, marker=dict(size=7, color="#333333"), hovertext=hover,
                           hoverinfo="text", showlegend=False, textfont=dict(size=15)))
    head_name = (TEXT.say(lang, "all_heads") if run.head is None else TEXT.say(lang, "legend_head", head=run.head + 1))
    headers = [dict(x=x, y=1.1, text=TEXT.say(lang, key), showarrow=False, xref="x", yref="y", xanchor=anchor,
                    font=dict(size=14, color="#555555"))
               for x, key, anchor in ((0.0, "col_from", "right"), (1.0, "col_to", "left"))]
    return go.Figure(data=traces, layout=dict(
        title=dict(text=TEXT.say(lang, "fig_head_view", layer=run.layer + 1, head=head_name), x=0.01),
        height=max(320, min(1800, 26 * n + 220)), margin=dict(l=10, r=10, t=80, b=30), font=FONT,
        plot_bgcolor="white", xaxis=dict(visible=False, range=[-0.75, 1.75], fixedrange=True),
        yaxis=dict(visible=False, range=[-(n - 0.5), 1.5], fixedrange=True), annotations=headers,
        legend=dict(orientation="h", y=-0.02, yanchor="top")))


def matrix_figure(run: EncoderRun, lang: str) -> go.Figure:
    """The chosen head's attention matrix (or the mean of the layer's heads), rows summing to 1."""
    tokens = run.attention.tokens
    labels = _tokens(tokens)
    head_name = (TEXT.say(lang, "mean_heads") if run.head is None else TEXT.say(lang, "legend_head", head=run.head + 1))
    panel = Panel(_selected(run).mean(axis=0), labels, labels, "", signed=False, tilt=True, colorbar=True,
                  ticks=len(tokens) <= TICKS_UP_TO, x_title=TEXT.say(lang, "axis_key"),
                  y_title=TEXT.say(lang, "axis_query"))
    title = TEXT.say(lang, "fig_matrix", layer=run.layer + 1, head=head_name)
    return panels_figure([[(panel, 1.0)]], title, _height(len(tokens), per_row=22, extra=280))


def heads_grid_figure(run: EncoderRun, lang: str) -> go.Figure:
    """Every head of the chosen layer side by side, on one colour scale (0 to the layer's largest weight)."""
    layer = run.attention.attentions[run.layer]
    heads = layer.shape[0]
    cols = min(4, heads)
    rows = math.ceil(heads / cols)
    labels = _tokens(run.attention.tokens)
    grid = [[(Panel(layer[h], labels, labels, TEXT.say(lang, "legend_head", head=h + 1), signed=False,
                    coloraxis="coloraxis", numbers=False, ticks=False), 1.0)
             for h in range(r * cols, min(heads, (r + 1) * cols))] for r in range(rows)]
    grid[-1] += [(None, 1.0)] * (cols - len(grid[-1]))  # empty places: the last row's panels keep their size
    return panels_figure(grid, TEXT.say(lang, "fig_heads_grid", layer=run.layer + 1, heads=heads),
                           240 * rows + 130, hgap=0.03, vgap=0.1 if rows > 1 else 0.0,
                           layout=dict(coloraxis=dict(colorscale=WEIGHTS, cmin=0.0, cmax=float(layer.max()))))


def _empty(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=16))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", 200)


def encoder_markdown(run: EncoderRun, lang: str) -> str:
    lines = []
    if run.unavailable is not None:
        lines.append("> " + say_error(run.unavailable, lang))
        lines.append(TEXT.say(lang, "encoder_unavailable"))
    else:
        attention = run.attention
        lines += ["> " + note.say(lang) for note in run.notes]
        lines.append(TEXT.say(lang, "encoder_source", source=attention.source, layers=attention.num_layers,
                              heads=attention.num_heads, n=len(attention.tokens)))
        if not attention.real_weights:
            lines.append(TEXT.say(lang, "encoder_random"))
        sums = attention.attentions.sum(axis=-1)
        lines.append(TEXT.say(lang, "encoder_rows", worst=f"{float(np.abs(sums - 1).max()):.1e}"))
    lines.append(TEXT.say(lang, "vit_link", vit=TEXT.say(lang, "vit_title")))
    return "\n\n".join(lines)


def encoder_outputs(run: EncoderRun, lang: str) -> tuple:
    """(head view, chosen head's matrix, every head of the layer, Markdown)."""
    if run.attention is None:
        empty = _empty(TEXT.say(lang, "no_encoder"))
        return empty, empty, empty, encoder_markdown(run, lang)
    return (head_view_figure(run, lang), matrix_figure(run, lang), heads_grid_figure(run, lang),
            encoder_markdown(run, lang))
