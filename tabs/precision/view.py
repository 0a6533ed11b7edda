"""What the precision lesson shows, in the page's language: the bit boxes and the gap chart of one number,
the comparison's chart, table and notes, and this machine's devices. No Gradio: plain functions.
"""
from __future__ import annotations

import html
import math

import plotly.graph_objects as go
import torch

from core import text
from tabs.precision import compare, hardware
from tabs.precision.compute import FORMATS, BitsResult, Format, saturates, split
from tabs.precision.text import TEXT

BIT_COLOURS = {"sign": "#dc2626", "exp": "#2563eb", "man": "#16a34a"}
FORMAT_COLOURS = {"fp32": "#111827", "fp16": "#2563eb", "bf16": "#16a34a", "e4m3": "#dc2626", "e5m2": "#d97706"}
DEVICE_COLOURS = ["#2563eb", "#dc2626", "#16a34a"]
IMAGES_FOR_TIME = 10_000  # "how long would this many images take" at the measured speed

STYLE = """<style>
.pbits{white-space:nowrap}
.pbits .pbit{display:inline-block;width:0.95em;text-align:center;color:#fff;font-family:monospace;font-weight:700;
 margin:0 1px 2px 0;border-radius:3px;font-size:0.85rem}
.pbits .pgap{display:inline-block;width:0.5em}
.ptable{border-collapse:collapse;margin:6px 0 12px 0;font-size:0.95rem}
.ptable th,.ptable td{border:1px solid #cbd5e1;padding:4px 8px;color:#111;text-align:left;vertical-align:middle}
.ptable th{background:#e2e8f0}
.precision-bits{overflow-x:auto}
.precision-bits .ptable td:last-child{min-width:16em}
.plegend span{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:700;margin-right:6px}
</style>"""




# White background and light grid lines, without a Plotly template: a named template is copied into every
# figure (about 100 ms and 6 kB of JSON per chart here); these few settings cost nothing.
PLAIN_LAYOUT = dict(template="none", plot_bgcolor="white", paper_bgcolor="white",
                    font=dict(family="sans-serif", color="#1f2937"))
PLAIN_AXIS = dict(showgrid=True, gridcolor="#e5e7eb", linecolor="#9ca3af", zeroline=False, automargin=True)


def plain_style(fig: go.Figure) -> go.Figure:
    fig.update_layout(**PLAIN_LAYOUT)
    fig.update_xaxes(**PLAIN_AXIS)
    fig.update_yaxes(**PLAIN_AXIS)
    return fig


# ---------------------------------------------------------------- numbers as text


