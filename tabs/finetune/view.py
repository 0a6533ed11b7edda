"""What the fine-tuning lesson shows, in the page's language: the data preview and split table, the
freeze and new-layer summaries, the loss/accuracy curves, the confusion matrix, the status lines and
the predictions. Plain functions of compute's results; no Gradio."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from core import charts, classnames, text
from core.text import Message
from tabs.finetune import compute
from tabs.finetune.text import TEXT

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"]
PREVIEW_PER_CLASS = 4


def name(lang: str, class_name: compute.Name) -> str:
    """A class name in the page's language (one of ours), or as the student typed it."""
    return class_name.say(lang) if isinstance(class_name, Message) else str(class_name)


def notes_markdown(notes: list[Message], lang: str) -> str:
    return "".join(f"\n\n⚠️ {note.say(lang)}" for note in notes)


# ---------------------------------------------------------------- the data


def preview_gallery(data: compute.DataSet, lang: str, per_class: int = PREVIEW_PER_CLASS) -> list[tuple[np.ndarray, str]]:
    """The first few pictures of every class, with their class as caption."""
    out = []
    for k, class_name in enumerate(data.class_names):
        for i in np.flatnonzero(data.labels == k)[:per_class]:
            out.append((np.asarray(data.images[i]), name(lang, class_name)))
    return out


def split_table(data: compute.DataSet, lang: str, notes: list[Message] = ()) -> str:
    """Markdown: per class how many pictures train and how many validate."""
    head = [TEXT.say(lang, key) for key in ("split_class", "split_train", "split_val", "split_total")]
    lines = [f"| {head[0]} | {head[1]} | {head[2]} |", "|---|---:|---:|"]
    lines += [f"| {name(lang, class_name)} | {n_train} | {n_val} |" for class_name, n_train, n_val in data.counts()]
    lines.append(f"| **{head[3]}** | **{len(data.train_idx)}** | **{len(data.val_idx)}** |")
    return "\n".join(lines) + notes_markdown(list(notes), lang)


def snapshot_counts(snapshots, lang: str) -> str:
    shots = list(snapshots or ()) + [()] * compute.MAX_CLASSES
    counts = ", ".join(f"{k + 1}: {len(shots[k])}" for k in range(compute.MAX_CLASSES))
    return TEXT.say(lang, "snap_counts", counts=counts)


# ---------------------------------------------------------------- ② and ③


def parameters(lang: str, n: int) -> str:
    """A parameter count: exact below 10,000 (a student can check 1280 x 3 + 3), else as people read it."""
    return f"{n:,}" if n < 10_000 else text.count(lang, n)


def freeze_markdown(summary: compute.FreezeSummary, lang: str, notes: list[Message] = ()) -> str:
    nothing = TEXT.say(lang, "nothing")
    return TEXT.say(
        lang, "freeze_info", name=summary.backbone,
        weights=TEXT.msg("weights_real" if summary.real_weights else "weights_random"),
        frozen=", ".join(summary.frozen_names) or nothing, trainable=", ".join(summary.trainable_names) or nothing,
        trainable_count=parameters(lang, summary.trainable), total_count=parameters(lang, summary.total),
        share=f"{100.0 * summary.trainable / max(summary.total, 1):.2f}%", frozen_count=parameters(lang, summary.frozen),
    ) + notes_markdown(list(notes), lang)


def head_markdown(summary: compute.FreezeSummary, lang: str) -> str:
    return TEXT.say(lang, "head_info", dim=summary.feature_dim, n=summary.n_classes,
                    params=parameters(lang, summary.head))


# ---------------------------------------------------------------- ④ the run


def run_label(run: compute.Run, lang: str) -> str:
    return TEXT.say(lang, "run_label_continued" if run.continued else "run_label", number=run.number,
                    frozen=run.n_frozen, patience=run.patience)


