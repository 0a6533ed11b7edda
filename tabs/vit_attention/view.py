"""ViT attention: the results of compute.py as pictures, a top-5 chart and Markdown, in the language asked for.

Pictures are numpy RGB arrays drawn with OpenCV; the only marks drawn into a picture are token names and
numbers ([CLS], patch 0, 1, 2, ..., head 1, 2, ...), which read the same in both languages. Everything
that is said (labels, the info box, chart titles, class names) is said in `lang`.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from core import charts, classnames, draw
from tabs.vit_attention.compute import (MEAN_HEAD, Analysis, CnnView, Facts, Forward, Prediction, head_values,
                                          patch_box)
from tabs.vit_attention.text import TEXT

DISPLAY_SIDE = 448  # the photo maps are shown at about this size (an integer multiple of the model input)
GRID_SIDE = 672  # the numbered patch grid is shown larger, so the numbers stay readable
HEAD_TILE = 168  # one head's small [CLS] map
HIGHLIGHT = (255, 220, 0)  # the chosen patch, drawn on every map


def display_scale(image_size: tuple[int, int], side: int = DISPLAY_SIDE) -> int:
    """Integer zoom so the model input is shown at about `side` px (patch borders stay on pixels)."""
    return max(1, round(side / max(image_size)))


def picture_size(image_size: tuple[int, int], side: int) -> tuple[int, int]:
    """(height, width) of a picture of the input drawn at display_scale(image_size, side): where clicks land."""
    scale = display_scale(image_size, side)
    return image_size[0] * scale, image_size[1] * scale


def _zoomed(view: np.ndarray, scale: int) -> np.ndarray:
    h, w = view.shape[:2]
    return cv2.resize(view, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def _mark(image: np.ndarray, index: int, rows: int, cols: int, thickness: int = 3) -> np.ndarray:
    x0, y0, x1, y1 = patch_box(index, rows, cols, *image.shape[:2])
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), HIGHLIGHT, thickness)
    return image


def _fit_text_scale(words: str, width: float, height: float, most: float = 0.8) -> float:
    """The OpenCV font scale at which `words` fit in a width x height box."""
    (tw, th), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    return max(0.25, min(most, width / tw, height / th))


# ---------------------------------------------------------------- 1-2. patches and the token sequence


def patch_grid_picture(forward: Forward, selected: int | None) -> np.ndarray:
    """The network's input, zoomed, with the patch grid drawn and every patch numbered (row by row from 0)."""
    rows, cols = forward.rows, forward.cols
    image = draw.draw_grid(_zoomed(forward.view, display_scale(forward.view.shape[:2], GRID_SIDE)), rows, cols,
                           color=(255, 255, 255), thickness=1)
    h, w = image.shape[:2]
    # Small numbers in the top-left corner of each cell, so the photo stays visible under them.
    text_scale = _fit_text_scale(str(rows * cols - 1), 0.6 * w / cols, 0.6 * h / rows, most=0.6)
    text_h = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, text_scale, 1)[0][1]
    for index in range(rows * cols):
        x0, y0, _, _ = patch_box(index, rows, cols, h, w)
        draw.put_label(image, str(index), (x0 + 3, y0 + text_h + 3), scale=text_scale)
    if selected is not None:
        _mark(image, selected, rows, cols)
    return image