def number(v: float) -> str:
    """A stored value exactly as Python prints it (repr: the shortest text that reads back the same)."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    return repr(v)


def error(v: float | None) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "∞"
    return "0" if v == 0 else f"{v:.3g}"


def duration(seconds: float, lang: str) -> str:
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return TEXT.say(lang, "seconds", n=f"{seconds:.0f}")
    if seconds < 3600:
        return TEXT.say(lang, "minutes", n=f"{seconds / 60:.1f}")
    return TEXT.say(lang, "hours", n=f"{seconds / 3600:.1f}")


# ---------------------------------------------------------------- one number, bit by bit


def bit_boxes(bits: int, fmt: Format) -> str:
    """The pattern as coloured boxes: sign red, exponent blue, mantissa green; a 1 strong, a 0 pale."""
    cells = []
    for part, colour in zip(split(bits, fmt), (BIT_COLOURS["sign"], BIT_COLOURS["exp"], BIT_COLOURS["man"])):
        for bit in part:
            cells.append(f'<span class="pbit" style="background:{colour};opacity:{1.0 if bit == "1" else 0.45}">{bit}</span>')
        cells.append('<span class="pgap"></span>')
    return "".join(cells)


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ['<table class="ptable"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def too_large_words(fmt: Format, lang: str) -> str:
    """What the format does with a number too large for it (read from torch in compute)."""
    if fmt.has_inf:
        return TEXT.say(lang, "inf_yes")
    if saturates(fmt):
        return TEXT.say(lang, "inf_none_saturates", largest=f"{fmt.max:g}")
    return TEXT.say(lang, "inf_none_nan")


def formats_table_html(lang: str) -> str:
    head = [TEXT.say(lang, k) for k in ("lim_format", "lim_bits", "lim_largest", "lim_smallest_normal",
                                        "lim_smallest_subnormal", "lim_eps", "lim_digits", "lim_inf")]
    rows = [[f"<b>{f.label}</b>", f"{f.bits} = 1+{f.exp_bits}+{f.man_bits}", f"{f.max:.6g}", f"{f.smallest_normal:.4g}",
             f"{f.smallest_subnormal:.4g}", f"{f.eps:.4g}", f"{f.decimal_digits:.1f}", html.escape(too_large_words(f, lang))]
            for f in FORMATS]
    return _table(head, rows)


def bits_html(result: BitsResult, lang: str) -> str:
    """The number view: legend, one row per format (bits, hex, stored value, errors, what happened),
    the neighbours, and the limits of every format."""
    head = [TEXT.say(lang, k) for k in ("col_format", "col_bits", "col_hex", "col_stored", "col_abs_error",
                                        "col_rel_error", "col_outcome")]
    rows = [[f"<b>{r.fmt.label}</b>", f'<span class="pbits">{bit_boxes(r.bits, r.fmt)}</span>',
             f"<code>0x{r.bits:0{r.fmt.bits // 4}X}</code>", f"<code>{number(r.value)}</code>", error(r.abs_error),
             error(r.rel_error), html.escape(r.outcome.say(lang))] for r in result.rows]
    legend = (f'<div class="plegend"><span style="background:{BIT_COLOURS["sign"]}">{TEXT.say(lang, "legend_sign")}</span>'
              f'<span style="background:{BIT_COLOURS["exp"]}">{TEXT.say(lang, "legend_exp")}</span>'
              f'<span style="background:{BIT_COLOURS["man"]}">{TEXT.say(lang, "legend_man")}</span> '
              f'{TEXT.say(lang, "legend_hint")}</div>')
    if result.float64_error is not None:
        typed = TEXT.say(lang, "typed_exact", value=number(result.x), error=error(result.float64_error))
    else:
        typed = TEXT.say(lang, "typed_inexact")
    lines = []
    for r in result.rows:
        if r.neighbours is None:
            continue
        below, above = r.neighbours
        below_text = TEXT.say(lang, "no_smaller") if math.isnan(below) else number(below)
        above_text = TEXT.say(lang, "no_larger") if math.isnan(above) else number(above)
        lines.append(f"<b>{r.fmt.label}</b>: {html.escape(below_text)} &lt; <b>{number(r.value)}</b> &lt; "
                     f"{html.escape(above_text)}")
    neighbour_html = (f"<p>{TEXT.say(lang, 'neighbours_intro')}<br>" + "<br>".join(lines) + "</p>") if lines else ""
    limits = f"<h4>{TEXT.say(lang, 'limits_heading')}</h4>" + formats_table_html(lang)
    return (STYLE + f'<div class="precision-bits">{legend}{_table(head, rows)}<p>{typed}</p>{neighbour_html}'
            f"{limits}</div>")


def spacing_figure(result: BitsResult, lang: str) -> go.Figure:
    """Log-log step chart: the gap to the next number in each format, around the typed |x|.
    Built from plain dicts in one go (Plotly checks a figure once instead of at every update)."""
    traces = []
    for s in result.spacing:
        colour, label = FORMAT_COLOURS[s.fmt.key], s.fmt.label
        name = label if s.sizes else TEXT.say(lang, "spacing_out_of_range", label=label)
        traces.append(dict(type="scatter", x=s.sizes or [None], y=s.gaps or [None], mode="lines", line_shape="hv",
                           name=name, line=dict(color=colour, width=3),
                           hovertemplate=TEXT.say(lang, "spacing_hover") + f"<extra>{label}</extra>"))
        if s.here is not None and s.here_gap is not None:
            traces.append(dict(type="scatter", x=[s.here], y=[s.here_gap], mode="markers", showlegend=False,
                               marker=dict(color=colour, size=12, line=dict(color="white", width=2)),
                               hovertemplate=f"{label}: " + TEXT.say(lang, "spacing_here_hover") + "<extra></extra>"))
    shapes, annotations = [], []
    if result.centre is not None:  # a dashed line at the typed number
        shapes.append(dict(type="line", xref="x", yref="paper", x0=result.centre, x1=result.centre, y0=0, y1=1,
                           line=dict(color="#6b7280", dash="dash")))
        annotations.append(dict(xref="x", yref="paper", x=math.log10(result.centre), y=1, yanchor="bottom",
                                showarrow=False, text=TEXT.say(lang, "spacing_your_number", size=f"{result.centre:.4g}")))
    layout = dict(PLAIN_LAYOUT, title=dict(text=TEXT.say(lang, "spacing_title")), height=460,
                  margin=dict(l=70, r=20, t=60, b=60), legend=dict(orientation="h", y=-0.22),
                  font=dict(PLAIN_LAYOUT["font"], size=15), shapes=shapes, annotations=annotations,
                  xaxis=dict(PLAIN_AXIS, type="log", title=dict(text=TEXT.say(lang, "spacing_x")), exponentformat="power"),
                  yaxis=dict(PLAIN_AXIS, type="log", title=dict(text=TEXT.say(lang, "spacing_y")), exponentformat="power"))
    return go.Figure(data=traces, layout=layout)


# ---------------------------------------------------------------- the comparison


def compare_figure(result: compare.CompareResult, lang: str) -> go.Figure:
    from plotly.subplots import make_subplots

    label = compare.PRECISION_LABEL
    titles = [TEXT.say(lang, k) for k in ("fig_cnn", "fig_matmul", "fig_memory", "fig_agree")]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, vertical_spacing=0.16, horizontal_spacing=0.08)
    devices = list(dict.fromkeys(r.device for r in result.rows))
    categories = [label[p] for p in compare.PRECISIONS if any(r.precision == p for r in result.rows)]
    for i, device in enumerate(devices):
        colour = DEVICE_COLOURS[i % len(DEVICE_COLOURS)]
        measured = [r for r in result.rows if r.device == device and r.status == "ok"]
        cnn = [r for r in measured if r.workload == "cnn"]
        mm = [r for r in measured if r.workload == "matmul"]
        name = device.upper()
        xs = [label[r.precision] for r in cnn]
        fig.add_trace(go.Bar(x=xs, y=[round(r.throughput, 2) for r in cnn], name=name, marker_color=colour,
                             legendgroup=name, text=[f"{r.throughput:.1f}" for r in cnn], textposition="outside"),
                      row=1, col=1)
        fig.add_trace(go.Bar(x=[label[r.precision] for r in mm], y=[round(r.throughput, 1) for r in mm], name=name,
                             marker_color=colour, legendgroup=name, showlegend=False,
                             text=[f"{r.throughput:.0f}" for r in mm], textposition="outside"), row=1, col=2)
        fig.add_trace(go.Bar(x=xs, y=[round(r.param_mb, 2) for r in cnn], name=TEXT.say(lang, "fig_weights", device=name),
                             marker_color=colour, legendgroup=name, showlegend=False,
                             text=[f"{r.param_mb:.1f}" for r in cnn], textposition="outside"), row=2, col=1)
        fig.add_trace(go.Bar(x=xs, y=[round(r.peak_mb, 1) for r in cnn], name=TEXT.say(lang, "fig_peak", device=name),
                             marker_color=colour, marker_pattern_shape="/", opacity=0.6, legendgroup=name,
                             showlegend=False, text=[f"{r.peak_mb:.0f}" for r in cnn], textposition="outside"),
                      row=2, col=1)
        fig.add_trace(go.Bar(x=xs, y=[round(r.top1_agree, 1) for r in cnn], name=name, marker_color=colour,
                             legendgroup=name, showlegend=False, text=[f"{r.top1_agree:.0f}%" for r in cnn],
                             textposition="outside", customdata=[float(f"{r.max_abs_diff:.3g}") for r in cnn],
                             hovertemplate=TEXT.say(lang, "fig_agree_hover") + "<extra></extra>"), row=2, col=2)
    for row_, col_ in ((1, 1), (1, 2), (2, 1), (2, 2)):
        fig.update_xaxes(categoryorder="array", categoryarray=categories, row=row_, col=col_)
    fig.update_traces(cliponaxis=False)
    fig.update_yaxes(range=[0, 115], row=2, col=2)
    missing = {r.precision for r in result.rows if r.status != "ok"} - {r.precision for r in result.rows if r.status == "ok"}
    title = TEXT.say(lang, "fig_title", model=result.model_name) + (TEXT.say(lang, "fig_empty") if missing else "")
    plain_style(fig)
    fig.update_layout(barmode="group", height=720, font=dict(size=14), title=title,
                      margin=dict(l=60, r=20, t=90, b=40), legend=dict(orientation="h", y=1.08, x=1, xanchor="right"))
    return fig


def compare_table(result: compare.CompareResult, lang: str):
    """The rows as a pandas DataFrame whose column names are the words of `lang`."""
    import pandas as pd

    status = {s: TEXT.say(lang, f"status_{s}") for s in ("ok", "unsupported", "skipped")}
    say = lambda key, **p: TEXT.say(lang, key, **p)  # noqa: E731 - the column names below read as a table
    images_time = say("col_images_time", count=text.count(lang, IMAGES_FOR_TIME))
    records = []
    for r in result.rows:
        measured, cnn = r.status == "ok", r.workload == "cnn"
        note = r.reason.say(lang) if r.reason is not None else ""
        if measured and cnn and r.precision in ("int8", "fp8"):
            note = say(f"row_{r.precision}_cnn")
        records.append({
            say("col_device"): r.device.upper(),
            say("col_precision"): compare.PRECISION_LABEL[r.precision],
            say("col_workload"): say(f"workload_{r.workload}"),
            say("col_status"): status[r.status],
            say("col_items"): r.items if measured else "",
            say("col_latency"): round(r.latency_ms, 1) if measured else "",
            say("col_throughput"): round(r.throughput, 1) if measured else "",
            say("col_weights"): round(r.param_mb, 2) if measured else "",
            say("col_peak"): round(r.peak_mb, 1) if measured else "",
            say("col_diff"): float(f"{r.max_abs_diff:.3g}") if measured else "",
            say("col_agree"): round(r.top1_agree, 1) if measured and cnn else "",
            images_time: duration(IMAGES_FOR_TIME / r.throughput, lang) if measured and cnn else "",
            say("col_note"): note,
        })
    return pd.DataFrame(records)


def _flags_words(cpu: hardware.CPU, lang: str) -> str | None:
    """'AVX-512 BF16 yes, AMX BF16 no, ...' for this architecture's flags; None when the system does not say."""
    if cpu.flags is None:
        return None
    return ", ".join(TEXT.say(lang, "flag_yes" if cpu.has(flag) else "flag_no", name=name)
                     for flag, name in cpu.named_flags)


