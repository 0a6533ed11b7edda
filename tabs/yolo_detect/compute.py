"""YOLO: find every object in a picture with one pass through the network, and see how.

Read top to bottom, as the lesson goes:
1. the settings (confidence, NMS IoU, input size, classes) checked and clamped, with notes (`read_settings`);
2. one frame through ultralytics' `YOLO.predict` (`detect_array`): the frame is letterboxed to the input size,
   the network runs once, and a forward hook on the Detect head keeps the raw candidate boxes of that same
   pass (`raw_candidates`), before non-maximum suppression;
3. NMS written out (`nms_with_owners`): the best box stays, the boxes of its class that overlap it by more
   than the IoU threshold go; it also says which kept box swallowed each candidate (the "before NMS" colours);
4. the grid (`model_grid`, `yolo_v1_grid`, `cell_of`): the cell that holds each box's centre is the one
   responsible for it, on YOLO11's three grids or on YOLO v1's 7x7;
5. tracking (`new_tracker`, `track_ids`): ultralytics' own ByteTrack, one per webcam session or video, gives
   each object a number that stays with it from frame to frame (measured against the IoU tracker this lesson
   had before: bench/bench_yolo_detect.py);
6. what the in-browser webcam view needs from the server (`browser_model`, `page_frame`).
A whole video, frame by frame, is video.py.

No Gradio and no language here: notes are `Message`s, bad input raises `Problem`s.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np

from core import models, values
from core.images import load_image
from core.zoo import yolo as zoo
from core.zoo import yolo_export
from tabs.yolo_detect.text import TEXT

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
IMGSZ_CHOICES = (320, 416, 512, 640)
DEFAULT_IMGSZ = 320  # a 2-core CPU runs the nano model at roughly 20-30 ms per frame here
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.7  # ultralytics' default NMS IoU
GRID_V1 = "v1"  # YOLO v1's 7x7 grid over the whole photo
GRID_CHOICES = ("32", "16", "8", GRID_V1)  # strides of the three YOLO11 detection grids, and v1
DEFAULT_GRID = "32"
V1_S = 7
MAX_PAGE_FRAME_CHARS = 16 * 1024 * 1024  # a 1920x1080 PNG as a data URL is about 4-8 MB
# People and vehicles (COCO's English names: the class picker's values and the API's).
PEOPLE_VEHICLES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")
MAX_DET = 300  # boxes kept per frame (ultralytics' max_det, and the page's)


def example_photos() -> list[Path]:
    """The example photos; the first is the worked example the tab opens with."""
    first = EXAMPLES_DIR / "astronaut.jpg"  # a person: the class YOLO is surest of
    return [first] + [p for p in sorted(EXAMPLES_DIR.glob("*.jpg")) if p != first]


def class_names() -> list[str]:
    """The 80 COCO class names in English, in YOLO's class order (ultralytics' coco.yaml)."""
    return zoo.coco_names()


# ---------------------------------------------------------------- 1. the settings


# The settings of a detection, declared once: the tab makes its controls from them and the teacher may send them
# to the class. (The classes to find, a list of names, are read by `read_classes`.)
SETTINGS = values.settings(
    values.Setting("model", TEXT.msg("label_model"), default=zoo.DEFAULT_YOLO, choices=tuple(zoo.yolo_names())),
    values.Setting("conf", TEXT.msg("label_conf"), default=DEFAULT_CONF, low=0.01, high=0.99, step=0.01),
    values.Setting("iou", TEXT.msg("label_iou"), default=DEFAULT_IOU, low=0.05, high=0.95, step=0.05),
    values.Setting("imgsz", TEXT.msg("label_imgsz"), default=DEFAULT_IMGSZ, low=128, high=1280, integer=True),
    values.Setting("grid", TEXT.msg("label_grid"), default=DEFAULT_GRID, choices=GRID_CHOICES),
    values.Setting("track", TEXT.msg("label_track"), default=True, choices=(False, True)),
)


@dataclasses.dataclass
class Settings:
    model: str
    conf: float
    iou: float
    imgsz: int
    class_names: list[str]  # the classes to find (English COCO names)
    grid: str
    track: bool
    notes: list  # Messages: what was changed in what the page or the API sent

    def class_ids(self) -> list[int] | None:
        """None = every class (no filter); [] = nothing selected."""
        names = class_names()
        if len(self.class_names) == len(names):
            return None
        index = {n: i for i, n in enumerate(names)}
        return sorted(index[c] for c in self.class_names)


def read_classes(classes, notes: list) -> list[str]:
    """The classes to find, in YOLO's order, each once (None: every class); unknown names are left out (noted)."""
    names = class_names()
    if classes is None:
        classes = names
    if isinstance(classes, str):
        classes = [classes]
    known = set(names)
    unknown = [str(c)[:40] for c in classes if c not in known]
    if unknown:
        notes.append(TEXT.msg("unknown_classes", names=", ".join(unknown[:5])))
    chosen = set(classes)
    return [c for c in names if c in chosen]


