"""What the CNN lesson shows, in the page's language: the feature-map grid, the enlarged map, Grad-CAM over the
photo, the top-5, the info line, the layer table and the comparison of the classic CNNs. No Gradio here."""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from core import charts, classnames, draw, memory, text
from tabs.cnn_features import compute
from tabs.cnn_features.text import TEXT

GRID_COLUMNS = 8
GRID_CELL = 112  # pixels per feature map in the grid (a 7x7 map becomes clear 16-pixel blocks)
GRID_TITLE = 20  # pixels of the title band above each map
GRID_GAP = 4
ZOOM_SIZE = 384
FEATURE_COLORMAP = cv2.COLORMAP_VIRIDIS


# ---------------------------------------------------------------- the feature-map grid


@dataclasses.dataclass
class GridLayout:
    """Where each map sits in the grid picture, so a click on the picture finds its channel."""

    channels: list[int]
    columns: int
    pitch_x: int  # pixels from one cell to the next, horizontally and vertically
    pitch_y: int


def _color(values01: np.ndarray) -> np.ndarray:
    """0..1 values -> RGB uint8 with the feature-map colormap, no rescaling (for a shared scale)."""
    heat8 = (np.clip(np.nan_to_num(values01), 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(heat8, FEATURE_COLORMAP), cv2.COLOR_BGR2RGB)


def _scaled(maps: np.ndarray, shared: bool) -> np.ndarray:
    """Maps (N, H, W) to 0..1: each on its own range, or all on the range of the whole set."""
    if shared:
        return draw.normalize01(maps)
    return np.stack([draw.normalize01(m) for m in maps]) if len(maps) else maps


def render_grid(activation: np.ndarray, channels: list[int], shared_scale: bool) -> tuple[np.ndarray, GridLayout]:
    """The chosen channels as a grid of coloured maps, each titled with its channel index."""
    maps = _scaled(activation[channels].astype(np.float32), shared_scale)
    columns = min(GRID_COLUMNS, len(channels))
    rows = math.ceil(len(channels) / columns)
    pitch_x, pitch_y = GRID_CELL + GRID_GAP, GRID_CELL + GRID_TITLE + GRID_GAP
    canvas = np.full((rows * pitch_y - GRID_GAP, columns * pitch_x - GRID_GAP, 3), 255, dtype=np.uint8)
    h, w = maps.shape[1:]
    # Small maps are enlarged with nearest-neighbour so each activation stays a visible square.
    interpolation = cv2.INTER_NEAREST if max(h, w) < GRID_CELL else cv2.INTER_AREA
    for i, (channel, values) in enumerate(zip(channels, maps)):
        y, x = (i // columns) * pitch_y, (i % columns) * pitch_x
        canvas[y:y + GRID_TITLE, x:x + GRID_CELL] = (40, 40, 40)
        draw.put_label(canvas, f"#{channel}", (x + 4, y + GRID_TITLE - 5), scale=0.5)
        tile = cv2.resize(_color(values), (GRID_CELL, GRID_CELL), interpolation=interpolation)
        canvas[y + GRID_TITLE:y + GRID_TITLE + GRID_CELL, x:x + GRID_CELL] = tile
    return canvas, GridLayout(channels, columns, pitch_x, pitch_y)


def channel_at(layout: GridLayout, x: float, y: float) -> int | None:
    """The channel whose cell holds the pixel (x, y) of the grid picture, or None (a gap or outside)."""
    if x < 0 or y < 0:
        return None
    col, row = int(x // layout.pitch_x), int(y // layout.pitch_y)
    if (col >= layout.columns or x - col * layout.pitch_x >= GRID_CELL
            or y - row * layout.pitch_y >= GRID_CELL + GRID_TITLE):
        return None
    index = row * layout.columns + col
    return layout.channels[index] if index < len(layout.channels) else None


def zoom_view(crop: np.ndarray, activation: np.ndarray, channel: int, alpha: float = 0.55) -> np.ndarray:
    """One feature map large: the raw map (left) and the same map over the photo the network saw (right).
    `channel` is a channel of `activation` (`compute.check_channel` checks what a student typed)."""
    values = activation[channel].astype(np.float32)
    raw = cv2.resize(_color(draw.normalize01(values)), (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_NEAREST)
    photo = cv2.resize(np.asarray(crop, dtype=np.uint8), (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_LINEAR)
    over = draw.overlay_heatmap(photo, values, alpha=alpha, colormap=FEATURE_COLORMAP)
    gap = np.full((ZOOM_SIZE, 8, 3), 255, dtype=np.uint8)
    out = np.concatenate([raw, gap, over], axis=1)
    h, w = values.shape
    draw.put_label(out, f"#{channel}  {h}x{w}", (8, 28), scale=0.8)
    return out


def cam_view(crop: np.ndarray, cam: np.ndarray, class_index: int, prob: float) -> np.ndarray:
    """Grad-CAM over the photo the network saw, enlarged for the projector, with the class number and probability
    (the class's name, in the page's language, is in the info line: OpenCV draws no Hangul)."""
    over = draw.overlay_heatmap(np.asarray(crop), cam, alpha=0.5)
    over = cv2.resize(over, (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_LINEAR)
    return draw.put_label(over, f"#{class_index}  {100 * prob:.1f}%", (8, ZOOM_SIZE - 12), scale=0.7)


# ---------------------------------------------------------------- class names and the top-5


def class_label(lang: str, index: int) -> str:
    """'281: 얼룩무늬 고양이(태비) (tabby)' / '281: tabby': the number keeps two classes of one name apart."""
    return f"{index}: {classnames.imagenet_label(lang, index)}"


def _bar_label(lang: str, index: int) -> str:
    """A class on a bar of the top-5: on a Korean page the English name goes on a second line (one long line
    would not fit beside the Grad-CAM picture: Plotly cuts it)."""
    label = class_label(lang, index)
    if lang == "ko":  # classnames writes "한국어 (english)": English names hold no parentheses of their own
        korean, english = label.rsplit(" (", 1)
        return f"{korean}<br>({english}"
    return label


def top5_figure(probs: np.ndarray, lang: str):
    fig = charts.top_k_figure([(_bar_label(lang, i), p) for i, p in charts.top_k(probs, 5)], TEXT.say(lang, "top5"),
                              height=360)
    return fig.update_yaxes(automargin=True)


def _class_choices(lang: str) -> list[tuple[str, int]]:
    ranks = [(TEXT.say(lang, f"rank_{rank}"), -rank) for rank in compute.RANKS]
    return ranks + [(class_label(lang, i), i) for i in range(compute.N_CLASSES)]


CLASS_CHOICES = memory.Store("cnn_features.class_choices", size=memory.nbytes, max_entries=len(text.LANGS))


def class_choices(lang: str) -> list[tuple[str, int]]:
    """The Grad-CAM class picker in `lang`: -1..-5 are the network's 1st..5th guesses, then the 1000 classes."""
    return CLASS_CHOICES.get_or_compute(lang, lambda: _class_choices(lang))


# ---------------------------------------------------------------- models and layers


def layer_choices(facts: compute.ModelFacts, lang: str) -> list[tuple[str, str]]:
    """The layer picker: "auto" ("" = the suggested layer, what API callers may send), then every stage in
    forward order with its output size, e.g. ('layer1  (56x56x64)', 'layer1')."""
    auto = (TEXT.say(lang, "layer_auto_named", layer=facts.default_layer), "")
    return [auto] + [(f"{name}  ({compute.shape_text(facts.shapes[name])})", name) for name in facts.stages]


def layer_table(facts: compute.ModelFacts, lang: str) -> dict:
    """Every layer: name, type, kernel / stride, output (HxWxC), parameters; the total last. Headers in `lang`."""
    headers = [TEXT.say(lang, key) for key in ("col_layer", "col_type", "col_kernel", "col_output", "col_params")]
    rows = [[name, kind, kernel, output, f"{params:,}"] for name, kind, kernel, output, params in facts.table]
    rows.append([TEXT.say(lang, "total"), "", "", "", f"{facts.total_params:,}"])
    return {"headers": headers, "data": rows}


def model_in_use(name: str, real_weights: bool, source: str, lang: str) -> str:
    weights = (TEXT.say(lang, "real_weights", source=source) if real_weights
               else TEXT.say(lang, "random_weights"))
    return TEXT.say(lang, "model_in_use", name=compute.display_name(name), weights=weights)


def info(lesson: compute.Lesson, lang: str) -> str:
    """The lines above the results: notes (fallback model, clamped controls), the model, what is shown."""
    c, h, w = lesson.analysis.activation.shape
    index = lesson.analysis.class_index
    summary = TEXT.say(lang, "summary", layer=lesson.layer, h=h, w=w, c=c, n=len(lesson.channels),
                       cam_layer=lesson.cam_layer, label=classnames.imagenet_label(lang, index), index=index)
    if h == 1 and w == 1:
        summary += TEXT.say(lang, "summary_1x1")
    notes = [f"**!** {note.say(lang)}" for note in lesson.notes]
    return "\n\n".join(notes + [model_in_use(lesson.cnn_name, lesson.real_weights, lesson.source, lang), summary])


# ---------------------------------------------------------------- the classic CNNs compared


def compare_figure(results: list[dict], lang: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    biggest = max((r["params"] for r in results), default=1)
    for device in dict.fromkeys(r["device"] for r in results):
        rows = sorted((r for r in results if r["device"] == device), key=lambda r: r["latency_ms"])
        names = [compute.display_name(r["name"]) for r in rows]
        fig.add_trace(go.Scatter(
            x=[round(r["latency_ms"], 2) for r in rows], y=[round(r["top1"], 2) for r in rows],
            mode="markers+text", name=device, text=names,
            # Neighbours on the latency axis get their names above and below, so the light CNNs stay readable.
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(rows))],
            marker=dict(size=[round(12 + 60 * math.sqrt(r["params"] / biggest), 1) for r in rows],
                        sizemode="diameter", opacity=0.6, line=dict(width=1, color="#111")),
            hovertext=[TEXT.say(lang, "compare_hover", name=name, ms=f"{r['latency_ms']:.1f}", top1=f"{r['top1']:.1f}",
                                params=text.count(lang, r["params"]), gflops=f"{r['gflops']:.2f}")
                       for name, r in zip(names, rows)],
            hoverinfo="text"))
    fig.update_layout(title=TEXT.say(lang, "compare_title"), xaxis_title=TEXT.say(lang, "compare_x"),
                      yaxis_title=TEXT.say(lang, "compare_y"), xaxis_type="log", height=520, font=dict(size=16),
                      margin=dict(l=10, r=10, t=60, b=40))
    return fig


def compare_table(results: list[dict], lang: str) -> dict:
    headers = [TEXT.say(lang, key) for key in ("col_model", "col_device", "col_params_m", "col_gflops", "col_top1",
                                               "col_latency")]
    rows = [[compute.display_name(r["name"]), r["device"], round(r["params"] / 1e6, 1), round(r["gflops"], 2),
             round(r["top1"], 1), round(r["latency_ms"], 1)] for r in results]
    return {"headers": headers, "data": rows}


def compare_status(done: int, total: int, last: dict, lang: str) -> str:
    if done < total:
        return TEXT.say(lang, "compare_progress", done=done, total=total, name=compute.display_name(last["name"]),
                        device=last["device"], ms=f"{last['latency_ms']:.0f}")
    return TEXT.say(lang, "compare_done", total=total)
