"""The sliding-window lesson's pictures: the animation (one Plotly figure, one frame per window
position, played in the browser), the explanation beside it, and the "on a real photo" panel.

No Gradio here; every word comes from the lesson's text table in the language it is given.
"""
from __future__ import annotations

import uuid

import cv2
import numpy as np
import plotly.graph_objects as go
import plotly.io

from tabs.sliding_window.compute import Result, Steps, output_size
from tabs.sliding_window.text import TEXT

INPUT_SCALE = [[0.0, "#f8fafc"], [1.0, "#7dd3fc"]]  # light colours: black numbers stay readable
TERM_SCALE = [[0.0, "#fca5a5"], [0.5, "#ffffff"], [1.0, "#86efac"]]  # negative red, positive green
OUTPUT_SCALE = [[0.0, "#fef9c3"], [1.0, "#fb923c"]]
COVER_SCALE = [[0.0, "rgba(255,255,255,0)"], [0.5, "rgba(255,255,255,0)"], [0.5, "#e5e7eb"], [1.0, "#e5e7eb"]]
WINDOW_COLOR = "#dc2626"
PAD_TEXT_COLOR = "#4b5563"
PAD_COLOR = "#d1d5db"


def fmt(value: float) -> str:
    """A number as a student would write it: integers plain, others with 3 significant digits."""
    if value == -np.inf:
        return "−∞"
    if value == np.inf:
        return "∞"
    rounded = round(value)
    if abs(value - rounded) < 1e-9 and -1e7 < value < 1e7:
        return str(int(rounded))
    return f"{value:.4g}" if abs(value) >= 100 else f"{value:.3g}"


def _cell_boxes(cells: list[tuple[int, int]]) -> tuple[list, list]:
    """Outline of unit cells centred on integer (row, col) coordinates, as one scatter line with gaps."""
    xs, ys = [], []
    for r, c in cells:
        xs += [c - 0.5, c + 0.5, c + 0.5, c - 0.5, c - 0.5, None]
        ys += [r - 0.5, r - 0.5, r + 0.5, r + 0.5, r - 0.5, None]
    return xs, ys


def _rect(top: float, left: float, bottom: float, right: float) -> tuple[list, list]:
    return [left, right, right, left, left], [top, top, bottom, bottom, top]


def _window_outline(steps: Steps, i: int, j: int) -> tuple[list, list]:
    k, d, s = steps.kernel.shape[0], steps.dilation, steps.stride
    top, left = i * s, j * s
    if d == 1:  # the window is one solid block
        return _rect(top - 0.5, left - 0.5, top + k - 0.5, left + k - 0.5)
    # dilated: the sampled cells, with holes between them
    return _cell_boxes([(top + a * d, left + b * d) for a in range(k) for b in range(k)])


def _none_if_inf(values: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in values]


FIGURE_HEIGHT = 660
GRID_PX = 470  # about how many pixels a grid side gets on a 1500-px-wide page (the grids are width-bound)


def _font_for(cells: int, largest: int = 22, grid_px: float = GRID_PX, texts=()) -> int:
    """Text size that fits a cell of a square grid with `cells` cells per side, and fits the longest
    line among `texts` (a digit is about 0.6 em wide)."""
    cell_px = grid_px / max(cells, 1)
    longest = max((len(line) for text in texts for line in str(text).split("<br>")), default=1)
    return int(max(9, min(largest, 0.45 * cell_px, 0.92 * cell_px / (0.6 * longest + 0.3))))


def _paren(value: float) -> str:
    return f"({fmt(value)})" if value < 0 else fmt(value)


def _term_text(steps: Steps, index: int) -> list[list[str]]:
    window, term = steps.windows[index], steps.terms[index]
    k = steps.kernel.shape[0]
    if steps.operation != "conv":
        return [[fmt(v) for v in row] for row in window]
    if k <= 4:
        return [[f"{fmt(window[a, b])}×{_paren(steps.kernel[a, b])}<br>= {fmt(term[a, b])}" for b in range(k)]
                for a in range(k)]
    return [[fmt(term[a, b]) for b in range(k)] for a in range(k)]


def _sum_text(steps: Steps, index: int, lang: str) -> str:
    i, j = divmod(index, steps.output.shape[1])
    k = steps.kernel.shape[0]
    value = fmt(steps.output[i, j])
    target = TEXT.say(lang, "output_cell", i=i, j=j)
    if steps.operation == "conv":
        return f"Σ = {value}<br>→ {target}"
    if steps.operation == "max":
        return f"max = {value}<br>→ {target}"
    return f"Σ {fmt(steps.windows[index].sum())} ÷ {k * k} = {value}<br>→ {target}"