def read_settings(model_name=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                  classes=None, grid=DEFAULT_GRID, track=False) -> Settings:
    """Check what the page (or an API caller, who can send anything) gave; out-of-range numbers are clamped
    with a note. classes=None means every class."""
    model_name = model_name or zoo.DEFAULT_YOLO
    if model_name not in zoo.yolo_names():
        raise TEXT.problem("unknown_model", got=repr(model_name)[:60], choices=", ".join(zoo.yolo_names()))
    notes = []
    conf = SETTINGS["conf"].take(conf, notes)
    iou = SETTINGS["iou"].take(iou, notes)
    size = SETTINGS["imgsz"].take(imgsz, notes)
    rounded = int(round(size / 32) * 32)  # YOLO's coarsest grid has 32-pixel cells
    if rounded != size:
        notes.append(TEXT.msg("imgsz_multiple", used=rounded))
    grid = SETTINGS["grid"].take(str(grid), notes)
    track = bool(SETTINGS["track"].take(track, notes))
    chosen = read_classes(classes, notes)
    return Settings(model_name, float(conf), float(iou), rounded, chosen, grid, track, notes)


# ---------------------------------------------------------------- 2. one frame through YOLO


@dataclasses.dataclass
class Detection:
    """What YOLO found in one frame, in the frame's pixel coordinates."""

    boxes: np.ndarray  # (N, 4) xyxy, kept after NMS
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,) int
    candidates: np.ndarray  # (M, 4) xyxy: every raw box above the confidence (before NMS), not clipped
    cand_scores: np.ndarray
    cand_classes: np.ndarray
    input_hw: tuple[int, int]  # the letterboxed network input (height, width)
    frame_hw: tuple[int, int]
    timings: dict  # ms: preprocess, inference, postprocess
    ids: np.ndarray | None = None  # track numbers when tracking (0: not numbered yet)

    @staticmethod
    def empty(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> "Detection":
        z4, z = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        return Detection(z4, z, z.astype(int), z4, z, z.astype(int), input_hw, frame_hw,
                         {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0})


def letterbox_geometry(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[float, float, float]:
    """(gain, pad_x, pad_y): input = frame * gain + pad, as ultralytics' LetterBox and scale_boxes do."""
    gain = min(input_hw[0] / frame_hw[0], input_hw[1] / frame_hw[1])
    pad_x = round((input_hw[1] - frame_hw[1] * gain) / 2 - 0.1)
    pad_y = round((input_hw[0] - frame_hw[0] * gain) / 2 - 0.1)
    return gain, float(pad_x), float(pad_y)


def input_to_frame(boxes_xyxy: np.ndarray, frame_hw, input_hw, clip: bool = True) -> np.ndarray:
    """Boxes in network-input pixels -> frame pixels (undo the letterbox), clipped to the frame."""
    gain, pad_x, pad_y = letterbox_geometry(frame_hw, input_hw)
    out = boxes_xyxy.astype(np.float32).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - pad_x) / gain
    out[:, [1, 3]] = (out[:, [1, 3]] - pad_y) / gain
    if not clip:
        return out
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, frame_hw[1])
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, frame_hw[0])
    return out


def raw_candidates(head_output, conf: float, class_ids: list[int] | None):
    """The Detect head's output (1, 4+nc, anchors: xywh in input pixels, class scores) -> candidates.

    Same rule as ultralytics' NMS: a box's class is its best-scoring class, it is a candidate when
    that score beats `conf`, and the class filter keeps boxes whose best class is selected.
    """
    pred = head_output[0] if isinstance(head_output, (tuple, list)) else head_output
    pred = pred[0].float()  # (4+nc, A)
    scores, classes = pred[4:].max(0)
    keep = scores > conf
    if class_ids is not None:
        import torch

        keep &= torch.isin(classes, torch.as_tensor(class_ids, device=classes.device))
    xywh = pred[:4, keep].T.cpu().numpy()
    xyxy = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    return xyxy, scores[keep].cpu().numpy(), classes[keep].cpu().numpy().astype(int)