def strip_picture(forward: Forward, per_line: int = 24, tile: int = 28) -> np.ndarray:
    """The token sequence the Transformer reads: [CLS] (and other prefix tokens), then patch 0, 1, 2, ...

    Drawn like lines of text, left to right and top to bottom, each patch with its number below it.
    """
    rows, cols, n_prefix = forward.rows, forward.cols, forward.n_prefix
    h, w = forward.view.shape[:2]
    tokens = n_prefix + rows * cols
    label_h, gap = 14, 4
    lines = math.ceil(tokens / per_line)
    out = np.full((lines * (tile + label_h + gap) + gap, per_line * (tile + gap) + gap, 3), 255, np.uint8)
    number_scale = _fit_text_scale("000", tile, label_h, most=0.4)
    for token in range(tokens):
        line, slot = divmod(token, per_line)
        x, y = gap + slot * (tile + gap), gap + line * (tile + label_h + gap)
        if token < n_prefix:
            cv2.rectangle(out, (x, y), (x + tile - 1, y + tile - 1), (220, 60, 60), -1)
            name = "CLS" if token == 0 else "DST"
            draw.put_label(out, name, (x + 1, y + tile // 2 + 4), scale=_fit_text_scale(name, tile, tile))
            caption = name
        else:
            index = token - n_prefix
            x0, y0, x1, y1 = patch_box(index, rows, cols, h, w)
            out[y:y + tile, x:x + tile] = cv2.resize(forward.view[y0:y1, x0:x1], (tile, tile),
                                                     interpolation=cv2.INTER_AREA)
            caption = str(index)
        cv2.putText(out, caption, (x, y + tile + label_h - 3), cv2.FONT_HERSHEY_SIMPLEX, number_scale,
                    (40, 40, 40), 1, cv2.LINE_AA)
    return out


# ---------------------------------------------------------------- 3. position-embedding similarity


def _similarity_colors(similarity: np.ndarray) -> np.ndarray:
    """Cosine similarity -1..1 on one fixed colour scale (viridis), so maps can be compared."""
    levels = np.clip((np.asarray(similarity, dtype=np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def similarity_picture(similarity_row: np.ndarray, rows: int, cols: int, selected: int, side: int = 336) -> np.ndarray:
    """One patch's position-embedding similarity to every position, as a rows x cols grid."""
    cell = max(1, side // max(rows, cols))
    image = cv2.resize(_similarity_colors(np.asarray(similarity_row).reshape(rows, cols)), (cols * cell, rows * cell),
                       interpolation=cv2.INTER_NEAREST)
    return _mark(image, selected, rows, cols, thickness=2)


def similarity_grid_picture(similarity: np.ndarray, rows: int, cols: int, side: int = 640) -> np.ndarray:
    """The small multiple of the ViT paper: for every patch (placed where it sits) its similarity map."""
    cell = max(1, side // (rows * cols))
    gap = 1 if cell <= 2 else 2
    tile_h, tile_w = rows * cell, cols * cell
    out = np.full((rows * (tile_h + gap) + gap, cols * (tile_w + gap) + gap, 3), 255, np.uint8)
    colors = _similarity_colors(similarity)  # N x N x 3
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        tile = np.repeat(np.repeat(colors[index].reshape(rows, cols, 3), cell, axis=0), cell, axis=1)
        y, x = gap + r * (tile_h + gap), gap + c * (tile_w + gap)
        out[y:y + tile_h, x:x + tile_w] = tile
    return out


# ---------------------------------------------------------------- 4. attention maps


def attention_picture(base: np.ndarray, patch_weights: np.ndarray, rows: int, cols: int,
                      selected: int | None = None) -> np.ndarray:
    """A patch-level attention map (rows*cols values) as a heat map over the (zoomed) photo.

    Stretched from its own minimum (blue) to its maximum (red): attention is all positive and often
    nearly flat, and counting from 0 would paint such a map all red.
    """
    weights = np.asarray(patch_weights, dtype=np.float32).reshape(rows, cols)
    image = draw.overlay_heatmap(base, weights - weights.min(), alpha=0.5)
    return _mark(image, selected, rows, cols) if selected is not None else image


def photo_base(forward: Forward) -> np.ndarray:
    """The fitted photo at the attention maps' display size (the picture patch clicks are read on)."""
    return _zoomed(forward.view, display_scale(forward.view.shape[:2]))


def heads_picture(forward: Forward, every_head: np.ndarray, per_line: int = 7, gap: int = 6) -> np.ndarray:
    """[CLS] attention of the mean over heads (first, unnumbered), then of heads 1, 2, ... (numbered), as
    small maps in lines of `per_line`. Only numbers are drawn: the label of the picture says the rest."""
    base = cv2.resize(forward.view, (HEAD_TILE, HEAD_TILE), interpolation=cv2.INTER_AREA)
    lines = math.ceil(len(every_head) / per_line)
    columns = min(per_line, len(every_head))
    out = np.full((lines * (HEAD_TILE + gap) + gap, columns * (HEAD_TILE + gap) + gap, 3), 255, np.uint8)
    for i, weights in enumerate(every_head):
        line, slot = divmod(i, per_line)
        y, x = gap + line * (HEAD_TILE + gap), gap + slot * (HEAD_TILE + gap)
        tile = attention_picture(base, weights, forward.rows, forward.cols)
        if i > 0:  # bottom left: the component's label covers the top of the picture
            draw.put_label(tile, str(i), (6, HEAD_TILE - 8), scale=0.7)
        out[y:y + HEAD_TILE, x:x + HEAD_TILE] = tile
    return out


# ---------------------------------------------------------------- words: the info box and the head picker


def head_choices(num_heads: int, lang: str) -> list[tuple[str, str]]:
    """The head picker's (label, value) pairs in `lang`: the mean first, then heads 1..H."""
    return [(TEXT.say(lang, "head_mean") if value == MEAN_HEAD else value, value) for value in head_values(num_heads)]


def info_markdown(facts: Facts, notes: list, lang: str) -> str:
    """The numbers of the ViT pipeline for this model, then the notes about values brought into range."""
    (ih, iw), (ph, pw) = facts.image_size, facts.patch_size
    weights = (TEXT.say(lang, "weights_real", source=facts.source) if facts.real_weights
               else TEXT.say(lang, "weights_random"))
    parts = [TEXT.say(lang, "pipeline", name=facts.name, weights=weights, iw=iw, ih=ih, pw=pw, ph=ph,
                      cols=facts.cols, rows=facts.rows, n=facts.rows * facts.cols, numbers=pw * ph * 3,
                      d=facts.hidden_size, tokens=facts.num_tokens, layers=facts.num_layers, heads=facts.num_heads)]
    if facts.n_prefix > 1:
        parts.append(TEXT.say(lang, "extra_prefix", extra=facts.n_prefix - 1))
    parts += [f"> {note.say(lang)}" for note in notes]
    return "\n\n".join(parts)


# ---------------------------------------------------------------- 5. prediction


def class_name(prediction: Prediction, lang: str) -> str:
    """An ImageNet class by its index in `lang` ("군복 (military uniform)"); other label sets as the model names them."""
    return classnames.imagenet_label(lang, prediction.index) if prediction.imagenet else prediction.label


def top5_figure(predictions: list[Prediction], model: str, lang: str):
    """The app's one top-k chart, class names in the page's language."""
    figure = charts.top_k_figure([(class_name(p, lang), p.probability) for p in predictions],
                                 TEXT.say(lang, "top5_title", model=model))
    # Room on the left for the longest name ("그레이터 스위스 마운틴 도그 (Greater Swiss Mountain dog)"):
    # plotly.js does not grow the margin for tick labels unless asked.
    return figure.update_yaxes(automargin=True)


# ---------------------------------------------------------------- every panel of one request


def photo_panels(analysis: Analysis, lang: str) -> dict:
    """What depends on the photo and the model only (drawn once per photo)."""
    forward = analysis.forward
    return {
        "strip": strip_picture(forward),
        "pos_all": similarity_grid_picture(forward.similarity, forward.rows, forward.cols),
        "top5": top5_figure(analysis.predictions, analysis.facts.name, lang),
    }


def choice_panels(analysis: Analysis, lang: str) -> dict:
    """What a click on a patch, a layer or a head redraws."""
    forward, choice, maps = analysis.forward, analysis.choice, analysis.maps
    rows, cols = forward.rows, forward.cols
    base = photo_base(forward)
    return {
        "info": info_markdown(analysis.facts, choice.notes, lang),
        "patches": patch_grid_picture(forward, choice.patch),
        "pos_one": similarity_picture(maps.similarity, rows, cols, choice.patch),
        "cls": attention_picture(base, maps.cls, rows, cols),
        "rollout": attention_picture(base, maps.rollout, rows, cols),
        "patch_attention": attention_picture(base, maps.patch, rows, cols, choice.patch),
        "heads": heads_picture(forward, maps.every_head),
    }


def cnn_panels(cnn: CnnView, lang: str) -> dict:
    """The CNN's Grad-CAM over its crop, its top-5 in `lang`, and which CNN it is."""
    note = TEXT.say(lang, "cnn_which", which=f"{cnn.name} ({cnn.source})")
    if cnn.note is not None:
        note += "\n\n> " + cnn.note.say(lang)
    return {
        "gradcam": draw.overlay_heatmap(cnn.crop, cnn.heat, alpha=0.5),
        "top5": top5_figure(cnn.predictions, cnn.name, lang),
        "note": note,
    }