# Three panels side by side: (x-domain, axis suffix). Widths 0.4 : 0.2 : 0.4 with small gaps.
PANELS = {"input": ((0.0, 0.372), ""), "terms": ((0.407, 0.593), "2"), "output": ((0.628, 1.0), "3")}


def _on(panel: str, trace: dict) -> dict:
    """Put a trace on one of the three panels."""
    suffix = PANELS[panel][1]
    return {**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "hoverinfo": "skip", "showlegend": False}


def _axes(panel: str, cols: int, rows_range: tuple[float, float]) -> dict:
    """Square cells, row 0 at the top, no ticks."""
    domain, suffix = PANELS[panel]
    bare = {"showgrid": False, "zeroline": False, "showticklabels": False, "ticks": ""}
    return {
        f"xaxis{suffix}": {**bare, "domain": list(domain), "range": [-0.5, cols - 0.5], "anchor": f"y{suffix}"},
        f"yaxis{suffix}": {**bare, "domain": [0.0, 1.0], "range": list(rows_range), "anchor": f"x{suffix}",
                           "scaleanchor": f"x{suffix}", "scaleratio": 1, "constrain": "domain"},
    }


# The traces each frame changes, in this order: the window on the input, the products (or values) under
# it, their sum, the cover over the output cells not computed yet, and the outline of the current one.
MOVING = ("window", "terms", "sum", "cover", "cell")


def _input_traces(steps: Steps) -> list[tuple[str | None, dict]]:
    """The padded input: grey padding under the input colours, every number, and the window at (0, 0)."""
    padded, p = steps.padded, steps.padding
    ph, pw = padded.shape
    real = np.zeros_like(padded, dtype=bool)
    real[p:ph - p, p:pw - p] = True
    finite_in = padded[real]
    traces: list[tuple[str | None, dict]] = []
    if p:  # padding cells in grey, under the input colours
        traces.append((None, _on("input", {"type": "heatmap", "z": np.where(real, np.nan, 0.0).tolist(),
                                           "colorscale": [[0, PAD_COLOR], [1, PAD_COLOR]], "showscale": False,
                                           "xgap": 1, "ygap": 1})))
    traces.append((None, _on("input", {"type": "heatmap", "z": _none_if_inf(np.where(real, padded, np.nan)),
                                       "colorscale": INPUT_SCALE, "showscale": False, "xgap": 1, "ygap": 1,
                                       "zmin": float(finite_in.min()), "zmax": float(finite_in.max()) + 1e-9})))
    rows_idx, cols_idx = np.mgrid[0:ph, 0:pw]
    numbers = [fmt(v) for v in padded.ravel()]
    colours = [("#111111" if r else PAD_TEXT_COLOR) for r in real.ravel()]
    traces.append((None, _on("input", {"type": "scatter", "mode": "text", "x": cols_idx.ravel().tolist(),
                                       "y": rows_idx.ravel().tolist(), "text": numbers,
                                       "textfont": {"size": _font_for(max(ph, pw), texts=numbers), "color": colours}})))
    wx, wy = _window_outline(steps, 0, 0)
    traces.append(("window", _on("input", {"type": "scatter", "mode": "lines", "x": wx, "y": wy,
                                           "line": {"color": WINDOW_COLOR, "width": 4}})))
    return traces


def _terms_traces(steps: Steps, term_texts: list, lang: str) -> list[tuple[str | None, dict]]:
    """The middle panel at the first position: the products (or values) under the window, a thin grid, the sum."""
    k = steps.kernel.shape[0]
    finite_terms = np.abs(steps.terms[np.isfinite(steps.terms)])
    term_abs = float(finite_terms.max()) if finite_terms.size and finite_terms.max() > 0 else 1.0
    # one size for every frame: the longest text over all positions must fit
    term_font = _font_for(k, largest=20, grid_px=GRID_PX * 0.45,
                          texts=[text for grid in term_texts for row in grid for text in row])
    gx, gy = [], []  # thin cell borders, so white (zero) products still read as a grid
    for line in range(k + 1):
        gx += [line - 0.5, line - 0.5, None, -0.5, k - 0.5, None]
        gy += [-0.5, k - 0.5, None, line - 0.5, line - 0.5, None]
    return [
        ("terms", _on("terms", {"type": "heatmap", "z": _none_if_inf(steps.terms[0]), "text": term_texts[0],
                                "texttemplate": "%{text}", "textfont": {"size": term_font}, "colorscale": TERM_SCALE,
                                "zmin": -term_abs, "zmax": term_abs, "showscale": False, "xgap": 2, "ygap": 2})),
        (None, _on("terms", {"type": "scatter", "mode": "lines", "x": gx, "y": gy,
                             "line": {"color": "#9ca3af", "width": 1}})),
        ("sum", _on("terms", {"type": "scatter", "mode": "text", "x": [(k - 1) / 2], "y": [k - 0.5 + 0.04 * k],
                              "text": [_sum_text(steps, 0, lang)], "textposition": "bottom center",
                              "textfont": {"size": 20, "color": "#111111"}, "cliponaxis": False})),
    ]


