"""The skip-connection lesson's pictures: gradient size per layer (log scale, plain vs residual) and the
learning curves of both networks.

No Gradio here; every word comes from the lesson's text table in the language it is given.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tabs.resnet_skip.compute import (BATCH_SIZE, LEARNING_RATE, MOMENTUM, VARIANTS, Gradients, Networks,
                                      TrainingResult)
from tabs.resnet_skip.text import TEXT

COLOURS = {"plain": "#dc2626", "residual": "#2563eb"}
FONT = dict(size=15)


def _notes(notes, lang: str) -> str:
    return "".join(f"\n\n> ⚠️ {note.say(lang)}" for note in notes)


def _settings_words(settings: Networks, lang: str) -> dict:
    return dict(depth=settings.depth, activation=TEXT.say(lang, f"act_{settings.activation}"),
                bn=TEXT.say(lang, "with_bn") if settings.batch_norm else "")


def _ratio(value: float) -> str:
    """A ratio of gradient norms as a student reads it: 0, 3.2e-08, 0.41, 1.3, 2.4e+05."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2g}" if 1e-3 <= value < 1e4 else f"{value:.1e}"


def gradients_figure(grads: Gradients, lang: str) -> go.Figure:
    """‖dLoss/dW‖ of every layer, input side on the left, for both networks, on a log axis."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    layers = list(range(1, grads.layers + 1))
    fig = go.Figure()
    for variant in VARIANTS:
        norms = getattr(grads, variant)
        name = say(f"variant_{variant}")
        # A norm of exactly 0 has no place on a log axis: left out (and counted in the note below the chart).
        y = [float(v) if v > 0 else None for v in norms]
        fig.add_trace(go.Scatter(x=layers, y=y, mode="lines+markers", name=name, line=dict(color=COLOURS[variant], width=3),
                                 hovertemplate=name + "<br>%{x}: %{y:.3g}<extra></extra>"))
    title = say("gradients_title", plain=_ratio(grads.first_over_last("plain")),
                residual=_ratio(grads.first_over_last("residual")), **_settings_words(grads.settings, lang))
    fig.update_xaxes(title_text=say("layer_axis"), range=[0.5, grads.layers + 0.5])
    # One label every `dtick` decades, at most about 6: left to itself, Plotly adds minor labels (2, 5) on short
    # ranges, and they ran into the superscripts of the powers of ten.
    positive = np.concatenate([getattr(grads, variant) for variant in VARIANTS])
    positive = positive[positive > 0]
    decades = math.log10(positive.max() / positive.min()) if len(positive) else 1.0
    fig.update_yaxes(type="log", exponentformat="power", dtick=max(1, math.ceil(decades / 6)),
                     title_text=say("grad_axis"))
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=460, template="plotly_white", font=FONT,
                      margin=dict(l=70, r=20, t=70, b=50), legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))
    return fig


def gradients_markdown(grads: Gradients, lang: str) -> str:
    """What the chart shows, with this batch's numbers; layers whose gradient is exactly 0 are named."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    parts = []
    ratio = grads.first_over_last("plain")
    if ratio == 0:
        parts.append(say("plain_vanishes_zero"))
    elif ratio < 1e-2:
        parts.append(say("plain_vanishes", orders=f"{-math.log10(ratio):.0f}", times=f"{1 / ratio:.1e}"))
    elif ratio > 1e2:
        parts.append(say("plain_explodes", times=f"{ratio:.0f}"))
    for variant, key in (("plain", "zero_layers"), ("residual", "zero_layers_residual")):
        zeros = int(np.sum(getattr(grads, variant) == 0))
        if zeros:
            parts.append(say(key, count=zeros))
    parts.append(say("gradients_note", plain_loss=f"{grads.plain_loss:.3f}", residual_loss=f"{grads.residual_loss:.3f}",
                     batch=grads.batch))
    return "\n\n".join(parts) + _notes(grads.notes, lang)


def training_figure(result: TrainingResult, lang: str) -> go.Figure:
    """Validation accuracy and training loss per epoch, plain red, residual blue."""
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    fig = make_subplots(rows=1, cols=2, subplot_titles=(say("val_acc_axis"), say("train_loss_axis")),
                        horizontal_spacing=0.1)
    for variant in VARIANTS:
        history = result.history[variant]
        name = say(f"variant_{variant}")
        epochs = [h.epoch for h in history]
        line = dict(color=COLOURS[variant], width=3)
        fig.add_trace(go.Scatter(x=epochs, y=[h.val_acc for h in history], mode="lines+markers", name=name,
                                 line=line, legendgroup=variant,
                                 hovertemplate=name + "<br>%{x}: %{y:.1%}<extra></extra>"), row=1, col=1)
        losses = [h.train_loss if math.isfinite(h.train_loss) else None for h in history]
        fig.add_trace(go.Scatter(x=epochs, y=losses, mode="lines+markers", name=name, line=line, legendgroup=variant,
                                 showlegend=False, hovertemplate=name + "<br>%{x}: %{y:.3f}<extra></extra>"),
                      row=1, col=2)
    fig.update_xaxes(title_text=say("epoch_axis"), range=[0.5, result.epochs + 0.5])
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_layout(height=420, template="plotly_white", font=FONT, margin=dict(l=60, r=20, t=60, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def training_markdown(result: TrainingResult, lang: str) -> str:
    say = lambda key, **kw: TEXT.say(lang, key, **kw)  # noqa: E731
    last = {variant: result.history[variant][-1] for variant in VARIANTS}
    table = say("training_table", plain_acc=f"{100 * last['plain'].val_acc:.1f}%",
                residual_acc=f"{100 * last['residual'].val_acc:.1f}%",
                plain_loss=f"{last['plain'].train_loss:.3f}", residual_loss=f"{last['residual'].train_loss:.3f}",
                plain_s=f"{result.seconds['plain']:.1f}", residual_s=f"{result.seconds['residual']:.1f}")
    setup = say("training_setup", params=f"{result.parameters:,}", n_train=result.n_train,
                lr=f"{LEARNING_RATE:g}", momentum=f"{MOMENTUM:g}", batch=BATCH_SIZE,
                n_val=result.n_val, epochs=result.epochs_run, seed=result.settings.seed,
                **_settings_words(result.settings, lang))
    diverged = [say("diverged", variant=say(f"variant_{v}")) for v in VARIANTS if result.diverged(v)]
    return "\n\n".join([table, setup] + diverged) + _notes(result.notes, lang)