def curves_figure(runs: list[compute.Run], lang: str) -> go.Figure:
    """Loss and accuracy per epoch, training solid and validation dashed; earlier runs faded."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(TEXT.say(lang, "loss_title"), TEXT.say(lang, "acc_title")))
    for i, run in enumerate(runs):
        current = i == len(runs) - 1
        colour = PALETTE[(run.number - 1) % len(PALETTE)]
        epochs = [h.epoch for h in run.history]
        style = dict(opacity=1.0 if current else 0.35)
        width = 3 if current else 1.5
        label = run_label(run, lang)
        for col, (train_vals, val_vals) in ((1, ([h.train_loss for h in run.history], [h.val_loss for h in run.history])),
                                            (2, ([h.train_acc for h in run.history], [h.val_acc for h in run.history]))):
            for values, dash, key in ((train_vals, None, "trace_train"), (val_vals, "dash", "trace_val")):
                fig.add_trace(go.Scatter(x=epochs, y=[round(v, 4) for v in values], mode="lines+markers",
                                         line=dict(color=colour, width=width, dash=dash),
                                         name=TEXT.say(lang, key, run=label), legendgroup=f"r{i}",
                                         showlegend=col == 1, **style), row=1, col=col)
            if run.best_epoch and run.best_epoch <= len(run.history):
                best = run.history[run.best_epoch - 1]
                fig.add_trace(go.Scatter(
                    x=[run.best_epoch], y=[round(best.val_loss if col == 1 else best.val_acc, 4)], mode="markers",
                    marker=dict(symbol="star", size=18 if current else 11, color=colour, line=dict(color="black", width=1)),
                    name=TEXT.say(lang, "best_epoch"), showlegend=current and col == 1,
                    hovertemplate=TEXT.say(lang, "best_epoch") + " %{x}<extra></extra>", **style), row=1, col=col)
        if current and run.stopped_epoch:
            # Labels sit inside the plots (stop at the top, best at the bottom) so they never cover the titles.
            for col, axis in ((1, ""), (2, "2")):
                fig.add_vline(x=run.stopped_epoch, line=dict(color="#444", dash="dot", width=2), row=1, col=col)
                fig.add_annotation(x=run.stopped_epoch, y=0.99, xref=f"x{axis}", yref=f"y{axis} domain", showarrow=False,
                                   xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.85)",
                                   text=TEXT.say(lang, "stop_mark", epoch=run.stopped_epoch), font=dict(size=14))
            if run.best_epoch:
                fig.add_vline(x=run.best_epoch, line=dict(color=colour, dash="dot", width=1), row=1, col=1)
                fig.add_annotation(x=run.best_epoch, y=0.01, xref="x", yref="y domain", showarrow=False, xanchor="left",
                                   yanchor="bottom", bgcolor="rgba(255,255,255,0.85)",
                                   text=TEXT.say(lang, "best_mark", epoch=run.best_epoch),
                                   font=dict(size=14, color=colour))
    fig.update_xaxes(title_text=TEXT.say(lang, "epoch_axis"), rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=460, margin=dict(l=50, r=20, t=60, b=40), font=dict(size=15),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), template="plotly_white")
    return fig


def confusion_figure(cm: np.ndarray, class_names: list[compute.Name], lang: str) -> go.Figure:
    names = [name(lang, n) for n in class_names]
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, colorscale="Blues", showscale=False, text=cm,
                               texttemplate="%{text}", textfont=dict(size=20),
                               hovertemplate=TEXT.say(lang, "confusion_hover") + "<extra></extra>"))
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    fig.update_layout(height=380, template="plotly_white", font=dict(size=15), margin=dict(l=80, r=20, t=60, b=60),
                      title=TEXT.say(lang, "confusion_title", acc=f"{accuracy:.1%}"))
    fig.update_xaxes(title_text=TEXT.say(lang, "predicted_axis"), side="bottom")
    fig.update_yaxes(title_text=TEXT.say(lang, "true_axis"), autorange="reversed")
    return fig


def status_markdown(progress: compute.Progress, lang: str) -> str:
    """The status line(s) of a run at its current stage."""
    notes = notes_markdown(progress.notes, lang)
    if progress.stage == "preparing":
        return TEXT.say(lang, "status_preparing", n=compute.n_items(progress.data, progress.cfg)) + notes
    if progress.stage == "stopped":
        return TEXT.say(lang, "status_stopped") + notes
    prep = progress.prepared
    head = TEXT.say(
        lang, "status_head", trainable=parameters(lang, progress.summary.trainable),
        mode=TEXT.msg("mode_cached" if prep.cached else "mode_uncached"),
        features=TEXT.msg("features_reused") if progress.reused else TEXT.msg("features_seconds", seconds=f"{prep.seconds:.1f}"),
        n_train=len(progress.data.train_idx), n_val=len(progress.data.val_idx))
    run = progress.runs[-1]
    if progress.stage == "epoch":
        e = progress.epoch
        line = TEXT.say(lang, "status_epoch", epoch=e.epoch, epochs=progress.cfg.epochs, train_loss=f"{e.train_loss:.3f}",
                        train_acc=f"{e.train_acc:.0%}", val_loss=f"{e.val_loss:.3f}", val_acc=f"{e.val_acc:.0%}",
                        best=run.best_epoch)
    else:
        r = progress.result
        reason = (TEXT.msg("reason_time", limit=f"{compute.MAX_RUN_SECONDS:.0f}") if r.reason == "time"
                  else TEXT.msg(f"reason_{r.reason}"))
        restored = TEXT.msg("restored", epoch=r.best_epoch) if r.best_epoch else TEXT.msg("kept_weights")
        line = TEXT.say(lang, "status_done", seconds=f"{r.seconds:.1f}", reason=reason, stopped=r.stopped_epoch,
                        restored=restored, acc=f"{r.best_val_acc:.1%}", loss=f"{r.best_val_loss:.3f}")
    return f"{head}\n\n{line}{notes}"


# ---------------------------------------------------------------- ⑤ a new picture


def prediction(result: compute.Prediction, lang: str) -> tuple[dict[str, float], go.Figure]:
    """({class: probability} for the fine-tuned model's label output, the pretrained model's ImageNet top-k chart)."""
    probs = {name(lang, n): round(float(p), 4) for n, p in zip(result.class_names, result.probs)}
    top = [(classnames.imagenet_label(lang, i), p) for i, p in result.imagenet]
    return probs, charts.top_k_figure(top, TEXT.say(lang, "imagenet_title", name=result.backbone), height=280)


# ---------------------------------------------------------------- the class as the experiment (the teacher's page)

CLASS_SCALE = "Viridis"  # a run's colour: its learning rate, on a log scale, low (dark) to high (yellow)
CLASS_SUMMARY_ROWS = 10


def _lr(report: dict) -> str:
    return f"{report['learning_rate']:.2g}"


def _run_name(report: dict, lang: str) -> str:
    return TEXT.say(lang, "class_run_name", lr=_lr(report), frozen=report["n_frozen"])


def _lr_colours(reports: list[dict]) -> list[str]:
    logs = [math.log10(r["learning_rate"]) for r in reports]
    low, high = min(logs, default=0.0), max(logs, default=1.0)
    return sample_colorscale(CLASS_SCALE, [(v - low) / (high - low) if high > low else 0.5 for v in logs])


def class_curves_figure(reports: list[dict], lang: str) -> go.Figure:
    """Every run of the class on one chart: validation accuracy per epoch, coloured by learning rate; a star at its
    best epoch and a cross where early stopping ended it."""
    fig = go.Figure()
    for report, colour in sorted(zip(reports, _lr_colours(reports)), key=lambda pair: pair[0]["learning_rate"]):
        curve, group = report["val_acc"], _run_name(report, lang)
        fig.add_trace(go.Scatter(x=list(range(1, len(curve) + 1)), y=curve, mode="lines", name=group,
                                 legendgroup=group, line=dict(color=colour, width=2)))
        marks = [(report["best_epoch"], "star", colour, 15)]
        if report["early_stop"]:
            marks.append((report["stopped_epoch"], "x", "#111", 11))
        for epoch, symbol, fill, size in marks:
            if 1 <= epoch <= len(curve):
                fig.add_trace(go.Scatter(x=[epoch], y=[curve[epoch - 1]], mode="markers", legendgroup=group,
                                         showlegend=False, marker=dict(symbol=symbol, size=size, color=fill,
                                                                       line=dict(color="black", width=1))))
    fig.update_xaxes(title_text=TEXT.say(lang, "epoch_axis"), rangemode="tozero")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text=TEXT.say(lang, "acc_title"))
    fig.update_layout(height=460, template="plotly_white", font=dict(size=15), margin=dict(l=60, r=20, t=60, b=40),
                      title=TEXT.say(lang, "class_curves_title", runs=len(reports)))
    return fig


def class_lr_figure(reports: list[dict], lang: str) -> go.Figure:
    """Learning rate (log axis) against the best validation accuracy, one point per run: a cross for a run that
    early stopping ended, a circle for one that ran every epoch."""
    fig, colours = go.Figure(), _lr_colours(reports)  # the same colour as the run's curve
    for early, key, symbol in ((True, "class_early", "x"), (False, "class_full", "circle")):
        chosen = [(r, colour) for r, colour in zip(reports, colours) if r["early_stop"] is early]
        fig.add_trace(go.Scatter(
            x=[r["learning_rate"] for r, _ in chosen], y=[r["best_val_acc"] for r, _ in chosen], mode="markers",
            name=TEXT.say(lang, key), marker=dict(symbol=symbol, size=14, color=[c for _, c in chosen],
                                                  line=dict(width=1, color="black")),
            text=[TEXT.say(lang, "class_run_hover", lr=_lr(r), frozen=r["n_frozen"], best=r["best_epoch"])
                  for r, _ in chosen],
            hovertemplate="%{text}<br>%{y:.0%}<extra></extra>"))
    fig.update_xaxes(type="log", title_text=TEXT.say(lang, "class_lr_axis"))
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text=TEXT.say(lang, "class_acc_axis"))
    fig.update_layout(height=460, template="plotly_white", font=dict(size=15), margin=dict(l=60, r=20, t=60, b=40),
                      title=TEXT.say(lang, "class_lr_title"))
    return fig


def class_summary(reports: list[dict], lang: str) -> dict:
    """The projector's panel: the best validation accuracy reached at each learning rate, lowest rate first."""
    best: dict[str, float] = {}
    for report in sorted(reports, key=lambda r: r["learning_rate"]):
        best[_lr(report)] = max(best.get(_lr(report), 0.0), report["best_val_acc"])
    rows = [[f"lr {lr}", round(acc * 100, 1), f"{acc:.0%}"] for lr, acc in list(best.items())[:CLASS_SUMMARY_ROWS]]
    return {"title": TEXT.say(lang, "class_summary", runs=len(reports)), "rows": rows}


def class_one(report: dict, lang: str) -> list[list[str]]:
    """One student's last run on the projector: its settings, its best epoch, and where early stopping ended it."""
    stop = (TEXT.say(lang, "class_stop_yes", epoch=report["stopped_epoch"]) if report["early_stop"]
            else TEXT.say(lang, "class_stop_no", epoch=len(report["val_acc"])))
    return [[TEXT.say(lang, "class_settings"), _run_name(report, lang)],
            [TEXT.say(lang, "class_best"), TEXT.say(lang, "class_best_value", epoch=report["best_epoch"],
                                                     acc=f"{report['best_val_acc']:.0%}")],
            [TEXT.say(lang, "class_stop"), stop]]
