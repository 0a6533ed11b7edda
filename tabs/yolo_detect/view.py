"""What the YOLO lesson shows, in the page's language: boxes with class names (Korean on a Korean page),
confidences and track numbers drawn on the frame, the grid and before/after-NMS panels, the counts tables and
the info lines. No Gradio here."""
from __future__ import annotations

import colorsys
import functools

import cv2
import numpy as np

from core import classnames, draw, memory
from tabs.yolo_detect import compute
from tabs.yolo_detect.video import VideoResult
from tabs.yolo_detect.text import TEXT

PANEL_SIDE = 320  # long side of the explanation panels (half a 640x480 webcam frame: cheap to draw and to send)
MAX_DRAWN_CANDIDATES = 1500
LABEL_PAD = 3


@functools.lru_cache(maxsize=4096)
def color_for(index: int) -> tuple[int, int, int]:
    """A bright, distinct RGB colour per class (or track) number (the page's colorFor uses the same hues)."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def box_label(lang: str, cls: int, score: float, track_id: int | None) -> str:
    """'사람 0.87 #3' / 'person 0.87 #3': the class name alone (a box has no room for two languages)."""
    return classnames.coco_short(draw.picture_lang(lang), cls) + _figures(score, track_id)


def _figures(score: float, track_id: int | None) -> str:
    return f" {score:.2f}" + (f" #{track_id}" if track_id else "")


# The class-name part of a tag, drawn once per (name, size, colour): Hangul goes through a font (about 1 ms a
# name), the figures after it through OpenCV (a few microseconds), so a webcam frame with many boxes stays cheap.
NAME_TAGS = memory.Store("yolo_detect.name_tags", size=memory.nbytes, max_entries=4000)
FIGURES_SAMPLE = " 0.00 #0"  # OpenCV's digits all have the height and depth of this sample


@functools.lru_cache(maxsize=4096)
def _tag_geometry(name: str, scale: float) -> tuple[int, int]:
    """(height of a tag, its baseline from the top) for a tag starting with `name` (a few numbers, kept: asking
    the Hangul font costs more than drawing the tag)."""
    _, name_up, name_down = draw.label_size(name, scale)
    _, figures_up, figures_down = draw.label_size(FIGURES_SAMPLE, scale)
    ascent = max(name_up, figures_up)
    return ascent + max(name_down, figures_down) + 2 * LABEL_PAD, LABEL_PAD + ascent


def _name_tag(name: str, scale: float, color: tuple[int, int, int]) -> np.ndarray:
    def drawn() -> np.ndarray:
        height, baseline = _tag_geometry(name, scale)
        patch = np.empty((height, draw.label_size(name, scale)[0] + LABEL_PAD, 3), np.uint8)
        patch[:] = color
        return draw.put_label(patch, name, (LABEL_PAD, baseline), scale=scale, color=(0, 0, 0), background=color)

    return NAME_TAGS.get_or_compute((name, scale, color), drawn)


def draw_detections(frame_rgb: np.ndarray, det: compute.Detection, lang: str) -> np.ndarray:
    """The main view: a box and a tag (class name in `lang`, confidence, track number) per kept detection."""
    out = np.ascontiguousarray(frame_rgb.copy())
    height_px, width_px = out.shape[:2]
    scale = round(max(0.45, min(1.2, max(out.shape[:2]) / 900)), 2)
    thickness = max(2, round(max(out.shape[:2]) / 320))
    ids = det.ids.tolist() if det.ids is not None else None
    for k, (box, score, cls) in enumerate(zip(det.boxes.tolist(), det.scores.tolist(), det.classes.tolist())):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        track_id = ids[k] if ids is not None else None
        color = color_for(track_id if track_id else cls)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        # A filled tag in the box colour with black text, readable on any background: the name, then the figures.
        name = classnames.coco_short(lang, cls)
        figures = _figures(score, track_id)
        tag_h, baseline = _tag_geometry(name, scale)
        name_tag = _name_tag(name, scale, color)
        top = y1 - tag_h if y1 - tag_h >= 0 else y1
        left = min(max(x1, 0), width_px - 1)
        visible_h, visible_w = min(tag_h, height_px - top), min(name_tag.shape[1], width_px - left)
        if visible_h > 0 and visible_w > 0:
            out[top:top + visible_h, left:left + visible_w] = name_tag[:visible_h, :visible_w]
        figures_x = left + name_tag.shape[1]
        cv2.rectangle(out, (figures_x, top), (figures_x + draw.label_size(figures, scale)[0] + LABEL_PAD, top + tag_h - 1),
                      color, -1)
        draw.put_label(out, figures, (figures_x, top + baseline), scale=scale, color=(0, 0, 0), background=color)
    return out


def panel_base(frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame shrunk to PANEL_SIDE for the explanation panels, and the shrink factor."""
    h, w = frame_rgb.shape[:2]
    factor = min(1.0, PANEL_SIDE / max(h, w))
    if factor < 1.0:
        return cv2.resize(frame_rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_LINEAR), factor
    return np.ascontiguousarray(frame_rgb), factor


