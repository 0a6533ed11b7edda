"""The kinds-of-networks lesson's pictures: learning curves, the digits before and after the pixel shuffle,
the parameter and accuracy tables, and time and memory against sequence length.

No Gradio here; every word comes from the lesson's text table in the language it is given.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tabs.nn_types.compute import ARCHS, BATCH_SIZE, LEARNING_RATE, REPEATS, PermutationResult, SequenceTiming
from tabs.nn_types.text import TEXT

COLOURS = {"mlp": "#2563eb", "cnn": "#ea580c", "lstm": "#7c3aed", "attention": "#059669"}
DASH = {"original": "solid", "permuted": "dash"}
FONT = dict(size=15)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _notes(notes, lang: str) -> str:
    return "".join(f"\n\n> ⚠️ {note.say(lang)}" for note in notes)


# ---------------------------------------------------------------- part 1: MLP vs CNN


def curves_figure(result: PermutationResult, lang: str) -> go.Figure:
    """Validation accuracy and training loss per epoch: MLP blue, CNN orange; original solid, shuffled dashed."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    fig = make_subplots(rows=1, cols=2, subplot_titles=(say("val_acc_axis"), say("train_loss_axis")),
                        horizontal_spacing=0.1)
    for run in result.runs:
        epochs = [h.epoch for h in run.history]
        name = say("run_name", arch=TEXT.msg(f"arch_{run.arch}"), pixels=TEXT.msg(f"pixels_{run.pixels}"))
        line = dict(color=COLOURS[run.arch], dash=DASH[run.pixels], width=3)
        fig.add_trace(go.Scatter(x=epochs, y=[h.val_acc for h in run.history], mode="lines+markers", line=line,
                                 name=name, legendgroup=name,
                                 hovertemplate=name + "<br>%{x}: %{y:.1%}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(x=epochs, y=[h.train_loss for h in run.history], mode="lines+markers", line=line,
                                 name=name, legendgroup=name, showlegend=False,
                                 hovertemplate=name + "<br>%{x}: %{y:.3f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text=say("epoch_axis"))
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=440, template="plotly_white", font=FONT, margin=dict(l=60, r=20, t=60, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def digits_figure(result: PermutationResult, lang: str) -> go.Figure:
    """One validation digit of each class, as scanned (top row) and with the fixed pixel shuffle (bottom row)."""
    n, side = len(result.examples), result.examples.shape[1]
    gap = 1
    tile = side + gap
    canvas = np.full((2 * tile - gap, n * tile - gap), np.nan)
    for i in range(n):
        canvas[:side, i * tile:i * tile + side] = result.examples[i]
        canvas[tile:tile + side, i * tile:i * tile + side] = result.examples_permuted[i]
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="Greys", zmin=0, zmax=1, showscale=False, hoverongaps=False,
                               hovertemplate="%{z:.2f}<extra></extra>"))
    fig.update_xaxes(tickvals=[i * tile + (side - 1) / 2 for i in range(n)],
                     ticktext=[str(int(label)) for label in result.example_labels], showgrid=False, zeroline=False,
                     title_text=TEXT.say(lang, "digit_axis"))
    fig.update_yaxes(tickvals=[(side - 1) / 2, tile + (side - 1) / 2],
                     ticktext=[TEXT.say(lang, "pixels_original"), TEXT.say(lang, "pixels_permuted")],
                     autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x")
    # The gaps between the pictures are NaN (transparent): a grey background draws a frame round each digit.
    fig.update_layout(title=TEXT.say(lang, "digits_title"), height=300, template="plotly_white", font=FONT,
                      plot_bgcolor="#94a3b8", margin=dict(l=120, r=20, t=60, b=50))
    return fig


def summary_markdown(result: PermutationResult, lang: str) -> str:
    """Weights and validation accuracy of both networks, before and after the shuffle, and what it shows."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    acc = {(r.arch, r.pixels): r.val_acc for r in result.runs}
    change = {arch: 100 * (acc[(arch, "permuted")] - acc[(arch, "original")]) for arch in ARCHS}
    params = {r.arch: r.parameters for r in result.runs}
    head = " | ".join([""] + [say(f"arch_{arch}") for arch in ARCHS])
    rows = [
        f"| {head} |",
        "|---|" + "---:|" * len(ARCHS),
        f"| {say('row_params')} | " + " | ".join(f"{params[a]:,}" for a in ARCHS) + " |",
        f"| {say('row_acc_original')} | " + " | ".join(_pct(acc[(a, 'original')]) for a in ARCHS) + " |",
        f"| {say('row_acc_permuted')} | " + " | ".join(_pct(acc[(a, 'permuted')]) for a in ARCHS) + " |",
        f"| {say('row_change')} | " + " | ".join(f"**{change[a]:+.1f}**" for a in ARCHS) + " |",
    ]
    verdict = say("verdict", mlp=f"{change['mlp']:+.1f}", cnn=f"{change['cnn']:+.1f}")
    setup = say("setup", n_train=result.n_train, n_val=result.n_val, epochs=result.epochs_run, seed=result.seed,
                lr=f"{LEARNING_RATE:g}", batch=BATCH_SIZE, seconds=f"{result.seconds:.1f}")
    return "\n".join(rows) + f"\n\n{verdict}\n\n{setup}" + _notes(result.notes, lang)


def layers_markdown(result: PermutationResult, lang: str) -> str:
    """Layer by layer, the weights of each network (biases included), then the totals."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    mlp, cnn = result.layers["mlp"], result.layers["cnn"]
    lines = [f"| {say('arch_mlp')} | {say('weights')} | {say('arch_cnn')} | {say('weights')} |",
             "|---|---:|---|---:|"]
    for i in range(max(len(mlp), len(cnn))):
        left = f"{mlp[i][0]} | {mlp[i][1]:,}" if i < len(mlp) else " | "
        right = f"{cnn[i][0]} | {cnn[i][1]:,}" if i < len(cnn) else " | "
        lines.append(f"| {left} | {right} |")
    lines.append(f"| **{say('total')}** | **{sum(p for _, p in mlp):,}** | **{say('total')}** | "
                 f"**{sum(p for _, p in cnn):,}** |")
    return "\n".join(lines) + "\n\n" + say("layers_note")


# ---------------------------------------------------------------- part 2: LSTM vs attention


def _size(nbytes: float) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes:.0f} B"


def timing_figure(timing: SequenceTiming, lang: str) -> go.Figure:
    """Time (ms) and peak memory (MiB) against sequence length, both axes logarithmic."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    fig = make_subplots(rows=1, cols=2, subplot_titles=(say("time_axis"), say("memory_axis")),
                        horizontal_spacing=0.1)
    lengths = [p.length for p in timing.points]
    series = (("lstm", [p.lstm_ms for p in timing.points], [p.lstm_bytes / 2 ** 20 for p in timing.points]),
              ("attention", [p.attention_ms for p in timing.points],
               [p.attention_bytes / 2 ** 20 for p in timing.points]))
    for model, times, mib in series:
        name = say(f"model_{model}")
        line = dict(color=COLOURS[model], width=3)
        fig.add_trace(go.Scatter(x=lengths, y=times, mode="lines+markers", line=line, name=name, legendgroup=model,
                                 hovertemplate=name + "<br>n=%{x}: %{y:.2f} ms<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(x=lengths, y=mib, mode="lines+markers", line=line, name=name, legendgroup=model,
                                 showlegend=False, hovertemplate=name + "<br>n=%{x}: %{y:.3f} MiB<extra></extra>"),
                      row=1, col=2)
    scores = say("model_scores")
    fig.add_trace(go.Scatter(x=lengths, y=[p.score_bytes / 2 ** 20 for p in timing.points], mode="lines",
                             line=dict(color=COLOURS["attention"], dash="dot", width=2), name=scores,
                             hovertemplate=scores + "<br>n=%{x}: %{y:.3f} MiB<extra></extra>"), row=1, col=2)
    fig.update_xaxes(type="log", title_text=say("length_axis"), tickvals=lengths, ticktext=[str(n) for n in lengths])
    fig.update_yaxes(type="log", title_text="ms", row=1, col=1)
    fig.update_yaxes(type="log", title_text="MiB", row=1, col=2)
    fig.update_layout(height=440, template="plotly_white", font=FONT, margin=dict(l=60, r=20, t=60, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    return fig


def _growth(first: float, last: float) -> str:
    return f"×{last / first:,.0f}" if first > 0 else "–"


def timing_markdown(timing: SequenceTiming, lang: str) -> str:
    """What was measured where, one row per length, and how much each grew from the shortest to the longest."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    head = say("timing_setup", device=timing.device.upper(), threads=timing.threads, repeats=REPEATS,
               lstm=f"{timing.lstm_parameters:,}", attention=f"{timing.attention_parameters:,}",
               seconds=f"{timing.seconds:.1f}")
    if not timing.points:
        return head + _notes(timing.notes, lang)
    lines = [f"| n | {say('model_lstm')} ms | {say('model_attention')} ms | {say('model_lstm')} {say('memory')} | "
             f"{say('model_attention')} {say('memory')} | {say('scores_column')} |",
             "|---:|---:|---:|---:|---:|---:|"]
    for p in timing.points:
        lines.append(f"| {p.length} | {p.lstm_ms:.2f} | {p.attention_ms:.2f} | {_size(p.lstm_bytes)} | "
                     f"{_size(p.attention_bytes)} | {_size(p.score_bytes)} |")
    first, last = timing.points[0], timing.points[-1]
    growth = ""
    if len(timing.points) > 1:
        growth = "\n\n" + say("growth", first=first.length, last=last.length,
                              length=_growth(first.length, last.length),
                              lstm_time=_growth(first.lstm_ms, last.lstm_ms),
                              attention_time=_growth(first.attention_ms, last.attention_ms),
                              lstm_memory=_growth(first.lstm_bytes, last.lstm_bytes),
                              attention_memory=_growth(first.attention_bytes, last.attention_bytes))
    return head + "\n\n" + "\n".join(lines) + growth + "\n\n" + say("timing_note") + _notes(timing.notes, lang)