def detect_array(detector: zoo.Detector, frame_rgb: np.ndarray, conf: float, iou: float, imgsz: int,
                 class_ids: list[int] | None, want_candidates: bool = True) -> Detection:
    """One RGB frame through `YOLO.predict`; the raw candidates come from the same forward pass."""
    frame_hw = frame_rgb.shape[:2]
    if class_ids is not None and len(class_ids) == 0:
        return Detection.empty(frame_hw, frame_hw)
    captured: dict = {}

    def keep_output(module, inputs, output):
        captured["out"] = output
        captured["input_hw"] = tuple(int(s) * int(module.stride[0]) for s in inputs[0][0].shape[2:])

    bgr = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)  # ultralytics reads numpy frames as BGR
    with detector.lock:  # one predictor per model: one frame at a time
        hook = detector.head.register_forward_hook(keep_output) if want_candidates else None
        try:
            result = detector.yolo.predict(bgr, conf=conf, iou=iou, imgsz=imgsz, classes=class_ids,
                                           max_det=MAX_DET, verbose=False)[0]
        finally:
            if hook is not None:
                hook.remove()
    boxes = result.boxes
    det = Detection(
        boxes.xyxy.cpu().numpy().astype(np.float32), boxes.conf.cpu().numpy().astype(np.float32),
        boxes.cls.cpu().numpy().astype(int), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
        np.zeros(0, int), captured.get("input_hw", frame_hw), frame_hw, dict(result.speed),
    )
    if want_candidates and "out" in captured:
        xyxy, scores, classes = raw_candidates(captured["out"], conf, class_ids)
        # Not clipped: NMS compares the boxes as the network drew them (clipping would make them overlap more).
        det.candidates = input_to_frame(xyxy, frame_hw, det.input_hw, clip=False)
        det.cand_scores, det.cand_classes = scores, classes
    return det


def detect_picture(image, settings: Settings) -> tuple[np.ndarray, Detection]:
    """A photo or a webcam frame (anything `load_image` takes) -> (the RGB frame, what YOLO found in it)."""
    frame = np.asarray(load_image(image))
    detector = models.get(settings.model)
    return frame, detect_array(detector, frame, settings.conf, settings.iou, settings.imgsz, settings.class_ids())


# ---------------------------------------------------------------- 3. NMS written out


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N,4 xyxy) with every box in b (M,4) -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.where(union > 0, union, np.inf)


def nms_with_owners(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None, iou_threshold: float):
    """Greedy NMS, as in the lesson: take the best box, delete the boxes of its class that overlap it
    by more than `iou_threshold`, repeat with what is left.

    Returns (keep, owner): keep = indices of the kept boxes, best first; owner[i] = the index of the kept
    box that removed box i (a kept box owns itself). classes=None: every box competes with every box.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.zeros(len(boxes), int) if classes is None else np.asarray(classes).reshape(-1)
    owner = np.full(len(boxes), -1, dtype=int)
    keep: list[int] = []
    order = np.argsort(-scores, kind="stable")
    # One IoU matrix up front (the view caps the candidates), then each round is a cheap row lookup.
    overlaps = pairwise_iou(boxes, boxes) > iou_threshold
    overlaps &= classes[:, None] == classes[None, :]
    while order.size:
        best = int(order[0])
        keep.append(best)
        owner[best] = best
        rest = order[1:]
        removed = overlaps[best, rest]
        owner[rest[removed]] = best
        order = rest[~removed]
    return np.asarray(keep, dtype=int), owner


# ---------------------------------------------------------------- 4. the grid


@dataclasses.dataclass(frozen=True)
class Grid:
    """A grid of rows x cols cells over the frame: cell (r, c) spans x0 + c*cell_w ... (frame pixels)."""

    x0: float
    y0: float
    cell_w: float
    cell_h: float
    rows: int
    cols: int


def model_grid(frame_hw: tuple[int, int], input_hw: tuple[int, int], stride: int) -> Grid:
    """One of YOLO11's detection grids (stride 8, 16 or 32 pixels of the network input) mapped onto the frame."""
    gain, pad_x, pad_y = letterbox_geometry(frame_hw, input_hw)
    cell = stride / gain
    return Grid(-pad_x / gain, -pad_y / gain, cell, cell, math.ceil(input_hw[0] / stride),
                math.ceil(input_hw[1] / stride))


def yolo_v1_grid(frame_hw: tuple[int, int], s: int = V1_S) -> Grid:
    """YOLO v1: the whole image cut into S x S cells."""
    return Grid(0.0, 0.0, frame_hw[1] / s, frame_hw[0] / s, s, s)