def cpu_notes(result: compare.CompareResult, lang: str) -> list[str]:
    cpu, probe = hardware.cpu(), result.cpu_probe
    flags = _flags_words(cpu, lang)
    lines = [TEXT.say(lang, "notes_threads", threads=result.threads, cores=cpu.logical_cores),
             TEXT.say(lang, "notes_flags", flags=flags, capability=cpu.capability) if flags is not None
             else TEXT.say(lang, "notes_flags_unknown", capability=cpu.capability),
             TEXT.say(lang, "notes_probe", n=hardware.PROBE_N, fp32=f"{probe['fp32']:.0f}", bf16=f"{probe['bf16']:.0f}",
                      fp16=f"{probe['fp16']:.1f}", bf16_ratio=f"{probe['bf16'] / probe['fp32']:.2f}",
                      fp16_ratio=f"{probe['fp16'] / probe['fp32']:.2f}"),
             hardware.cpu_case(probe).say(lang)]
    if cpu.has("amx_bf16") is not True:
        lines.append(TEXT.say(lang, "notes_amx"))
    return [" ".join(lines)]


def compare_notes(result: compare.CompareResult, lang: str) -> str:
    """'What the result means', as Markdown in one language."""
    label = compare.PRECISION_LABEL
    ok = [r for r in result.rows if r.status == "ok"]
    cnn = {(r.device, r.precision): r for r in ok if r.workload == "cnn"}
    mm = {(r.device, r.precision): r for r in ok if r.workload == "matmul"}
    lines = [note.say(lang) for note in result.settings_notes]
    weights = TEXT.say(lang, "weights_real" if result.real_weights else "weights_random")
    lines.append(TEXT.say(lang, "notes_model", model=result.model_name, weights=weights, seconds=f"{result.wall_s:.1f}",
                          budget=f"{result.budget_s:.0f}", load=f"{result.load_s:.1f}"))
    if result.fallback is not None:
        lines.append(result.fallback.say(lang))
    skipped = sum(r.status == "skipped" for r in result.rows)
    if skipped:
        lines.append(TEXT.say(lang, "notes_skipped", n=skipped))
    lines += cpu_notes(result, lang)
    base = cnn.get(("cpu", "fp32"))
    for precision in ("bf16", "fp16"):
        r = cnn.get(("cpu", precision))
        if base and r:
            lines.append(TEXT.say(lang, "notes_ratio", precision=label[precision], ratio=f"{r.throughput / base.throughput:.2f}"))
    if ("cpu", "int8") in cnn:
        paragraph = TEXT.say(lang, "notes_int8", mb=f"{cnn[('cpu', 'int8')].param_mb:.1f}")
        m8, m32 = mm.get(("cpu", "int8")), mm.get(("cpu", "fp32"))
        if m8 and m32:
            paragraph += " " + TEXT.say(lang, "notes_int8_matmul", ratio=f"{m8.throughput / m32.throughput:.2f}", n=m8.items)
        lines.append(paragraph)
    fp8_devices = list(dict.fromkeys(r.device.upper() for r in ok if r.precision == "fp8"))
    if fp8_devices:
        paragraph = TEXT.say(lang, "notes_fp8_ran", devices=", ".join(fp8_devices))
        for (device, precision), r in mm.items():
            r32 = mm.get((device, "fp32"))
            if precision == "fp8" and r32 is not None and r.items == r32.items:
                paragraph += " " + TEXT.say(lang, "notes_fp8_ratio", device=device.upper(),
                                            ratio=f"{r.throughput / r32.throughput:.2f}", n=r.items)
        lines.append(paragraph)
    elif any(r.precision == "fp8" and r.status == "unsupported" for r in result.rows):
        lines.append(TEXT.say(lang, "notes_fp8_not_here"))
    agree = [r for r in cnn.values() if r.precision != "fp32" and math.isfinite(r.top1_agree)]
    if agree and result.real_weights:
        worst = min(agree, key=lambda r: r.top1_agree)
        lines.append(TEXT.say(lang, "notes_accuracy", device=worst.device.upper(), precision=label[worst.precision],
                              agree=f"{worst.top1_agree:.0f}"))
    times = [f"{device.upper()} {label[precision]}: {duration(IMAGES_FOR_TIME / r.throughput, lang)}"
             for (device, precision), r in sorted(cnn.items(), key=lambda kv: -kv[1].throughput)]
    if times:
        lines.append(TEXT.say(lang, "notes_images_time", count=text.count(lang, IMAGES_FOR_TIME), times=" · ".join(times)))
    gpu = [r for r in cnn.values() if r.device != "cpu"]
    cpu_best = max((r for r in cnn.values() if r.device == "cpu"), key=lambda r: r.throughput, default=None)
    if gpu and cpu_best:
        best = max(gpu, key=lambda r: r.throughput)
        lines.append(TEXT.say(lang, "notes_gpu_faster", ratio=f"{best.throughput / cpu_best.throughput:.0f}"))
    elif not hardware.gpus():
        lines.append(TEXT.say(lang, "notes_no_gpu"))
    return "\n\n".join(lines)