def _cover_range(steps: Steps, index: int) -> dict:
    """The cover's z = cell index; moving the colour-scale midpoint past the cells already computed uncovers
    them, so a frame sends two numbers instead of the whole output map."""
    reach = steps.positions + 1.0
    return {"zmin": index + 0.5 - reach, "zmax": index + 0.5 + reach}


def _output_traces(steps: Steps) -> list[tuple[str | None, dict]]:
    """The output: every value, the cover hiding those not computed yet, and the current cell's outline."""
    out = steps.output
    oh, ow = out.shape
    finite_out = out[np.isfinite(out)]
    lo, hi = (float(finite_out.min()), float(finite_out.max())) if finite_out.size else (0.0, 1.0)
    numbers = [fmt(v) for v in out.ravel()]
    cx, cy = _rect(-0.5, -0.5, 0.5, 0.5)
    cell_index = np.arange(steps.positions, dtype=float).reshape(oh, ow).tolist()
    return [
        (None, _on("output", {"type": "heatmap", "z": _none_if_inf(out), "text": [[fmt(v) for v in row] for row in out],
                              "texttemplate": "%{text}",
                              "textfont": {"size": _font_for(max(oh, ow), texts=numbers), "color": "#111111"},
                              "colorscale": OUTPUT_SCALE, "zmin": lo, "zmax": hi + 1e-9, "showscale": False,
                              "xgap": 1, "ygap": 1})),
        # no gaps in the cover: nothing of the values below may peek through
        ("cover", _on("output", {"type": "heatmap", "z": cell_index,
                                 "colorscale": COVER_SCALE, "showscale": False, **_cover_range(steps, 0)})),
        ("cell", _on("output", {"type": "scatter", "mode": "lines", "x": cx, "y": cy,
                                "line": {"color": WINDOW_COLOR, "width": 4}})),
    ]


def _frame(steps: Steps, index: int, term_texts: list, moving: list[int], lang: str) -> dict:
    """What changes at one window position: the traces named in MOVING, at their indices `moving`."""
    i, j = divmod(index, steps.output.shape[1])
    wx, wy = _window_outline(steps, i, j)
    cx, cy = _rect(i - 0.5, j - 0.5, i + 0.5, j + 0.5)
    return {"name": str(index), "traces": list(moving), "data": [
        {"type": "scatter", "x": wx, "y": wy},
        {"type": "heatmap", "z": _none_if_inf(steps.terms[index]), "text": term_texts[index]},
        {"type": "scatter", "text": [_sum_text(steps, index, lang)]},
        {"type": "heatmap", **_cover_range(steps, index)},
        {"type": "scatter", "x": cx, "y": cy},
    ]}