def grid_for(det: Detection, choice: str) -> Grid:
    """The grid the page asked to see: one of the model's three, or YOLO v1's."""
    if choice == GRID_V1:
        return yolo_v1_grid(det.frame_hw)
    return model_grid(det.frame_hw, det.input_hw, int(choice))


def cell_of(boxes_xyxy: np.ndarray, grid: Grid) -> np.ndarray:
    """(row, col) of the cell holding each box's centre -> (N, 2) int, clipped into the grid."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    col = np.floor((cx - grid.x0) / grid.cell_w).astype(int).clip(0, grid.cols - 1)
    row = np.floor((cy - grid.y0) / grid.cell_h).astype(int).clip(0, grid.rows - 1)
    return np.stack([row, col], axis=1)


# ---------------------------------------------------------------- 5. tracking


def tracker_settings() -> dict:
    """ultralytics' ByteTrack settings, from its own bytetrack.yaml (read without importing ultralytics, so the
    tab can hand them to the page at build time): the server's tracker and the page's use the same numbers."""
    import importlib.util

    import yaml

    package = importlib.util.find_spec("ultralytics")
    path = Path(package.submodule_search_locations[0]) / "cfg" / "trackers" / "bytetrack.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def new_tracker():
    """ultralytics' own ByteTrack (Kalman-filter motion, two-stage IoU matching), one per webcam session or
    video: each tracker numbers its objects from 1."""
    zoo.prepare_library()
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    return BYTETracker(IterableSimpleNamespace(**tracker_settings()))


def track_ids(tracker, det: Detection) -> np.ndarray:
    """Feed one frame's kept boxes to `tracker`; the track number of each box (0: not numbered yet, as a new
    object waits one frame to be confirmed). ByteTrack answers rows [x1, y1, x2, y2, id, score, class, index
    of the box in this frame]; the boxes drawn stay the detector's own."""
    from ultralytics.engine.results import Boxes

    data = np.concatenate([det.boxes, det.scores[:, None], det.classes[:, None]], axis=1).astype(np.float32)
    rows = tracker.update(Boxes(data.reshape(-1, 6), det.frame_hw))
    ids = np.zeros(len(det.boxes), dtype=int)
    for row in np.asarray(rows).reshape(-1, 8):
        ids[int(row[7])] = int(row[4])
    return ids


# ---------------------------------------------------------------- 6. the in-browser webcam view's server side


def browser_model(model_name) -> tuple[Path, str]:
    """(the ONNX file of the detector, its model name) for the page that runs YOLO itself, exported on first use
    (`core.zoo.yolo_export`: the very network `models.get` gives the server path). An unknown name means the
    default (the page sends what it has). Raises a Problem when the weights are missing."""
    model_name = model_name if model_name in zoo.yolo_names() else zoo.DEFAULT_YOLO
    return yolo_export.onnx_file(model_name), model_name


def page_frame(data_url) -> bytes:
    """The bytes of a picture the page sent as a data URL ("data:image/png;base64,..."), or a Problem."""
    if not isinstance(data_url, str) or len(data_url) > MAX_PAGE_FRAME_CHARS or not data_url.startswith("data:image/"):
        raise TEXT.problem("bad_frame")
    header, _, payload = data_url.partition(",")
    if not header.endswith(";base64"):
        raise TEXT.problem("bad_frame")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise TEXT.problem("bad_frame") from None


# ---------------------------------------------------------------- 7. in a class: what a page's camera found


def class_report(numbers: dict) -> dict | None:
    """What a page running the detector tells the class (numbers only, already checked by
    core.class_results.numbers_only), read as the lesson keeps it: {"camera": 1 while it runs, "counts": {class
    number: boxes in its last frame}}; None when it is not such a report."""
    counts, n_classes = numbers.get("counts"), len(class_names())
    if not isinstance(counts, dict) or numbers.get("camera") not in (0, 1):
        return None
    kept = {}
    for key, boxes in counts.items():
        if not key.isdigit() or int(key) >= n_classes or isinstance(boxes, bool) or not isinstance(boxes, int) \
                or not 0 <= boxes <= MAX_DET:
            return None
        if boxes:
            kept[str(int(key))] = boxes
    return {"camera": int(numbers["camera"]), "counts": kept}


def class_totals(reports: list[dict]) -> tuple[int, dict[int, int]]:
    """(cameras running, boxes per class number summed over them) of the class's reports."""
    totals: dict[int, int] = {}
    for report in reports:
        for key, boxes in report["counts"].items():
            totals[int(key)] = totals.get(int(key), 0) + boxes
    return sum(report["camera"] for report in reports), totals