# ---------------------------------------------------------------- this machine's devices


def device_panel(lang: str) -> str:
    cpu = hardware.cpu()
    lines = [TEXT.say(lang, "panel_heading"),
             TEXT.say(lang, "panel_cpu", model=cpu.model, cores=cpu.logical_cores, threads=torch.get_num_threads(),
                      capability=cpu.capability)]
    flags = _flags_words(cpu, lang)
    lines.append(TEXT.say(lang, "panel_flags", flags=flags) if flags is not None else TEXT.say(lang, "panel_flags_unknown"))
    gpus = hardware.gpus()
    for g in gpus:
        lines.append(TEXT.say(lang, "panel_gpu", index=g.index, name=g.name, memory=f"{g.memory_gib:.0f}",
                              capability=f"{g.capability[0]}.{g.capability[1]}", sms=g.multiprocessors,
                              cuda=torch.version.cuda))
    if not gpus:
        lines.append(TEXT.say(lang, "panel_no_gpu"))
    if hardware.mps_available():
        lines.append(TEXT.say(lang, "panel_mps"))
    lines.append(TEXT.say(lang, "panel_torch", version=torch.__version__))
    lines += ["", TEXT.say(lang, "panel_compare_heading"), TEXT.say(lang, "panel_compare_table"), "",
              TEXT.say(lang, "panel_hint", count=text.count(lang, IMAGES_FOR_TIME))]
    return "\n".join(lines)