def _play_buttons(lang: str, frame_ms: int) -> dict:
    """Play, fast and pause: they run in the browser."""
    def play(ms: int) -> dict:
        return {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True,
                "transition": {"duration": 0}, "mode": "immediate"}

    return {
        "type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left", "yanchor": "top",
        "pad": {"t": 10, "r": 10}, "showactive": False, "font": {"size": 18},
        "buttons": [
            {"label": TEXT.say(lang, "play"), "method": "animate", "args": [None, play(frame_ms)]},
            {"label": TEXT.say(lang, "fast"), "method": "animate", "args": [None, play(max(60, frame_ms // 5))]},
            {"label": TEXT.say(lang, "pause"), "method": "animate",
             "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                               "transition": {"duration": 0}}]},
        ],
    }


def _position_slider(steps: Steps, lang: str) -> dict:
    """One slider step per window position, labelled (row,col); its `active` is where the animation stands."""
    ow = steps.output.shape[1]
    slider_steps = [{"method": "animate", "label": f"({index // ow},{index % ow})",
                     "args": [[str(index)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                             "transition": {"duration": 0}}]} for index in range(steps.positions)]
    return {
        "active": 0, "steps": slider_steps, "x": 0.33, "len": 0.67, "y": -0.02, "yanchor": "top",
        "pad": {"t": 10, "b": 10}, "font": {"color": "rgba(0,0,0,0)", "size": 8}, "ticklen": 0,
        "tickcolor": "rgba(0,0,0,0)", "transition": {"duration": 0},
        "currentvalue": {"prefix": TEXT.say(lang, "position"), "font": {"size": 18, "color": "#111111"},
                         "xanchor": "left"},
    }


def _panel_titles(steps: Steps, lang: str) -> list[dict]:
    ph, pw = steps.padded.shape
    oh, ow = steps.output.shape
    titles = {
        "input": TEXT.say(lang, "panel_input", size=f"{ph}×{pw}"),
        "terms": TEXT.say(lang, f"panel_terms_{steps.operation}"),
        "output": TEXT.say(lang, "panel_output", size=f"{oh}×{ow}"),
    }
    return [{"text": titles[panel], "x": sum(PANELS[panel][0]) / 2, "y": 1.0, "xref": "paper", "yref": "paper",
             "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 18}} for panel in PANELS]


def _layout(steps: Steps, lang: str, frame_ms: int) -> dict:
    ph, pw = steps.padded.shape
    oh, ow = steps.output.shape
    k = steps.kernel.shape[0]
    return {
        "height": FIGURE_HEIGHT, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "plot_bgcolor": "white", "paper_bgcolor": "white", "font": {"size": 16, "color": "#111111"},
        "showlegend": False, "annotations": _panel_titles(steps, lang),
        **_axes("input", pw, (ph - 0.5, -0.5)),
        **_axes("terms", k, (k - 0.5 + max(1.2, k * 0.45), -0.5)),
        **_axes("output", ow, (oh - 0.5, -0.5)),
        "updatemenus": [_play_buttons(lang, frame_ms)],
        "sliders": [_position_slider(steps, lang)],
    }


def build_figure(steps: Steps, lang: str = "ko", frame_ms: int = 600) -> "AnimatedFigure":
    """The animation figure as a plain Plotly spec (plotly's Python validators would spend most of the
    call on hundreds of frames we build correct by construction; tests validate it with go.Figure).
    The frames travel in layout.meta because Gradio's Plotly component drops `frames`; a small
    script in the tab hands them to Plotly (see FRAMES_JS)."""
    term_texts = [_term_text(steps, index) for index in range(steps.positions)]
    traces = _input_traces(steps) + _terms_traces(steps, term_texts, lang) + _output_traces(steps)
    where = {name: index for index, (name, _) in enumerate(traces) if name is not None}
    moving = [where[name] for name in MOVING]
    frames = [_frame(steps, index, term_texts, moving, lang) for index in range(steps.positions)]
    layout = _layout(steps, lang, frame_ms)
    layout["meta"] = {"sw_token": uuid.uuid4().hex, "sw_frames": frames, "sw_positions": steps.positions}
    return AnimatedFigure({"data": [trace for _, trace in traces], "layout": layout})


class AnimatedFigure:
    """A Plotly figure spec (data, layout; frames inside layout.meta) that gr.Plot can send as it is."""

    def __init__(self, spec: dict):
        self.spec = spec

    @property
    def frames(self) -> list[dict]:
        return self.spec["layout"]["meta"]["sw_frames"]

    def to_dict(self) -> dict:
        return self.spec

    def to_plotly_json(self) -> dict:  # what core.outputs looks for: a Plotly figure, serialised once
        return self.spec

    def to_json(self) -> str:
        return plotly.io.json.to_json_plotly(self.spec)  # numpy-aware; NaN becomes null

    def to_figure(self) -> go.Figure:
        """The same figure as a go.Figure with real frames (for saving or plotly.io.show)."""
        layout = {key: value for key, value in self.spec["layout"].items() if key != "meta"}
        return go.Figure(data=self.spec["data"], layout=layout, frames=self.frames)




# ----------------------------------------------------------------------------------------------
# The text beside the animation: the formula with the current numbers, conventions, the check.


def formula_line(side: str, n: int, k: int, s: int, p: int, d: int, lang: str) -> str:
    size = output_size(n, k, s, p, d)
    return (f"**{TEXT.say(lang, side)}**: ⌊({n} + 2·{p} − {d}·({k}−1) − 1) / {s}⌋ + 1 = "
            f"⌊{n + 2 * p - d * (k - 1) - 1} / {s}⌋ + 1 = **{size}**")


def explanation(result: Result, lang: str) -> str:
    steps, st = result.steps, result.setting
    k, s, p, d = steps.kernel.shape[0], steps.stride, steps.padding, steps.dilation
    oh, ow = steps.output.shape
    lines = []
    if st.notes:
        lines += [TEXT.say(lang, "adjusted") + "<br>".join(note.say(lang) for note in st.notes), ""]
    lines += [
        TEXT.say(lang, "formula_title"),
        TEXT.say(lang, "formula"),
        "",
        "- " + formula_line("side_height", st.height, k, s, p, d, lang),
        "- " + formula_line("side_width", st.width, k, s, p, d, lang),
        "",
        TEXT.say(lang, "positions", oh=oh, ow=ow, n=oh * ow, span=d * (k - 1) + 1),
        "",
        TEXT.say(lang, "notes_example_title"),
    ]
    for stride in (1, 2):
        lines.append(TEXT.say(lang, "notes_example", s=stride, size=output_size(5, 3, stride, 0, 1)))
    lines += ["", TEXT.say(lang, "rules_title")]
    if steps.operation == "conv":
        lines.append(TEXT.say(lang, "rule_conv"))
        rows = " ".join("[" + ", ".join(fmt(v) for v in row) + "]" for row in steps.kernel)
        lines.append(TEXT.say(lang, "rule_kernel", k=k, rows=rows))
    elif steps.operation == "max":
        lines.append(TEXT.say(lang, "rule_max"))
    else:
        lines.append(TEXT.say(lang, "rule_avg", kk=k * k))
        lines.append(TEXT.say(lang, "rule_no_weights"))
    lines += ["", TEXT.say(lang, "checked", diff=f"{result.max_diff:.1e}")]
    return "\n".join(lines)


def cannot_run(message: str, lang: str) -> str:
    """What stands beside the last animation when a setting cannot run."""
    return f"{TEXT.say(lang, 'cannot_run_title')}\n\n{message}"


# ----------------------------------------------------------------------------------------------
# "On a real photo"


def to_display(response: np.ndarray, signed: bool, height: int) -> np.ndarray:
    """A response map as an RGB image `height` tall. Signed responses (edge kernels) show |value|
    stretched to their 99.5th percentile; the rest show their value clipped to 0..255.
    Small maps are enlarged with nearest neighbour so their real pixels stay visible."""
    if signed:
        mag = np.abs(response)
        top = float(np.percentile(mag, 99.5)) or 1.0
        img = np.clip(mag / top * 255, 0, 255).astype(np.uint8)
    else:
        img = np.clip(response, 0, 255).astype(np.uint8)
    scale = height / img.shape[0]
    size = (max(1, round(img.shape[1] * scale)), height)
    img = cv2.resize(img, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


def photo_panel(result: Result, lang: str) -> list[tuple[np.ndarray, str]]:
    """Captioned pictures: the photo, the kernel at stride 1 and at stride s, max and average pooling."""
    st = result.setting
    k, s = st.kernel_size, st.stride
    height = result.photo[0].values.shape[0]
    kernel = TEXT.say(lang, "photo_kernel" if st.operation == "conv" else "photo_box")
    items = []
    for item in result.photo:
        h, w = item.values.shape[:2]
        size = f"{w}×{h}"
        if item.what == "original":
            caption = TEXT.say(lang, "photo_original", size=size)
        elif item.what == "conv_full":
            caption = f"{kernel} s=1 → {size}" + (TEXT.say(lang, "photo_abs") if item.signed else "")
        elif item.what == "conv_strided":
            caption = f"{kernel} s={s} → {size}"
        else:
            caption = f"{TEXT.say(lang, 'photo_' + item.what)} {k}×{k} s={s} → {size}"
        items.append((to_display(item.values, item.signed, height), caption))
    return items


CAPTION_H = 34  # pixels of the caption band above each picture of the strip
STRIP_GAP = 8


def photo_strip(result: Result, lang: str) -> np.ndarray:
    """The photo panel as one picture: its pictures side by side at one height, each captioned above.
    One picture instead of a gallery of five: a class of 30 then fetches 30 files instead of 150."""
    from core import draw

    items = photo_panel(result, lang)
    height = max(picture.shape[0] for picture, _ in items)
    widths = [picture.shape[1] for picture, _ in items]
    strip = np.full((CAPTION_H + height, sum(widths) + STRIP_GAP * (len(items) - 1), 3), 255, np.uint8)
    x = 0
    for (picture, caption), width in zip(items, widths):
        strip[CAPTION_H:CAPTION_H + picture.shape[0], x:x + width] = picture
        strip[:CAPTION_H - 4, x:x + width] = (40, 40, 40)
        draw.put_label(strip, caption, (x + 6, CAPTION_H - 12), scale=0.55)
        x += width + STRIP_GAP
    return strip