def draw_grid_panel(base: tuple[np.ndarray, float], det: compute.Detection, grid: compute.Grid) -> np.ndarray:
    """The frame (darkened) with the grid, the cells that hold a box centre lit, and each centre marked."""
    small, f = base
    out = cv2.convertScaleAbs(small, alpha=0.55)
    h, w = out.shape[:2]
    cells = compute.cell_of(det.boxes, grid)
    if len(cells):
        overlay = out.copy()
        for k, (row, col) in enumerate(cells):
            color = color_for(int(det.classes[k]))
            x1, y1 = (grid.x0 + col * grid.cell_w) * f, (grid.y0 + row * grid.cell_h) * f
            cv2.rectangle(overlay, (int(x1), int(y1)), (int(x1 + grid.cell_w * f), int(y1 + grid.cell_h * f)),
                          color, -1)
        out = cv2.addWeighted(overlay, 0.55, out, 0.45, 0)
    for c in range(grid.cols + 1):
        x = int(round((grid.x0 + c * grid.cell_w) * f))
        if 0 <= x < w:
            cv2.line(out, (x, 0), (x, h - 1), (255, 255, 255), 1)
    for r in range(grid.rows + 1):
        y = int(round((grid.y0 + r * grid.cell_h) * f))
        if 0 <= y < h:
            cv2.line(out, (0, y), (w - 1, y), (255, 255, 255), 1)
    for k, box in enumerate(det.boxes):
        color = color_for(int(det.classes[k]))
        x1, y1, x2, y2 = (int(round(v * f)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 1)
        cv2.circle(out, ((x1 + x2) // 2, (y1 + y2) // 2), 4, (255, 255, 255), -1)
        cv2.circle(out, ((x1 + x2) // 2, (y1 + y2) // 2), 3, color, -1)
    draw.put_label(out, f"{grid.rows} x {grid.cols}", (6, 22), scale=0.6)
    return out


def draw_nms_panels(base: tuple[np.ndarray, float], det: compute.Detection, iou: float):
    """Before NMS: the candidates, coloured by the kept box that swallows them. After: the kept boxes.

    Returns (before, after, keep) where keep indexes det.candidates."""
    small, f = base
    before, after = small.copy(), small.copy()
    order = np.argsort(-det.cand_scores, kind="stable")[:MAX_DRAWN_CANDIDATES]
    cand, scores, classes = det.candidates[order], det.cand_scores[order], det.cand_classes[order]
    keep, owner = compute.nms_with_owners(cand, scores, classes, iou)
    pixels = np.round(cand * f).astype(int).tolist()
    owners = owner.tolist()
    for i in np.argsort(scores).tolist():  # weakest first, so the strongest lie on top
        x1, y1, x2, y2 = pixels[i]
        cv2.rectangle(before, (x1, y1), (x2, y2), color_for(owners[i]), 1)
    for i in keep.tolist():
        x1, y1, x2, y2 = pixels[i]
        cv2.rectangle(after, (x1, y1), (x2, y2), color_for(i), 2)
    draw.put_label(before, f"{len(cand)}", (6, 24), scale=0.7)
    draw.put_label(after, f"{len(keep)}", (6, 24), scale=0.7)
    return before, after, order[keep]


def inside_panels(frame_rgb: np.ndarray, det: compute.Detection, settings: compute.Settings):
    """The three "inside YOLO" pictures: the grid, before NMS, after NMS."""
    base = panel_base(frame_rgb)
    before, after, _ = draw_nms_panels(base, det, settings.iou)
    return draw_grid_panel(base, det, compute.grid_for(det, settings.grid)), before, after


def counts_table(det: compute.Detection, lang: str) -> dict:
    """{"headers", "data"} for the counts table: one row per class found ("사람 (person)"), most frequent first."""
    headers = [TEXT.say(lang, "col_class"), TEXT.say(lang, "col_count")]
    if len(det.classes) == 0:
        return {"headers": headers, "data": []}
    ids, counts = np.unique(det.classes, return_counts=True)
    rows = sorted(([classnames.coco_label(lang, i), c] for i, c in zip(ids.tolist(), counts.tolist())),
                  key=lambda r: (-r[1], r[0]))
    return {"headers": headers, "data": rows}


def _ms(value: float) -> str:
    return f"{value:.1f}"


def info_markdown(det: compute.Detection, settings: compute.Settings, draw_ms: float, total_ms: float,
                  received_fps: float | None, lang: str) -> str:
    """The lines under the picture: the time of each stage, the NMS count, the input, and any notes."""
    tm = det.timings
    lines = []
    if not settings.class_names:
        lines.append(TEXT.say(lang, "no_class"))
    lines.append(TEXT.say(lang, "time_line", pre=_ms(tm["preprocess"]), infer=_ms(tm["inference"]),
                          post=_ms(tm["postprocess"]), draw=_ms(draw_ms), total=_ms(total_ms),
                          fps=f"{1000 / max(total_ms, 1e-6):.1f}"))
    if received_fps is not None:
        lines.append(TEXT.say(lang, "received_line", fps=f"{received_fps:.1f}"))
    lines.append(TEXT.say(lang, "nms_info", before=len(det.candidates), after=len(det.boxes),
                          conf=f"{settings.conf:.2f}", iou=f"{settings.iou:.2f}"))
    if det.ids is not None:
        lines.append(TEXT.say(lang, "tracks_info", numbered=int(np.count_nonzero(det.ids))))
    lines.append(TEXT.say(lang, "input_info", frame=f"{det.frame_hw[1]}x{det.frame_hw[0]}",
                          net=f"{det.input_hw[1]}x{det.input_hw[0]}", model=settings.model))
    lines += [TEXT.say(lang, "note", note=note.say(lang)) for note in settings.notes]
    return "\n\n".join(lines)


def video_table(result: VideoResult, lang: str) -> dict:
    """Per class found: the most boxes in one frame and, with tracking, how many objects were tracked."""
    headers = [TEXT.say(lang, "col_class"), TEXT.say(lang, "col_most")]
    if result.tracked is not None:
        headers.append(TEXT.say(lang, "col_tracked"))
    rows = []
    for i in np.argsort(-result.most, kind="stable").tolist():
        if result.most[i] > 0:
            rows.append([classnames.coco_label(lang, i), int(result.most[i])]
                        + ([int(result.tracked[i])] if result.tracked is not None else []))
    return {"headers": headers, "data": rows}


def video_info(result: VideoResult, settings: compute.Settings, lang: str) -> str:
    per = result.timings
    lines = [TEXT.say(lang, "video_done", frames=result.frames, fps=f"{result.out_fps:.1f}",
                      seconds=f"{result.seconds:.1f}", rate=f"{result.frames / max(result.seconds, 1e-9):.1f}"),
             TEXT.say(lang, "video_per_frame", pre=_ms(per["preprocess"]), infer=_ms(per["inference"]),
                      post=_ms(per["postprocess"]))]
    if result.step > 1:
        lines.append(TEXT.say(lang, "video_step", fps=f"{result.fps:.0f}", step=result.step))
    if not settings.class_names:
        lines.append(TEXT.say(lang, "no_class"))
    lines += [TEXT.say(lang, "note", note=note.say(lang)) for note in settings.notes]
    return "\n\n".join(lines)


# ---------------------------------------------------------------- in a class (core/teacher.py's projector)

CLASS_ROWS = 10  # classes on the projector, most boxes first


def class_summary(reports: list[dict], lang: str) -> dict:
    """The projector's panel: how many cameras run, and the boxes per class summed over the class."""
    cameras, totals = compute.class_totals(reports)
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:CLASS_ROWS]
    return {"title": TEXT.say(lang, "class_totals", cameras=cameras, boxes=sum(totals.values())),
            "rows": [[classnames.coco_label(lang, c), n, str(n)] for c, n in ranked]}


def class_one(report: dict, lang: str) -> list[list[str]]:
    """One student's camera on the projector: what its last frame holds."""
    _, totals = compute.class_totals([report])
    found = ", ".join(f"{classnames.coco_label(lang, c)} {n}" for c, n in
                      sorted(totals.items(), key=lambda item: (-item[1], item[0])))
    return [[TEXT.say(lang, "class_counts"), found or TEXT.say(lang, "class_nothing")]]
